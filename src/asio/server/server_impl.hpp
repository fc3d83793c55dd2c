// The inside of scgi::server, one concept per source file:
//   server.cpp            lifecycle: start, stop, the stop deadline, threads
//   accept_loop.cpp       accepting connections (and the EMFILE back-off),
//                         handing them to slots; on either engine (epoll:
//                         accept4, io_uring: accepts in ../io_ring.cpp's ring)
//   peer_gate.*           which accepted peers are served (options.peers)
//   connection_worker.cpp serving one connection: head, handler, answer, drain
//   slot_pool.*           the connection slots, deadline_sweeper.* timeouts,
//   connection_slot.hpp   one connection's state,
//   log_queue.*           log lines: level filter, rate limit, the log thread,
//   ../request.cpp and ../response_writer.cpp what a handler calls.
// Private to the server.
#pragma once

#include "deadline_sweeper.hpp"
#include "log_queue.hpp"
#include "slot_pool.hpp"

#include <scgi/asio/listen.hpp>
#include <scgi/asio/server.hpp>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

namespace scgi {
namespace detail {
class peer_gate;
}  // namespace detail

// The engine chosen at construction, and why (the start line).
struct engine_choice {
    bool ring = false;  // io_uring, else epoll
    std::string line;
};

// A thread of the io_uring engine's beyond the first (server_options::threads
// > 1): an io_context and a ring of its own, run by that thread alone. Its
// accept loops take connections from the shared listeners into its own ring
// and serve them on this thread: nothing crosses threads per connection.
struct ring_thread {
    ring_thread() : io(1), ring(io, detail::io_ring::settings{}), slot_freed(io), work(io.get_executor()) {}

    asio::io_context io;
    detail::io_ring ring;
    asio::steady_timer slot_freed;  // on io: as server::impl::slot_freed
    // On io: its accept loops' accepts (as server::impl::ring_accept_states).
    std::vector<std::shared_ptr<void>> accept_states;
    // Keeps io.run() going while no connection is in flight; released when
    // the stop completes.
    asio::executor_work_guard<asio::io_context::executor_type> work;
};

// Which executor runs what:
// - control (a strand with several threads on epoll): accept loops, the
//   sweeper, the signals and the stop; the members marked "on control".
//   With the io_uring engine it is the first thread's io_context, and each
//   ring_thread runs accept loops of its own (accept_loop.cpp).
// - each slot's strand: that slot's worker coroutine, its connection and the
//   handler it runs (connection_slot says which of its members are shared).
// - atomics: what both read (counts, the stop request).
struct server::impl {
    impl(handler h, server_options o);

    handler on_request;
    server_options options;
    // Before everything that logs, so it is destroyed after all of it.
    detail::log_queue logs;
    const engine_choice engine;
    asio::io_context io;
    // The io_uring engine's ring (the first thread's); null with epoll.
    // Before the slots, whose connections close through it.
    std::unique_ptr<detail::io_ring> ring;
    // The io_uring engine's other threads (threads - 1 of them); empty with
    // epoll. Before the slots, which run on them.
    std::vector<std::unique_ptr<ring_thread>> ring_threads;
    asio::any_io_executor control;
    detail::slot_pool slots;
    detail::deadline_sweeper sweeper;
    asio::steady_timer slot_freed;     // on control: cancelled when a slot is given back (wake_slot_waiters)
    asio::steady_timer stop_deadline;  // on control
    std::optional<asio::signal_set> signals;
    std::vector<listening_socket> listeners;
    std::vector<endpoint> bound;
    // On control: each io_uring accept loop's accepts (accept_loop.cpp),
    // owned here and not by the loop's frame, which they resume: no cycle
    // keeps a suspended loop alive once the server is gone.
    std::vector<std::shared_ptr<void>> ring_accept_states;

    std::atomic<std::size_t> active{0};
    std::atomic<std::size_t> accepted{0};
    std::atomic<std::uint64_t> connection_ids{0};  // the last id given to a connection
    std::atomic<unsigned> waiting_for_slot{0};  // accept loops waiting at max_connections
    std::atomic<bool> stop_requested{false};
    std::atomic<bool> serving{false};      // accept loops and sweeper started
    bool stop_begun = false;               // on control
    bool stopped = false;                  // on control: the stop has completed
    std::atomic<bool> stop_deadline_passed{false};  // set on control
    std::size_t accept_loops_running = 0;  // on control: listeners not closed yet
    std::vector<std::thread> threads;

    // A line about the server itself (never rate-limited).
    void log(log_level level, std::string_view message) noexcept {
        logs.post(detail::log_event::server, level, [message](detail::log_line_builder& line) { line << message; });
    }
    // `what` followed by what `failure` says.
    void log_failure(detail::log_event kind, log_level level, std::string_view what,
                     std::exception_ptr failure) noexcept {
        logs.post(kind, level, [&](detail::log_line_builder& line) { line << what << detail::describe(failure); });
    }

    // --- Lifecycle (server.cpp) ---
    endpoint add_listener(listening_socket socket);
    void start_serving();
    void warn_if_reuse_port_loses_connections();
    detail::connection_slot* acquire(std::size_t home = 0);
    void release(detail::connection_slot& slot) noexcept;
    void begin_stop();
    void maybe_finish_stop();
    void finish_stop();
    void start_threads(unsigned first);
    void run_thread(unsigned i);

    // --- The engine (server.cpp) ---
    static engine_choice choose_engine(const server_options& options);
    void start_ring_threads();
    // On control: wakes the accept loops waiting for a slot, on every thread.
    void wake_slot_waiters();

    // --- Accepting (accept_loop.cpp) ---
    asio::awaitable<void> accept_loop(listening_socket& listener);
    asio::awaitable<void> accept_loop_through_rings(listening_socket& listener);
    asio::awaitable<bool> accept_through_ring(listening_socket& listener, int family, std::size_t home);
    void wake_ring_accept_loops(std::size_t home);
    int family_or_end(listening_socket& listener);
    asio::awaitable<void> take_queued_then_close(listening_socket::acceptor_type& acceptor, detail::peer_gate& gate,
                                                 int family, bool blocking);
    void end_accept_loop(listening_socket::acceptor_type& acceptor);
    // `home`: the thread accepting (slot_pool's homes; 0 but with the
    // io_uring engine's ring_threads).
    bool hand_over_now(int fd, int family, const sockaddr_storage& peer, std::size_t home = 0);
    asio::awaitable<bool> hand_over_when_free(int fd, int family, sockaddr_storage peer, std::size_t home = 0);
    void start(detail::connection_slot& slot, int fd, int family, const sockaddr_storage& peer);

    // --- Serving a connection (connection_worker.cpp) ---
    asio::awaitable<void> work(detail::connection_slot& c);
    asio::awaitable<std::error_code> read_head(detail::connection_slot& c);
    asio::awaitable<void> refuse(detail::connection_slot& c, std::error_code ec);
    asio::awaitable<void> send_plain(detail::connection_slot& c, int status, std::string_view text);
    asio::awaitable<void> answer_after_handler(detail::connection_slot& c, int status, std::string_view text,
                                               bool receive_body_first = true);
    asio::awaitable<void> run_handler(detail::connection_slot& c);
    bool peer_may_send(const detail::connection_slot& c) const noexcept;
    asio::awaitable<void> drain(detail::connection_slot& c);
};

}  // namespace scgi
