// One timer for every connection's timeouts. Private to the server.
#pragma once

#include "slot_pool.hpp"

#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>

namespace scgi::detail {

// Fires every quarter of the shortest timeout (but no more often than every
// 5 ms, and at least once a second) and cancels the operations whose deadline passed: one timer
// for the whole server instead of a timer per connection (each re-arm would
// be a system call), at the price of timeouts firing up to a quarter late.
// A cancelled operation sees `timed_out` set on its slot and reports its
// timeout error (connection_slot::timeout_or).
//
// Runs on the control executor; touches a slot only through its deadline
// (atomics) and by posting to its strand.
class deadline_sweeper {
public:
    deadline_sweeper(asio::any_io_executor control, slot_pool& slots, const server_options& options)
        : timer_(std::move(control)), slots_(slots), options_(options) {}

    // Starts sweeping; `on_failure` gets an exception that ends the loop.
    template <class OnFailure>
    void start(OnFailure on_failure) {
        asio::co_spawn(timer_.get_executor(), run(), std::move(on_failure));
    }

    // On the control executor: the loop ends at its next wake-up, now.
    void stop() noexcept {
        stopped_ = true;
        timer_.cancel();
    }

private:
    asio::awaitable<void> run();

    asio::steady_timer timer_;
    slot_pool& slots_;
    const server_options& options_;
    bool stopped_ = false;
};

}  // namespace scgi::detail
