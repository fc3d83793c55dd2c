// Serving one connection: its head, the handler, the answer, the drain.
#include "server_impl.hpp"

#include <scgi/status.hpp>

#include <asio/post.hpp>
#include <asio/this_coro.hpp>

#include <cstring>
#include <exception>
#include <span>
#include <string>
#include <tuple>
#include <vector>

namespace scgi {
namespace detail {

// Builds the handler's views of a slot (their constructors are private).
struct server_access {
    static request make_request(connection_slot& slot) noexcept { return request(slot); }
    static response_writer make_writer(connection_slot& slot) noexcept { return response_writer(slot); }
};

namespace {

// How long, and how many bytes, the server keeps reading after its answer
// when the front end may still be sending: closing a socket with unread
// input sends a reset, which can make the front end lose the answer.
constexpr std::chrono::milliseconds linger_time{2000};
constexpr std::size_t linger_bytes = 1024 * 1024;

// The bytes of a request head are read here first, one buffer per thread:
// the parser copies the head into its own storage anyway, so a connection
// waiting for its head holds no read buffer. (This is why the server does
// not use async_read_request_head, which reads into the connection's
// buffer.) Only bytes after the head (the start of the body) move on to the
// connection's own buffer.
std::span<char> head_scratch(std::size_t size) {
    thread_local std::vector<char> scratch;
    if (scratch.size() < size) scratch.resize(size);
    return {scratch.data(), size};
}

// Gives the parser bytes of the head: `need_more` if it is still
// incomplete, the parser's error, or none once the head is parsed (then the
// bytes after it, the start of the body, are in the request's buffer).
std::error_code put_head_bytes(request_state& r, std::string_view input) {
    std::error_code ec;
    input.remove_prefix(r.parser.put(input, ec));
    if (ec) return ec;
    // The head is parsed; the rest is body (at most a buffer's worth).
    if (!input.empty()) {
        const auto space = r.buffer.prepare();
        std::memcpy(space.data(), input.data(), input.size());
        r.buffer.commit(input.size());
    }
    return {};
}

// Feeds the parser the head bytes that have arrived, without waiting, until
// the socket has no more (so a wait for input may follow). `need_more` if
// the head is still incomplete; no error once it is parsed, with any bytes
// after it moved to the request's buffer; `partial_request` if the peer
// closed first; the parser's or the socket's error otherwise.
std::error_code read_head_now(connection_slot& c) {
    request_state& r = c.request;
    const std::span<char> scratch = head_scratch(r.buffer.capacity());
    for (;;) {
        std::error_code ec;
        const std::size_t n = c.conn.read_some(asio::buffer(scratch.data(), scratch.size()), ec);
        if (ec == asio::error::would_block) return error::need_more;
        if (ec == asio::error::eof) r.parser.put_eof(ec);
        if (ec) return ec;
        ec = put_head_bytes(r, std::string_view(scratch.data(), n));
        if (ec != error::need_more) return ec;
    }
}

// The rest of the head, once `read_head_now` found it incomplete: waits for
// input under head_timeout and reads what comes as it comes.
asio::awaitable<std::error_code> wait_for_head(connection_slot& c) {
    std::error_code ec = error::need_more;
    if (!c.request.parser.is_started()) {
        // Accepted before its first byte (front ends write right after
        // connecting). Let the work already queued run, then look once more:
        // usually cheaper than registering the connection with epoll to wait
        // for bytes that are on their way.
        co_await asio::post(c.strand, asio::use_awaitable);
        ec = read_head_now(c);
        if (ec != error::need_more) co_return ec;
    }
    c.arm(c.options.head_timeout);
    while (ec == error::need_more) {
        std::tie(ec) = co_await c.conn.async_wait(asio::socket_base::wait_read, use_tuple);
        if (!ec) ec = read_head_now(c);
    }
    c.disarm();
    co_return c.timeout_or(ec, error::head_timeout);
}

// The io_uring engine's rest of the head, once `read_head_now` found it
// incomplete: each read waits in the ring and lands in one of the ring's
// buffers (a connection waiting for its head holds none), is parsed, and the
// buffer goes back at once.
asio::awaitable<std::error_code> read_head_through_ring(connection_slot& c) {
    request_state& r = c.request;
    io_ring& ring = *c.conn.ring();
    std::error_code ec = error::need_more;
    c.arm(c.options.head_timeout);
    while (ec == error::need_more) {
        // At most the request buffer's capacity, as the epoll engine reads:
        // the bytes after the head must fit in it.
        auto [read_error, n, flags] = co_await c.conn.async_receive_provided(r.buffer.capacity(), use_tuple);
        if (read_error == asio::error::no_buffer_space) {
            // Every ring buffer is taken (as many connections are between
            // their head's arrival and its parsing): wait, then read into
            // the thread's buffer, as the epoll engine does.
            std::tie(ec) = co_await c.conn.async_wait(asio::socket_base::wait_read, use_tuple);
            if (!ec) ec = read_head_now(c);
            continue;
        }
        if (read_error == asio::error::eof) {
            ring.give_back(flags);  // (none is taken for no bytes, but if one were)
            r.parser.put_eof(ec);
            break;
        }
        if (read_error) {
            ring.give_back(flags);
            ec = read_error;
            break;
        }
        try {
            ec = put_head_bytes(r, std::string_view(ring.provided(flags, n).data(), n));
        } catch (...) {
            ring.give_back(flags);  // (the first body bytes' buffer may fail to allocate)
            throw;
        }
        ring.give_back(flags);
    }
    c.disarm();
    co_return c.timeout_or(ec, error::head_timeout);
}

}  // namespace
}  // namespace detail

using detail::connection_slot;

// One per slot, for the server's life: serves the connections the accept
// loop hands to the slot, one after another. A coroutine per slot rather
// than per connection: no coroutine start-up per request.
asio::awaitable<void> server::impl::work(connection_slot& c) {
    // After the stop deadline cancels a connection, later co_awaits (the
    // answer, the close) must return errors, not throw.
    co_await asio::this_coro::throw_if_cancelled(false);
    for (;;) {
        if (!c.conn.is_open()) {
            if (c.retired) co_return;
            co_await c.next_connection();
            continue;
        }
        c.id = connection_ids.fetch_add(1, std::memory_order_relaxed) + 1;
        // A fresh cancellation state per connection: the stop deadline's
        // cancellation, or a handler's throw_if_cancelled(true), must not
        // carry over to the next connection on this slot.
        co_await asio::this_coro::reset_cancellation_state();
        co_await asio::this_coro::throw_if_cancelled(false);
        std::exception_ptr failure;
        try {
            // The whole head is usually there already: parsed without waiting.
            std::error_code ec = detail::read_head_now(c);
            // (Not a conditional expression of two co_awaits: built by g++ 12
            // one stalled requests.)
            if (ec == error::need_more && c.conn.ring()) {
                ec = co_await detail::read_head_through_ring(c);
            } else if (ec == error::need_more) {
                ec = co_await detail::wait_for_head(c);
            }
            // Cut by the stop deadline while its head arrived: a shut-down
            // socket still returns what was received, but no handler may
            // start after the deadline.
            // (Or handed over after the deadline: with the io_uring engine's
            // threads a handover to another thread's slot may arrive after
            // the deadline's cut of that slot.)
            if (!ec && (c.cancelled || stop_deadline_passed)) ec = asio::error::operation_aborted;
            if (ec) {
                co_await refuse(c, ec);
            } else {
                co_await run_handler(c);
            }
            // Drain only a peer that is still there (not after an end of
            // input, a reset or a timeout).
            const bool answered = !ec || status_for(ec) != 0;
            if (answered && c.conn.is_open() && peer_may_send(c)) co_await drain(c);
        } catch (...) {
            failure = std::current_exception();
        }
        if (failure) {
            c.log(detail::log_event::internal_failure, log_level::error,
                  [&](auto& line) { line << "connection failed: " << detail::describe(failure); });
        }
        release(c);
    }
}

// Answers a request that failed before the handler, if anyone is there to
// read the answer.
asio::awaitable<void> server::impl::refuse(connection_slot& c, std::error_code ec) {
    if (ec == error::partial_request) {
        // A connection closed before a whole head: health checks do this
        // with no byte at all, which is not worth a line.
        if (c.request.parser.is_started()) {
            c.log(detail::log_event::peer_closed_early, log_level::warning,
                  [&](auto& line) { line << "peer closed mid-request: " << ec; });
        }
        co_return;
    }
    const int status = status_for(ec);
    if (status == 0) {
        // A reset before any byte is a probe or health check that closes
        // abortively: no more worth a line than a close without a byte (and
        // a flood of them would flood the log).
        const bool probe = ec == asio::error::connection_reset && !c.request.parser.is_started();
        if (ec != asio::error::operation_aborted && !probe) {
            c.log(detail::log_event::read_failed, log_level::warning,
                  [&](auto& line) { line << "reading request: " << ec; });
        }
        co_return;
    }
    c.log(ec == error::head_timeout ? detail::log_event::head_timeout : detail::log_event::bad_request,
          log_level::warning, [&](auto& line) { line << status << " " << reason_phrase(status) << ": " << ec; });
    co_await send_plain(c, status, ec.message());
}

// A whole plain-text answer of the server's own.
asio::awaitable<void> server::impl::send_plain(connection_slot& c, int status, std::string_view text) {
    response_head head;
    head.set_status(status);  // status is one of ours: valid
    head.add("Content-Type", "text/plain; charset=utf-8");
    std::string& out = c.response.out;
    out.clear();
    head.serialize(out, text.size() + 1);
    out += text;
    out += '\n';
    std::array<asio::const_buffer, 2> buffers{asio::buffer(out), asio::const_buffer{}};
    std::error_code ec;
    if (!detail::write_all_now(c, buffers, ec)) ec = co_await detail::write_all_rest(c, buffers);
    // A write timeout has its own line (write_all_rest).
    if (ec && ec != asio::error::operation_aborted && ec != error::write_timeout) {
        c.log(detail::log_event::answer_failed, log_level::warning,
              [&](auto& line) { line << "writing " << status << " answer: " << ec; });
    }
}

// Answers for a handler that could not (it threw, returned without a
// response, or its response was refused). A held-back head is dropped. The
// rule holds for the server's own answers too: with `receive_body_first`,
// the rest of the body is received first, and dropped, unless it is over the
// spool's limit or its reading failed (then the answer goes now, and the
// drain after it takes what still comes before the connection closes).
asio::awaitable<void> server::impl::answer_after_handler(connection_slot& c, int status, std::string_view text,
                                                         bool receive_body_first) {
    c.response.head_pending = false;
    if (receive_body_first && c.must_receive_body_first() &&
        c.request.parser.body_remaining() <= options.spool.max_bytes) {
        // An error here means nobody is left to answer (or the front end
        // idled past body_timeout).
        const std::error_code ec = co_await detail::receive_rest_of_body(c, false);
        if (ec) co_return;
    }
    co_await send_plain(c, status, text);
}

asio::awaitable<void> server::impl::run_handler(connection_slot& c) {
    request req = detail::server_access::make_request(c);
    response_writer writer = detail::server_access::make_writer(c);
    std::exception_ptr failure;
    try {
        co_await on_request(req, writer);
    } catch (...) {
        failure = std::current_exception();
    }
    const request_head& head = c.request.parser.head();
    detail::response_state& r = c.response;
    if (failure) {
        const bool cancelled_at_stop = stop_requested && c.cancelled;
        c.log(detail::log_event::handler_failed, cancelled_at_stop ? log_level::warning : log_level::error,
              [&](auto& line) {
                  line << (cancelled_at_stop ? "handler cancelled at the stop deadline on " : "handler threw on ")
                       << head.method() << " " << head.uri() << ": " << detail::describe(failure);
              });
        if (r.nothing_sent()) {
            co_await answer_after_handler(c, 500, "Internal Server Error");
        } else {
            // Part of the answer went out: end with a reset, so the front end
            // sees a failure rather than a complete, truncated answer.
            c.conn.reset();
        }
        co_return;
    }
    if (!r.head_written) {
        c.log(detail::log_event::handler_failed, log_level::error, [&](auto& line) {
            line << "handler returned without a response on " << head.method() << " " << head.uri();
        });
        co_await answer_after_handler(c, 500, "Internal Server Error");
        co_return;
    }
    // Sends a head still held back; it may itself wait for the body.
    // Its error, if any, is r.write_error: handled below and by peer_may_send.
    if (r.head_pending && !r.write_error) (void)co_await writer.finish();
    if (r.refusal_status != 0 && r.nothing_sent()) {
        // The response was refused (and logged) while it waited for the
        // body: the server answers instead. The body names the cause, except
        // a failure of our own disk. (A named string: g++ 12 may destroy a
        // temporary in a co_await expression twice.)
        const bool ours = r.refusal_status == 500;
        const std::string text = ours ? std::string("Internal Server Error") : r.write_error.message();
        co_await answer_after_handler(c, r.refusal_status, text, /*receive_body_first=*/ours);
    }
}

// True if the front end may still be sending once our answer is complete: a
// body the handler did not read, or bytes after a refused head. Closing a
// socket with unread input resets the connection, which can make the front
// end lose the answer.
bool server::impl::peer_may_send(const connection_slot& c) const noexcept {
    // (A handler that wrote past its Content-Length broke no socket.)
    const bool socket_failed = c.response.write_error && c.response.refusal_status == 0 &&
                               c.response.write_error != error::content_length_mismatch;
    return (!c.request.parser.is_done() || !c.request.buffer.empty()) && !socket_failed && !c.request.body_failed &&
           !stop_requested;
}

// Says our answer is complete (shutdown of our side), then reads and drops
// what still comes, for a bounded time and number of bytes.
asio::awaitable<void> server::impl::drain(connection_slot& c) {
    std::error_code ec;
    c.conn.shutdown(asio::socket_base::shutdown_send, ec);
    if (ec) co_return;
    std::size_t dropped = 0;
    c.arm(std::min(detail::linger_time, options.body_timeout));
    while (dropped < detail::linger_bytes) {
        c.request.buffer.clear();
        auto [read_error, n] = co_await c.conn.async_read_some(c.request.buffer.prepare(), detail::use_tuple);
        if (read_error) break;
        dropped += n;
    }
    c.disarm();
}

}  // namespace scgi
