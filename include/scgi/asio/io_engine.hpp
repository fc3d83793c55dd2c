/// @file
/// Which kernel interface a server moves its bytes through.
#pragma once

#include <string_view>

namespace scgi {

/// How a server accepts connections and moves their bytes
/// (`server_options::engine`). The handler API is the same with each.
enum class io_engine {
    /// io_uring where the kernel and the process allow it, epoll otherwise
    /// (a kernel before 5.19, `kernel.io_uring_disabled`, a seccomp profile
    /// that blocks io_uring_setup, as container runtimes' defaults do). The
    /// server logs which one runs and why at start. The environment variable
    /// `SCGI_IO_ENGINE` (`epoll` or `io_uring`) overrides this choice, and
    /// only this one: for operators and for running a test suite on each.
    automatic,
    /// Each connection's reads and writes are tried at once and wait in the
    /// reactor (epoll) only if they would block: four system calls per
    /// request behind a front end (accept4, recv, sendmsg, close).
    epoll,
    /// Accepts, reads (into buffers owned by the ring), writes and closes
    /// are submission entries, sent to the kernel in one io_uring_enter per
    /// batch of ready work; completions are read from shared memory. Each
    /// of the server's threads (`server_options::threads`) has a ring and an
    /// io_context of its own, takes connections from the listeners into its
    /// ring and serves them itself: nothing crosses threads per connection,
    /// but a handler that blocks its thread holds up that thread's
    /// connections (and the accepts its ring has taken), which another
    /// thread does not take over (and on the first thread, the timeouts,
    /// signals and the stop, which run there). So with several threads
    /// `automatic` picks epoll, where every thread serves any connection;
    /// ask for io_uring for the other trade. The server fails to start if
    /// io_uring cannot be set up.
    io_uring,
};

/// "automatic", "epoll" or "io_uring".
constexpr std::string_view to_string(io_engine engine) noexcept {
    switch (engine) {
    case io_engine::epoll: return "epoll";
    case io_engine::io_uring: return "io_uring";
    default: return "automatic";
    }
}

}  // namespace scgi
