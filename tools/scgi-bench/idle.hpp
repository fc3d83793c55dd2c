// Idle mode: open many connections that each start a request and then say
// nothing, hold them, close them: what a server's memory per waiting
// connection is measured with (scripts/bench-e2e).
#pragma once

#include "socket_address.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <string_view>

namespace scgi::tools::bench {

/// What to hold.
struct idle_plan {
    socket_address address;
    unsigned connections = 1;
    /// Sent on each connection once it is open: the start of a request (its
    /// netstring length and ':'), so that the server has accepted it and
    /// waits for the rest (a TCP listener with TCP_DEFER_ACCEPT accepts
    /// nothing before the first byte).
    std::string_view first_bytes;
    std::chrono::nanoseconds hold{0};
    /// The bound on opening them all (a Unix listener whose backlog is full
    /// refuses with EAGAIN until the server accepts: those are retried).
    std::chrono::nanoseconds connect_limit{std::chrono::seconds(10)};
};

/// What happened to them.
struct idle_result {
    std::size_t connected = 0;         // open and holding when the hold began
    std::size_t failed = 0;            // never open (or the first bytes not sent)
    std::size_t closed_by_server = 0;  // the server answered or closed during the hold
    int first_errno = 0;               // why the first one failed
    std::chrono::nanoseconds held{0};  // shorter than planned after request_stop()
};

/// Opens the connections (bounded by `connect_limit`), sends the first bytes,
/// calls `on_holding(connected)`, holds them for `plan.hold` (or until
/// `request_stop()`), then closes them all. Throws std::system_error if the
/// epoll instance cannot be created.
idle_result run_idle(const idle_plan& plan, const std::function<void(std::size_t)>& on_holding);

}  // namespace scgi::tools::bench
