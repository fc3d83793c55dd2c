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
/// handlers' executors so that no two of its handlers run at once (an
/// io_context run by one thread, or one strand).
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
    /// than `limit` bytes arrive.
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

// --- the operations ---------------------------------------------------------------

struct client::connect_op {
    client& c;
    std::vector<asio::generic::stream_protocol::endpoint> candidates{};
    std::size_t next = 0;
    enum class phase : std::uint8_t { starting, resolving, connecting, completing };
    phase at = phase::starting;
    std::error_code result{};

    template <class Self>
    void operator()(Self& self, std::error_code ec, const asio::ip::tcp::resolver::results_type& results) {
        for (const auto& entry : results) candidates.emplace_back(entry.endpoint());
        (*this)(self, ec);
    }

    template <class Self>
    void operator()(Self& self, std::error_code ec = {}) {
        detail::io_deadline& deadline = c.write_deadline_;
        switch (at) {
        case phase::completing:
            return self.complete(result);
        case phase::starting:
            self.reset_cancellation_state(asio::enable_partial_cancellation());
            if (c.failure_ || c.socket_.is_open()) return complete_later(self, c.failure_);
            deadline.begin();
            deadline.arm(c.options_.connect_timeout);
            if (const auto invalid = c.unix_or_validate(candidates)) {
                return complete_later(self, c.finish(invalid, deadline, error::connect_timeout));
            }
            if (candidates.empty()) {
                at = phase::resolving;
                auto handler = step(deadline, self);
                // The resolver has no per-operation cancellation: the
                // deadline cancels it as a whole.
                deadline.slot().assign([&resolver = c.resolver_](asio::cancellation_type) { resolver.cancel(); });
                // numeric_service, and no AI_ADDRCONFIG: "[::1]" must resolve
                // on a machine without a global IPv6 address.
                return c.resolver_.async_resolve(c.target_.host(), std::to_string(c.target_.port()),
                                                 asio::ip::resolver_base::numeric_service, std::move(handler));
            }
            break;
        case phase::resolving:
            // A cancelled lookup may report that the name was not found.
            if (ec == asio::error::host_not_found && deadline.interrupted()) ec = asio::error::operation_aborted;
            if (ec) return fail(self, ec);
            if (candidates.empty()) return fail(self, asio::error::host_not_found);
            break;
        case phase::connecting:
            if (!ec) return self.complete(c.finish(ec, deadline, error::connect_timeout));
            // Refused or unreachable: the next address, if any.
            if (ec == asio::error::operation_aborted || next == candidates.size()) return fail(self, ec);
            break;
        }
        if (interrupted(deadline, self)) return fail(self, asio::error::operation_aborted);
        at = phase::connecting;
        std::error_code ignored;
        c.socket_.close(ignored);
        const auto& candidate = candidates[next++];
        c.socket_.async_connect(candidate, step(deadline, self));
    }

    template <class Self>
    void fail(Self& self, std::error_code ec) {
        c.close();
        self.complete(c.finish(ec, c.write_deadline_, error::connect_timeout));
    }

    template <class Self>
    void complete_later(Self& self, std::error_code ec) {
        result = ec;
        at = phase::completing;
        detail::resume_from_stream_executor(c.socket_, std::move(self));
    }
};

// Writes what is left of c.request_head_, then `body`: each write must make
// progress within write_timeout. Connects first if needed.
struct client::write_op {
    client& c;
    std::string_view body;
    std::error_code result;
    bool record_failure;  // false for async_call's write: the call decides
    detail::op_state state = detail::op_state::starting;
    bool connecting = false;

    template <class Self>
    void operator()(Self& self, std::error_code ec = {}, std::size_t written = 0) {
        detail::io_deadline& deadline = c.write_deadline_;
        switch (state) {
        case detail::op_state::completing:
            return self.complete(result);
        case detail::op_state::starting:
            self.reset_cancellation_state(asio::enable_partial_cancellation());
            if (!result) result = c.failure_;
            if (result || (c.head_written_ == c.request_head_.size() && body.empty())) {
                state = detail::op_state::completing;
                return detail::resume_from_stream_executor(c.socket_, std::move(self));
            }
            state = detail::op_state::reading;  // here: connecting or writing
            if (!c.socket_.is_open()) {
                connecting = true;
                return c.async_connect(std::move(self));
            }
            deadline.begin();
            break;
        case detail::op_state::reading:
            if (connecting) {
                connecting = false;
                if (ec) return self.complete(ec);
                deadline.begin();
                break;
            }
            if (ec) return done(self, ec);
            const std::size_t from_head = std::min(written, c.request_head_.size() - c.head_written_);
            c.head_written_ += from_head;
            body.remove_prefix(written - from_head);
            c.body_left_ -= written - from_head;
            if (c.head_written_ == c.request_head_.size() && body.empty()) return done(self, {});
            break;
        }
        if (interrupted(deadline, self)) return done(self, asio::error::operation_aborted);
        deadline.arm(c.options_.write_timeout);
        const std::array<asio::const_buffer, 2> pieces{
            asio::buffer(std::string_view(c.request_head_).substr(c.head_written_)), asio::buffer(body)};
        c.socket_.async_write_some(pieces, step(deadline, self));
    }

    template <class Self>
    void done(Self& self, std::error_code ec) {
        const std::error_code failure = c.failure_;
        ec = c.finish(ec, c.write_deadline_, error::write_timeout);
        if (!record_failure) c.failure_ = failure;
        self.complete(ec);
    }
};

struct client::read_head_op {
    client& c;
    detail::op_state state = detail::op_state::starting;

    template <class Self>
    void operator()(Self& self, std::error_code ec = {}) {
        detail::io_deadline& deadline = c.read_deadline_;
        switch (state) {
        case detail::op_state::completing:
            return self.complete(c.failure_);
        case detail::op_state::starting:
            if (!c.start(self, state)) return;
            deadline.begin();
            c.reading_head_ = true;
            // async_call's head timeout starts once its write has ended.
            if (!c.call_writing_) deadline.arm(c.options_.response_head_timeout);
            return scgi::async_read_response_head(c.socket_, c.buffer_, c.parser_, step(deadline, self));
        case detail::op_state::reading:
            break;
        }
        c.reading_head_ = false;
        self.complete(c.finish(ec, deadline, error::response_head_timeout));
    }
};

struct client::read_body_some_op {
    client& c;
    detail::op_state state = detail::op_state::starting;

    template <class Self>
    void operator()(Self& self, std::error_code ec = {}, std::string_view piece = {}) {
        detail::io_deadline& deadline = c.read_deadline_;
        switch (state) {
        case detail::op_state::completing:
            return self.complete(c.failure_, std::string_view{});
        case detail::op_state::starting:
            if (!c.start(self, state)) return;
            deadline.begin();
            deadline.arm(c.options_.body_timeout);
            return async_read_response_body_some(c.socket_, c.buffer_, step(deadline, self));
        case detail::op_state::reading:
            break;
        }
        ec = c.finish(ec, deadline, error::response_body_timeout);
        self.complete(ec, ec ? std::string_view{} : piece);
    }
};

struct client::read_body_op {
    client& c;
    std::size_t limit;
    std::string body{};
    bool started = false;

    template <class Self>
    void operator()(Self& self, std::error_code ec = {}, std::string_view piece = {}) {
        if (!started) {
            started = true;
            self.reset_cancellation_state(asio::enable_partial_cancellation());
            return c.async_read_body_some(std::move(self));
        }
        if (ec) return self.complete(ec, std::string());
        if (piece.empty()) return self.complete(std::error_code{}, std::move(body));
        if (piece.size() > limit - body.size()) {
            c.failure_ = error::body_too_large;
            return self.complete(c.failure_, std::string());
        }
        body += piece;
        if (self.get_cancellation_state().cancelled() != asio::cancellation_type::none) {
            c.failure_ = asio::error::operation_aborted;
            return self.complete(c.failure_, std::string());
        }
        c.async_read_body_some(std::move(self));
    }
};

// Connects, then writes (a write_op with its own handler) while it reads the
// head and the body; completes once both have ended.
struct client::call_op {
    client& c;
    std::string_view body;
    std::size_t body_limit;
    std::error_code result;
    enum class phase : std::uint8_t { starting, connecting, head, body, waiting, completing };
    phase at = phase::starting;
    std::string received{};

    template <class Self>
    void operator()(Self& self, std::error_code ec, std::string bytes) {
        received = std::move(bytes);
        (*this)(self, ec);
    }

    template <class Self>
    void operator()(Self& self, std::error_code ec = {}) {
        switch (at) {
        case phase::starting:
            self.reset_cancellation_state(asio::enable_partial_cancellation());
            if (!result) result = c.failure_;
            if (result) {
                at = phase::completing;
                return detail::resume_from_stream_executor(c.socket_, std::move(self));
            }
            at = phase::connecting;
            return c.async_connect(std::move(self));
        case phase::connecting:
            if (!ec && self.get_cancellation_state().cancelled() != asio::cancellation_type::none) ec = asio::error::operation_aborted;
            if (ec) return finish(self, ec);
            start_write(self);
            at = phase::head;
            return c.async_read_response_head(std::move(self));
        case phase::head:
            if (ec) {
                if (c.read_cancelled_by_write_) ec = c.call_write_error_;
                return finish(self, ec);
            }
            if (self.get_cancellation_state().cancelled() != asio::cancellation_type::none) return finish(self, asio::error::operation_aborted);
            at = phase::body;
            return c.async_read_body(body_limit, std::move(self));
        case phase::body:
            return finish(self, ec);
        case phase::waiting:
            return finish(self, result);
        case phase::completing:
            break;
        }
        self.complete(result, 0, std::string());
    }

    template <class Self>
    void start_write(Self& self) {
        c.call_writing_ = true;
        c.call_waiting_ = false;
        c.read_cancelled_by_write_ = false;
        c.call_write_error_.clear();
        // Its handler runs where the call's steps run.
        auto handler = asio::bind_executor(asio::get_associated_executor(self, c.socket_.get_executor()),
                                           write_done{&c});
        asio::async_compose<decltype(handler), void(std::error_code)>(write_op{c, body, {}, false}, handler,
                                                                      c.socket_);
    }

    // The read has ended: waits for the write (cancelled if still going), then completes.
    template <class Self>
    void finish(Self& self, std::error_code ec) {
        result = ec;
        if (c.call_writing_) {
            c.write_deadline_.cancel();
            c.call_waiting_ = true;
            at = phase::waiting;
            c.call_event_.expires_at(asio::steady_timer::time_point::max());
            // The wait is for our own write: the caller's cancellation has
            // reached it already through the read.
            return c.call_event_.async_wait(asio::bind_cancellation_slot(asio::cancellation_slot(), std::move(self)));
        }
        c.close();
        if (result) {
            c.failure_ = result;
            return self.complete(result, 0, std::string());
        }
        self.complete(result, c.head().status(), std::move(received));
    }

    struct write_done {
        client* c;
        void operator()(std::error_code ec) const { c->on_call_write_done(ec); }
    };
};

// --- the operations' initiating functions ---------------------------------------------

template <class CompletionToken>
auto client::async_connect(CompletionToken&& token) {
    return asio::async_compose<CompletionToken, void(std::error_code)>(connect_op{*this}, token, socket_);
}

template <class CompletionToken>
auto client::async_write_request(std::span<const header> headers, std::uint64_t body_length, std::string_view body_prefix, CompletionToken&& token) {
    const std::error_code invalid = prepare_request(headers, body_length, body_prefix);
    return asio::async_compose<CompletionToken, void(std::error_code)>(
        write_op{*this, body_prefix, invalid, true}, token, socket_);
}

template <class CompletionToken>
auto client::async_write_body(std::string_view piece, CompletionToken&& token) {
    const std::error_code invalid = prepare_body(piece);
    return asio::async_compose<CompletionToken, void(std::error_code)>(write_op{*this, piece, invalid, true},
                                                                        token, socket_);
}

template <class CompletionToken>
auto client::async_read_response_head(CompletionToken&& token) {
    return asio::async_compose<CompletionToken, void(std::error_code)>(read_head_op{*this}, token, socket_);
}

template <class CompletionToken>
auto client::async_read_body_some(CompletionToken&& token) {
    return asio::async_compose<CompletionToken, void(std::error_code, std::string_view)>(
        read_body_some_op{*this}, token, socket_);
}

template <class CompletionToken>
auto client::async_read_body(std::size_t limit, CompletionToken&& token) {
    return asio::async_compose<CompletionToken, void(std::error_code, std::string)>(
        read_body_op{*this, limit}, token, socket_);
}

template <class CompletionToken>
auto client::async_call(std::span<const header> headers, std::string_view body, std::size_t body_limit, CompletionToken&& token) {
    const std::error_code invalid = prepare_request(headers, body.size(), body);
    return asio::async_compose<CompletionToken, void(std::error_code, int, std::string)>(
        call_op{*this, body, body_limit, invalid}, token, socket_);
}

}  // namespace scgi
