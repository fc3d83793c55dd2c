/// @file
/// An SCGI client: connect to a backend, send one request, read its response.
#pragma once

#include <scgi/asio/detail/compose.hpp>
#include <scgi/asio/endpoint.hpp>
#include <scgi/asio/read_buffer.hpp>
#include <scgi/asio/read_response.hpp>
#include <scgi/error.hpp>
#include <scgi/header.hpp>
#include <scgi/response_head.hpp>
#include <scgi/response_parser.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/compose.hpp>
#include <asio/error.hpp>
#include <asio/generic/stream_protocol.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace scgi {

/// Settings of a `scgi::client`, with their defaults. Every timeout is
/// reported as its own `scgi::error` (`ec == scgi::condition::timed_out`).
struct client_options {
    /// Name resolution plus connection establishment (`error::connect_timeout`).
    std::chrono::milliseconds connect_timeout = std::chrono::seconds(10);
    /// Each write must make progress (the backend takes some bytes) within
    /// this time (`error::write_timeout`): a slow but steady upload is fine.
    std::chrono::milliseconds write_timeout = std::chrono::seconds(30);
    /// The whole response head must arrive within this time
    /// (`error::response_head_timeout`), counted from the start of
    /// `async_read_response_head`, or in `async_call` from the moment the
    /// whole request has been written (a backend may read a large body
    /// before it answers).
    std::chrono::milliseconds response_head_timeout = std::chrono::seconds(30);
    /// Each wait for response body bytes (`error::response_body_timeout`):
    /// a slow but steady body is fine.
    std::chrono::milliseconds body_timeout = std::chrono::seconds(30);
    /// Largest response head accepted (`error::response_head_too_large`).
    std::size_t response_head_limit = response_parser::default_head_limit;
    /// Bytes per socket read; the largest body piece handed out at once.
    std::size_t read_buffer_size = read_buffer::default_capacity;
};

namespace detail {

/// The timeout and cancellation of one direction (reads, or connect and
/// writes) of a client. The operation in flight in that direction binds its
/// socket operations to `slot()`; the timer's expiry and `cancel()` emit a
/// terminal cancellation there. The flags tell the operation, between its
/// steps, that it was interrupted and why. Not part of the public API.
class io_deadline {
public:
    explicit io_deadline(const asio::any_io_executor& executor);
    ~io_deadline();
    io_deadline(const io_deadline&) = delete;
    io_deadline& operator=(const io_deadline&) = delete;

    /// A new operation starts: clears `expired()` and `aborted()`.
    void begin() noexcept;
    /// (Re)starts the timer: on expiry, `expired()` and a cancellation.
    void arm(std::chrono::milliseconds timeout);
    /// Stops the timer; a wakeup already queued does nothing.
    void disarm() noexcept;
    /// Cancels the operation bound to `slot()` now (`aborted()`).
    void cancel() noexcept;
    bool expired() const noexcept;
    bool aborted() const noexcept;
    bool interrupted() const noexcept { return expired() || aborted(); }
    asio::cancellation_slot slot() noexcept;

private:
    struct shared_state;
    asio::steady_timer timer_;
    // Shared with the timer's handler, which may run after the client is gone.
    std::shared_ptr<shared_state> state_;
};

}  // namespace detail

/// One SCGI exchange with a backend, as a front end does it: connect, write
/// the request (headers, then the body at once or in pieces), read the CGI
/// response head, then the body until the backend closes the connection.
/// SCGI carries one request per connection, so a client object serves one
/// request; make another for the next.
///
/// Every operation takes an Asio completion token, as Asio's own operations
/// do: a callback, `asio::use_future`, `asio::use_awaitable`, or
/// `asio::experimental::as_tuple(asio::use_awaitable)` to get the error as a
/// value in a coroutine:
///
///     scgi::client c(executor, scgi::endpoint::parse("unix:/run/app.sock"));
///     auto [ec, status, body] = co_await c.async_call(
///         headers, "", 1 << 20, asio::experimental::as_tuple(asio::use_awaitable));
///
/// There is no default token: the client's executor type
/// (`asio::any_io_executor`) names none.
///
/// Errors: every failure is a `std::error_code` passed to the handler, never
/// thrown by the client (a `use_awaitable` or `use_future` token turns it
/// into an exception; `as_tuple` does not): the socket's errors;
/// `error::connect_timeout`, `error::write_timeout`,
/// `error::response_head_timeout` and `error::response_body_timeout` for the
/// timeouts of `client_options` (`ec == scgi::condition::timed_out`); the
/// encoder's errors for bad headers; the response parser's for a malformed
/// response; `asio::error::operation_aborted` for a cancellation. After an
/// error every later operation reports it again: the client is done.
///
/// Operations never complete inside the initiating call. Each one honours
/// the cancellation slot bound to its handler (`asio::bind_cancellation_slot`)
/// for terminal and partial cancellation: the operation completes promptly
/// with `asio::error::operation_aborted`, and the client is done.
///
/// Not thread-safe: start one operation at a time (`async_call` runs its
/// own write and read side by side), and run the client's executor and the
/// handlers' executors so that no two of its handlers run at once: an
/// io_context run by one thread, or construct the client on the strand its
/// caller runs on.
class client {
public:
    /// The executor of the socket and timers.
    using executor_type = asio::any_io_executor;

    /// A client for `target`, its socket and timers on `executor`. Opens and
    /// resolves nothing yet: `async_connect`, `async_write_request` or
    /// `async_call` do.
    client(executor_type executor, endpoint target, client_options options = {});

    /// Must not be destroyed with an operation in flight (as Asio's I/O objects).
    ~client();

    client(const client&) = delete;
    client& operator=(const client&) = delete;

    /// The executor given to the constructor.
    executor_type get_executor() noexcept;

    /// Resolves the target (TCP) and connects, trying each address in turn,
    /// all within `connect_timeout`. Does nothing if connected already.
    /// Completion signature: `void(std::error_code)`.
    template <class CompletionToken>
    auto async_connect(CompletionToken&& token);

    /// Writes the request head for `headers` (CONTENT_LENGTH and SCGI are
    /// added; see `scgi::encode_request`) and `body_prefix`, the first bytes
    /// of a body of `body_length` bytes; `async_write_body` writes the rest.
    /// Connects first if needed. `headers` are encoded before this returns;
    /// `body_prefix` must stay valid until completion.
    /// Completion signature: `void(std::error_code)`.
    template <class CompletionToken>
    auto async_write_request(std::span<const header> headers, std::uint64_t body_length,
                             std::string_view body_prefix, CompletionToken&& token);

    /// Writes more of the body announced by `async_write_request`
    /// (`error::content_length_mismatch` if it would pass `body_length`).
    /// `piece` must stay valid until completion.
    /// Completion signature: `void(std::error_code)`.
    template <class CompletionToken>
    auto async_write_body(std::string_view piece, CompletionToken&& token);

    /// Reads and parses the response head, within `response_head_timeout`.
    /// Completion signature: `void(std::error_code)`; then `head()` is ready.
    template <class CompletionToken>
    auto async_read_response_head(CompletionToken&& token);

    /// The parsed response head. Precondition: `async_read_response_head`
    /// (or `async_call`) succeeded.
    const response_head& head() const noexcept { return parser_.head(); }

    /// The next piece of the response body, each wait within `body_timeout`.
    /// Completion signature: `void(std::error_code, std::string_view piece)`:
    /// non-empty bytes (valid until the next read), or empty once the
    /// backend has closed the connection (the body is complete).
    template <class CompletionToken>
    auto async_read_body_some(CompletionToken&& token);

    /// The rest of the body as a string; `error::body_too_large` once more
    /// than `limit` bytes arrive. A backend that answers in full and closes
    /// without reading the whole request body makes its system reset the
    /// connection where the end of input would be: a body as long as the
    /// head's `Content-Length` is complete all the same (without one, or
    /// shorter, the reset is `connection_reset`).
    /// Completion signature: `void(std::error_code, std::string body)`.
    template <class CompletionToken>
    auto async_read_body(std::size_t limit, CompletionToken&& token);

    /// The whole exchange: connects if needed, writes `headers` and `body`
    /// and, at the same time, reads the head and a body of at most
    /// `body_limit` bytes; then closes. Reading while writing means a
    /// backend that answers before it has read the whole body (a streaming
    /// handler, an early 413) cannot stall the exchange: a response that
    /// arrives complete is the result even if the backend stopped reading
    /// the body (the write's error, EPIPE or ECONNRESET, is then dropped).
    /// Until the response head has arrived a write that stalls for
    /// `write_timeout` fails the call (`error::write_timeout`); the head
    /// timeout runs from the end of the write. `body` must stay valid until
    /// completion. The head stays available through `head()`.
    /// Completion signature: `void(std::error_code, int status, std::string body)`.
    template <class CompletionToken>
    auto async_call(std::span<const header> headers, std::string_view body, std::size_t body_limit,
                    CompletionToken&& token);

    /// Closes the connection (idempotent).
    void close() noexcept;

    /// The endpoint given to the constructor.
    const endpoint& target() const noexcept { return target_; }

private:
    using socket_type = asio::generic::stream_protocol::socket;

    struct connect_op;
    struct write_op;
    struct read_head_op;
    struct read_body_some_op;
    struct read_body_op;
    struct call_op;

    // Compiled in client.cpp: everything that does not depend on a handler.
    std::error_code prepare_request(std::span<const header> headers, std::uint64_t body_length,
                                    std::string_view body_prefix);
    std::error_code prepare_body(std::string_view piece) noexcept;
    std::error_code unix_or_validate(std::vector<asio::generic::stream_protocol::endpoint>& candidates);
    std::error_code finish(std::error_code ec, detail::io_deadline& deadline, error timeout) noexcept;
    void on_call_write_done(std::error_code ec);
    // True if `received` body bytes are what the response head's
    // Content-Length declares.
    bool body_is_declared_length(std::size_t received) const noexcept;

    // Starts a step of `self` on `deadline`: the caller's cancellation reaches
    // it through the deadline, as the deadline's expiry does.
    template <class Self>
    static auto step(detail::io_deadline& deadline, Self& self) {
        if (auto slot = self.get_cancellation_state().slot(); slot.is_connected()) {
            slot.assign([&deadline](asio::cancellation_type) { deadline.cancel(); });
        }
        return asio::bind_cancellation_slot(deadline.slot(), std::move(self));
    }

    // The start of a read: takes the caller's partial cancellation too, and
    // false if the client failed already (then `self` reports the failure
    // from the `completing` state, posted: never inside the initiating call).
    template <class Self>
    bool start(Self& self, detail::op_state& state) {
        self.reset_cancellation_state(asio::enable_partial_cancellation());
        if (!failure_) {
            state = detail::op_state::reading;
            return true;
        }
        state = detail::op_state::completing;
        detail::resume_from_stream_executor(socket_, std::move(self));
        return false;
    }

    // Whether the step about to start must not: cancelled or timed out
    // between two steps.
    template <class Self>
    static bool interrupted(const detail::io_deadline& deadline, const Self& self) noexcept {
        return deadline.interrupted() || self.get_cancellation_state().cancelled() != asio::cancellation_type::none;
    }

    endpoint target_;
    client_options options_;
    socket_type socket_;
    asio::ip::tcp::resolver resolver_;
    detail::io_deadline read_deadline_;
    detail::io_deadline write_deadline_;  // connect, then writes
    asio::steady_timer call_event_;       // wakes async_call when its write ends
    read_buffer buffer_;
    response_parser parser_;
    std::string request_head_;     // the encoded netstring being written
    std::size_t head_written_ = 0;
    std::uint64_t body_left_ = 0;  // body bytes announced and not yet written
    std::error_code failure_;      // sticky

    // async_call's write, running beside its read.
    bool call_writing_ = false;
    bool call_waiting_ = false;          // the call waits on call_event_ for the write
    bool reading_head_ = false;
    bool read_cancelled_by_write_ = false;
    std::error_code call_write_error_;
};

}  // namespace scgi

#include <scgi/asio/impl/client.hpp>
