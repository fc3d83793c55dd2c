// One connection's place in the server: its socket, the request and response
// in progress, and its deadline. Private to the server.
#pragma once

#include "body_spool.hpp"
#include "log_queue.hpp"

#include <scgi/asio/connection.hpp>
#include <scgi/asio/read_buffer.hpp>
#include <scgi/asio/server_options.hpp>
#include <scgi/error.hpp>
#include <scgi/request_parser.hpp>

#include <asio/awaitable.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <sys/socket.h>

namespace scgi::detail {

using clock = std::chrono::steady_clock;
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
// What resumes a coroutine suspended in an operation with signature void().
using resume_handler = asio::async_result<asio::use_awaitable_t<asio::any_io_executor>, void()>::handler_type;

// With one thread nothing runs concurrently and a strand would only add a
// queue hop (and an epoll round) per handoff; with several, each connection
// and the control work get their own strand.
asio::any_io_executor serial_executor(asio::io_context& io, unsigned threads);

// When the operation a connection waits in must end, and which connection of
// its slot that is. The one part of a slot that another executor reads (the
// deadline sweeper, on the control executor): atomics only. Written on the
// slot's strand.
class deadline_watch {
public:
    void arm(std::chrono::milliseconds timeout) noexcept {
        due_.store((clock::now() + timeout).time_since_epoch().count(), std::memory_order_relaxed);
    }
    void disarm() noexcept { due_.store(0, std::memory_order_relaxed); }

    // In clock ticks; 0 when nothing waits under a deadline.
    clock::rep due() const noexcept { return due_.load(std::memory_order_relaxed); }

    // The number of connections the slot has served: a sweep or a stop
    // posted for one connection must not touch the next.
    std::uint64_t generation() const noexcept { return generation_.load(std::memory_order_relaxed); }
    void next_generation() noexcept {
        generation_.fetch_add(1, std::memory_order_relaxed);
        disarm();
    }

private:
    std::atomic<clock::rep> due_{0};
    std::atomic<std::uint64_t> generation_{0};
};

// The request being served: its parser (which holds the head), body bytes
// received and not yet handed out, and the spool that holds the rest of the
// body when the response had to wait for it.
struct request_state {
    explicit request_state(const server_options& options)
        : buffer(options.read_buffer_size), parser(options.parser), spool(options.spool) {}

    read_buffer buffer;  // body bytes; allocated when the first ones arrive, then kept
    request_parser parser;
    // The rest of the body, when the response had to wait for it
    // (server_options::receive_body_before_response); the handler's reads
    // drain it before anything else.
    body_spool spool;
    // The spool's file could not be opened or written: bytes of the body are
    // lost, so every read after the spooled ones returns this error.
    std::error_code spool_error;
    // A body read failed (timeout, the peer gone): the response no longer
    // waits for the body, which is not coming.
    bool body_failed = false;

    // Body bytes the handler may still read: spooled, then on the socket.
    std::uint64_t body_unread() const noexcept { return spool.unread() + parser.body_remaining(); }

    void clear() noexcept {
        buffer.clear();
        parser.reset();
        spool.clear();
        spool_error = {};
        body_failed = false;
    }
};

// The response's progress, for response_writer and the server's own answers.
struct response_state {
    std::string out;  // the serialised response head, or a whole error answer
    bool head_written = false;
    bool head_pending = false;  // written and held back, not sent yet
    std::error_code write_error;
    // What the server answers once the handler returns, if nothing went out
    // by then: the handler's response was refused because the body was too
    // large to spool (413), idle (408), the spool failed (500) or its head's
    // Content-Length was not one decimal value (500). 0: nothing.
    int refusal_status = 0;
    // Body bytes the handler may still write: its head's Content-Length less
    // what it wrote (no limit without one). Bytes past it are not sent.
    std::uint64_t body_allowed = no_body_limit;

    static constexpr std::uint64_t no_body_limit = std::numeric_limits<std::uint64_t>::max();

    // True while nothing of the response has reached the socket.
    bool nothing_sent() const noexcept { return !head_written || head_pending; }

    void clear() noexcept {
        out.clear();
        head_written = false;
        head_pending = false;
        write_error = {};
        refusal_status = 0;
        body_allowed = no_body_limit;
    }
};

// Everything one connection needs, allocated once and reused by the
// connections that follow: no allocation per request beyond the coroutine
// frames. Slots live as long as the server, so the sweeper can post to a
// slot whose connection has just ended (the generation tells).
//
// Who touches what: `strand`, `options` and `logs` are fixed; `deadline` is shared
// with the control executor (atomics); every other member is touched on
// `strand` only: by the slot's worker coroutine, by `take` (which the accept
// loop posts there), and by the sweeper's and the stop's handlers, posted
// there through `post_if_current`. (The one exception is the creation of a
// slot, by the accept loop that takes it first (on the control executor, or
// on its own thread with the io_uring engine), before its worker or any post
// exists: it binds `cancel`'s slot to the worker.)
struct connection_slot {
    connection_slot(asio::any_io_executor executor, std::size_t home_index, const server_options& opt,
                    log_queue& log_lines)
        : strand(std::move(executor)), home(home_index), options(opt), logs(log_lines), conn(strand), request(opt) {}

    // A strand when several threads share the slot's io_context; else that
    // io_context's executor.
    const asio::any_io_executor strand;
    const std::size_t home;  // the slot_pool home it runs on
    const server_options& options;
    log_queue& logs;
    deadline_watch deadline;

    // --- On `strand` only. ---
    connection conn;
    // The connection's number in the server (from 1), for log lines.
    std::uint64_t id = 0;
    int address_family = AF_UNSPEC;  // of the connection's socket
    request_state request;
    response_state response;
    // Bound to the worker coroutine: at the stop deadline it cancels whatever
    // the handler awaits (a timer, a database call), not only socket operations.
    asio::cancellation_signal cancel;
    bool timed_out = false;  // the sweeper cancelled the operation in progress
    bool cancelled = false;  // the stop deadline cut the connection
    bool retired = false;    // the server has stopped: the worker ends
    // The worker, while it waits for its next connection.
    std::optional<resume_handler> idle;

    // One log line about the connection, starting `conn=<id> peer=<who>: `;
    // `format(log_line_builder&)` writes the rest, and runs (like the peer's
    // look-up) only if the level filter and the rate limit let the line out.
    template <class Format>
    void log(log_event kind, log_level level, Format&& format) noexcept {
        logs.post(kind, level, [&](log_line_builder& line) {
            line << "conn=" << id << " peer=" << peer() << ": ";
            format(line);
        });
    }

    // The peer as log lines name it. Written (from the address accept4 gave,
    // or looked up with SO_PEERCRED) when the first line about the
    // connection is, then kept: no work for a connection nobody logs about.
    std::string_view peer() noexcept {
        if (peer_size_ == 0) peer_size_ = describe_peer(conn.native_handle(), address_family, peer_address_, peer_text_);
        return {peer_text_.data(), peer_size_};
    }

    // From any thread: runs `f` on `strand` unless the slot has moved on to
    // another connection by then.
    template <class F>
    void post_if_current(std::uint64_t generation, F f) {
        asio::post(strand, [this, generation, f = std::move(f)]() mutable {
            if (deadline.generation() == generation) f();
        });
    }

    void arm(std::chrono::milliseconds timeout) noexcept {
        timed_out = false;
        deadline.arm(timeout);
    }
    void disarm() noexcept { deadline.disarm(); }

    // An operation that was cancelled because its deadline passed reports the
    // timeout instead.
    std::error_code timeout_or(std::error_code ec, error timeout) const noexcept {
        if (ec == asio::error::operation_aborted && timed_out) return timeout;
        return ec;
    }

    // True if a response byte must wait for the rest of the body
    // (server_options::receive_body_before_response): some of it is still
    // on the socket, and the body has not failed.
    bool must_receive_body_first() const noexcept {
        return options.receive_body_before_response && !request.parser.is_done() && !request.body_failed &&
               request.buffer.data().size() < request.parser.body_remaining();
    }

    // Suspends the worker until `take` hands it a connection or retires it.
    asio::awaitable<void> next_connection() {
        return asio::async_initiate<const asio::use_awaitable_t<>, void()>(
            [this](resume_handler handler) { idle.emplace(std::move(handler)); }, asio::use_awaitable);
    }

    // On `strand`: gives the worker the accepted `descriptor` (or, with -1,
    // retires it) from the peer at `address` (for a TCP listener), resuming
    // the worker if it waits.
    void take(int descriptor, int family, const sockaddr_storage& address) {
        if (descriptor < 0) {
            retired = true;
        } else {
            conn.assign(descriptor, family, /*is_non_blocking=*/true);
            address_family = family;
            if (family != AF_UNIX) peer_address_ = address;
        }
        if (!idle) return;  // not waiting yet: it looks at the connection first
        resume_handler resume = std::move(*idle);
        idle.reset();
        std::move(resume)();
    }

    // Ends the connection and readies the slot for the next one.
    void recycle() noexcept {
        deadline.next_generation();
        timed_out = false;
        cancelled = false;
        conn.close();
        peer_size_ = 0;
        request.clear();
        response.clear();
    }

private:
    sockaddr_storage peer_address_{};  // a TCP peer's, from accept4
    std::array<char, peer_text_bytes> peer_text_{};
    std::size_t peer_size_ = 0;
};

// Receiving the rest of a request body (request.cpp).

// Receives the rest of the body: into the spool if `keep`, for the handler's
// later reads; else dropped. Bytes after the body are dropped too. Errors:
// those of a body read (`body_timeout`, `partial_request`, the socket's;
// `body_failed` is then set) or the spool file's (then in `spool_error`).
asio::awaitable<std::error_code> receive_rest_of_body(connection_slot& c, bool keep);

// Applies the rule before the first response byte: the rest of the body goes
// to the spool. If the spool refuses (too large) or fails (its file), the
// response is refused with a log line, and the server answers on its own
// once the handler returns (`refusal_status`). Precondition: body bytes are
// unread.
asio::awaitable<std::error_code> hold_body_for_response(connection_slot& c);

// Sending (response_writer.cpp).

// Sends `buffers`, waiting under the write timeout only if the socket cannot
// take them all now. A coroutine frame only then: the usual answer leaves in
// one system call.
asio::awaitable<std::error_code> write_all_rest(connection_slot& c, std::array<asio::const_buffer, 2> buffers);
bool write_all_now(connection_slot& c, std::array<asio::const_buffer, 2>& buffers, std::error_code& ec) noexcept;

}  // namespace scgi::detail
