// Running an io_context in a test until a condition holds, bounded in time.
#pragma once

#include <asio/io_context.hpp>

#include <gtest/gtest.h>

#include <chrono>

namespace scgi::test {

// Runs `io` until `done()` or 10 s, so a bug cannot hang the suite; fails the
// test if `done()` never held.
template <class Done>
void run_until(asio::io_context& io, Done done) {
    using namespace std::chrono_literals;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
        io.run_for(20ms);
        if (io.stopped()) io.restart();
    }
    ASSERT_TRUE(done()) << "not done within 10 s";
}

// The same for a flag an operation's handler sets.
inline void run_until(asio::io_context& io, const bool& done) {
    run_until(io, [&done] { return done; });
}

}  // namespace scgi::test
