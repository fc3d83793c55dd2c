/// @file
/// An SCGI server: listens, parses and validates requests, runs a handler
/// coroutine per request, answers errors itself, stops gracefully.
#pragma once

#include <scgi/asio/endpoint.hpp>
#include <scgi/asio/request.hpp>
#include <scgi/asio/response.hpp>
#include <scgi/asio/response_writer.hpp>
#include <scgi/asio/server_options.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <system_error>
#include <vector>

namespace scgi {

/// The handler's full form: read the request (body as a stream) and write
/// the response (head, body pieces) with the writer.
using handler = std::function<asio::awaitable<void>(request&, response_writer&)>;

/// The simple form: return the whole response.
using simple_handler = std::function<asio::awaitable<response>(request&)>;

/// An SCGI server on any number of TCP and Unix endpoints.
///
///     scgi::server server([](scgi::request& req) -> asio::awaitable<scgi::response> {
///         co_return scgi::response::text(200, "hello from " + std::string(req.head().path()));
///     });
///     server.listen(scgi::endpoint::parse("127.0.0.1:4000"));
///     server.run();  // until SIGINT/SIGTERM or stop()
///
/// Per connection it reads and validates the head (limits and timeouts from
/// `server_options`), then runs the handler. It answers on its own:
/// 400 for a malformed request (the body names the broken rule), 431 for a
/// head over the limits, 413 for a body over `limits.body_bytes`, 408 for a
/// head that did not arrive in time, 500 if the handler throws or returns
/// without answering — each with a log line. Then it closes the connection
/// (SCGI carries one request per connection).
///
/// Thread safety: `stop()` and the accessors may be called from any thread;
/// the rest from one thread, before `run()`/`start()`.
class server {
public:
    /// A server with the full handler form. Throws std::invalid_argument for
    /// an empty handler or options out of range (threads or max_connections
    /// 0, zero timeouts, a zero read buffer).
    explicit server(handler on_request, server_options options = {});

    /// A server with the simple handler form.
    explicit server(simple_handler on_request, server_options options = {});

    /// Stops (gracefully, within `stop_timeout`) and joins the threads.
    ~server();

    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Listens on `where` and returns where it listens (for TCP port 0, the
    /// port the system chose). Unix sockets: see `scgi::listen` for stale
    /// socket files and the file mode; the file is removed on clean stop.
    /// Errors as `scgi::listen`; the throwing overload throws std::system_error.
    endpoint listen(const endpoint& where, std::error_code& ec);
    /// As above, but throws `std::system_error`; for start-up code.
    endpoint listen(const endpoint& where);

    /// Adopts the listening sockets systemd passed (LISTEN_FDS/LISTEN_PID), so
    /// a restart drops no connection. Returns how many; 0 if not activated.
    /// `error::socket_activation_invalid` for malformed variables or
    /// descriptors that are not listening stream sockets.
    std::size_t adopt_activated_sockets(std::error_code& ec);
    /// As above, but throws `std::system_error`.
    std::size_t adopt_activated_sockets();

    /// Adopts one already-listening socket descriptor (the server owns it
    /// from now on).
    endpoint adopt(int listening_fd, std::error_code& ec);
    /// As above, but throws `std::system_error`.
    endpoint adopt(int listening_fd);

    /// Where the server listens, in the order added.
    std::vector<endpoint> endpoints() const;

    /// Serves on `options.threads` threads (this one included) until stopped:
    /// by `stop()`, or SIGINT/SIGTERM when `handle_signals`. Returns when every
    /// connection has finished (those left at the stop deadline are shut down
    /// and their handlers cancelled).
    /// Throws std::logic_error if nothing is listening.
    void run();

    /// Like `run()` but on background threads; returns at once. Use `wait()`.
    void start();

    /// Blocks until the threads started by `start()` have finished.
    void wait();

    /// Stops gracefully: no new connections; in-flight requests get
    /// `stop_timeout` to finish, then their connections are shut down; Unix socket
    /// files are removed. Returns at once; any thread; idempotent.
    void stop() noexcept;

    /// Connections being served now.
    std::size_t active_connections() const noexcept;

    /// Connections accepted since the start.
    std::size_t connections_accepted() const noexcept;

    /// The executor of the server's `io_context`, whose threads
    /// (`server_options::threads`) run everything: for the program's own
    /// work beside the connections (a timer that refreshes a cache, say).
    /// It is not a connection's executor: with several threads each
    /// connection runs on a strand of its own, and a handler gets it with
    /// `co_await asio::this_coro::executor`. (On the io_uring engine with
    /// several threads, each thread runs an io_context of its own; this is
    /// the first thread's, and a handler's executor is its thread's.)
    asio::any_io_executor get_executor() const noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace scgi
