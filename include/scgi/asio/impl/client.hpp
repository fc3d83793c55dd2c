/// @file
/// The operations of `scgi::client` (its templates), included by
/// `scgi/asio/client.hpp`; not to be included on its own.
#pragma once

#include <scgi/asio/client.hpp>

namespace scgi {

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
        if (ec == asio::error::connection_reset && c.body_is_declared_length(body.size())) {
            // The backend closed with some of the request unread: a reset
            // instead of the end of input, after the whole declared body.
            c.failure_.clear();
            return self.complete(std::error_code{}, std::move(body));
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
