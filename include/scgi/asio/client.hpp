/// @file
/// An SCGI client: connect to a backend, send one request, read its response.
#pragma once

#include <scgi/asio/endpoint.hpp>
#include <scgi/asio/read_buffer.hpp>
#include <scgi/header.hpp>
#include <scgi/response_head.hpp>
#include <scgi/response_parser.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/generic/stream_protocol.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>

namespace scgi {

/// Settings of a `scgi::client`, with their defaults.
struct client_options {
    /// Name resolution plus connection establishment.
    std::chrono::milliseconds connect_timeout = std::chrono::seconds(10);
    /// Each write of the request, and each wait for response bytes.
    std::chrono::milliseconds io_timeout = std::chrono::seconds(30);
    /// Largest response head accepted (`error::response_head_too_large`).
    std::size_t response_head_limit = response_parser::default_head_limit;
    /// Bytes per socket read; the largest body piece handed out at once.
    std::size_t read_buffer_size = read_buffer::default_capacity;
};

/// One SCGI exchange with a backend, as a front end does it: connect, write
/// the request (headers, then the body at once or in pieces), read the CGI
/// response head, then the body until the backend closes the connection.
/// SCGI carries one request per connection, so a client object serves one
/// request; make another for the next.
///
///     scgi::client c(executor, scgi::endpoint::parse("unix:/run/app.sock"));
///     auto [ec, status, body] = co_await c.call({{"REQUEST_METHOD", "GET"},
///                                                {"REQUEST_URI", "/"}}, "", 1 << 20);
///
/// Every error is returned as a `std::error_code`, never thrown: the socket's
/// errors, `error::connect_timeout` and `error::write_timeout` /
/// `error::body_timeout` for the timeouts (`ec == scgi::condition::timed_out`),
/// the encoder's errors for bad headers, the response parser's for a
/// malformed response. After an error the client is unusable.
///
/// Not thread-safe: use it from one coroutine, on an executor that does not
/// run its handlers concurrently (an io_context run by one thread, or a strand).
class client {
public:
    /// A client for `target`, its socket and timers on `executor`. Opens and
    /// resolves nothing yet: `connect`, `write_request` or `call` do.
    client(asio::any_io_executor executor, endpoint target, client_options options = {});

    /// Must not be destroyed with an operation in flight (as Asio's I/O objects).
    ~client();

    client(const client&) = delete;
    client& operator=(const client&) = delete;

    /// Resolves the target (TCP) and connects, trying each address in turn,
    /// all within `connect_timeout`.
    asio::awaitable<std::error_code> connect();

    /// Writes the request head for `headers` (CONTENT_LENGTH and SCGI are
    /// added; see `scgi::encode_request`) and `body_prefix`, the first bytes
    /// of a body of `body_length` bytes. Connects first if needed.
    asio::awaitable<std::error_code> write_request(std::span<const header> headers, std::uint64_t body_length,
                                                   std::string_view body_prefix = {});

    /// Writes more of the body announced by `write_request`.
    /// `error::content_length_mismatch` if it would pass `body_length`.
    asio::awaitable<std::error_code> write_body(std::string_view piece);

    /// Reads and parses the response head. Precondition: the whole body was
    /// written (the backend may answer earlier; reading then is fine too).
    asio::awaitable<std::error_code> read_response_head();

    /// The parsed response head. Precondition: `read_response_head` succeeded.
    const response_head& head() const noexcept { return parser_.head(); }

    /// The next piece of the response body: non-empty bytes (valid until the
    /// next call), or empty once the backend has closed the connection.
    asio::awaitable<std::tuple<std::error_code, std::string_view>> read_body_some();

    /// The rest of the body as a string; `error::body_too_large` once more
    /// than `limit` bytes arrive.
    asio::awaitable<std::tuple<std::error_code, std::string>> read_body(std::size_t limit);

    /// The whole exchange: connect, write `headers` and `body`, read the head
    /// and a body of at most `body_limit` bytes. Returns the error, the status
    /// code and the body; the head stays available through `head()`.
    asio::awaitable<std::tuple<std::error_code, int, std::string>> call(std::span<const header> headers,
                                                                        std::string_view body,
                                                                        std::size_t body_limit);

    /// Closes the connection (idempotent).
    void close() noexcept;

    /// The endpoint given to the constructor.
    const endpoint& target() const noexcept { return target_; }

private:
    using socket_type = asio::generic::stream_protocol::socket;

    // What the timer's handler may look at even after the client is gone.
    struct timer_state {
        std::uint64_t generation = 0;  // bumped by disarm() and the destructor
        bool timed_out = false;
    };

    void arm(std::chrono::milliseconds timeout);
    void watch(std::uint64_t generation);
    void disarm() noexcept;
    std::error_code fail(std::error_code ec, error timeout_error) noexcept;

    endpoint target_;
    client_options options_;
    socket_type socket_;
    asio::ip::tcp::resolver resolver_;
    asio::steady_timer timer_;
    std::shared_ptr<timer_state> timer_state_ = std::make_shared<timer_state>();
    read_buffer buffer_;
    response_parser parser_;
    std::uint64_t body_left_ = 0;  // body bytes announced and not yet written
    std::error_code failure_;      // sticky
};

}  // namespace scgi
