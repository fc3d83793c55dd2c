#include <scgi/asio/server.hpp>

#include "body_spool.hpp"

#include <scgi/asio/listen.hpp>
#include <scgi/asio/read_request.hpp>
#include <scgi/status.hpp>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/dispatch.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/generic/stream_protocol.hpp>
#include <asio/this_coro.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <exception>
#include <fstream>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

namespace scgi {
namespace detail {

using clock = std::chrono::steady_clock;
using socket_type = asio::generic::stream_protocol::socket;

// With one thread nothing runs concurrently and a strand would only add a
// queue hop (and an epoll round) per handoff; with several, each connection
// and the control work get their own strand.
asio::any_io_executor serial_executor(asio::io_context& io, unsigned threads) {
    if (threads == 1) return io.get_executor();
    return asio::make_strand(io);
}
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
// What resumes a coroutine suspended in an operation with signature void().
using resume_handler = asio::async_result<asio::use_awaitable_t<asio::any_io_executor>, void()>::handler_type;

// How long, and how many bytes, the server keeps reading after its answer
// when the front end may still be sending: closing a socket with unread
// input sends a reset, which can make the front end lose the answer.
constexpr std::chrono::milliseconds linger_time{2000};
constexpr std::size_t linger_bytes = 1024 * 1024;

// The bytes of a request head are read here first, one buffer per thread:
// the parser copies the head into its own storage anyway, so a connection
// waiting for its head holds no read buffer. Only bytes after the head (the
// start of the body) move on to the connection's own buffer.
std::span<char> head_scratch(std::size_t size) {
    thread_local std::vector<char> scratch;
    if (scratch.size() < size) scratch.resize(size);
    return {scratch.data(), size};
}

// Hands one line to the user's log hook; a failing hook must not take a
// connection down.
void log_line(const server_options& options, log_level level, std::string_view message) noexcept {
    if (!options.log) return;
    try {
        options.log(level, message);
    } catch (...) {
    }
}

// Everything one connection needs, allocated once and reused by the
// connections that follow: no allocation per request beyond the coroutine
// frames. Slots live as long as the server, so the timeout sweeper can post
// to a slot whose connection has just ended (the generation tells).
//
// The connection is a plain non-blocking descriptor until it has to wait:
// only then is it handed to Asio (`waitable()`), which registers it with
// epoll. A request that arrives whole, answered by a response the send
// buffer takes at once (the usual case behind a front end on the same host),
// costs accept4, recv, sendmsg and close, and nothing else.
struct connection_slot {
    connection_slot(asio::io_context& io, const server_options& opt)
        : strand(serial_executor(io, opt.threads)),
          buffer(opt.read_buffer_size),
          parser(opt.parser),
          spool(opt.spool),
          options(&opt) {}

    asio::any_io_executor strand;  // a strand unless the server has one thread
    // The slot's worker coroutine, while it waits for its next connection.
    std::optional<resume_handler> idle;
    bool retired = false;          // on `strand`: the server has stopped, the worker ends
    int fd = -1;                   // the connection; closed only by close_descriptor()
    int family = AF_UNSPEC;
    std::optional<socket_type> socket;  // owns `fd` once the connection had to wait
    // Bound to the connection's coroutine: at the stop deadline it cancels
    // whatever the handler awaits (a timer, a database call), not only
    // socket operations.
    asio::cancellation_signal cancel;
    read_buffer buffer;  // body bytes; allocated when the first ones arrive, then kept
    request_parser parser;
    // The rest of the body, when the response had to wait for it
    // (server_options::receive_body_before_response); the handler's reads
    // drain it before anything else.
    body_spool spool;
    std::string out;  // the serialised response head, or a whole error answer
    const server_options* options;

    // Written on `strand`, read by the sweeper: a deadline in clock ticks
    // (0 = none) and the number of connections this slot has served.
    std::atomic<clock::rep> deadline{0};
    std::atomic<std::uint64_t> generation{0};
    bool timed_out = false;  // set on `strand` by the sweeper
    bool cancelled = false;  // set on `strand` at the stop deadline

    // The response's state, for response_writer.
    bool head_written = false;
    bool head_pending = false;
    std::error_code write_error;
    // What the server answers once the handler returns, if nothing went out
    // by then: the handler's response was refused because the body was too
    // large to spool (413), idle (408) or the spool failed (500). 0: nothing.
    int refusal_status = 0;
    // The spool's file could not be opened or written: bytes of the body are
    // lost, so every read after the spooled ones returns this error.
    std::error_code spool_error;
    // A body read failed (timeout, the peer gone): the response no longer
    // waits for the body, which is not coming.
    bool body_failed = false;

    // True while nothing of the response has reached the socket.
    bool nothing_sent() const noexcept { return !head_written || head_pending; }

    // Body bytes the handler may still read: spooled, then on the socket.
    std::uint64_t body_unread() const noexcept { return spool.unread() + parser.body_remaining(); }

    // True if a response byte must wait for the rest of the body
    // (server_options::receive_body_before_response): some of it is still
    // on the socket, and the body has not failed.
    bool must_receive_body_first() const noexcept {
        return options->receive_body_before_response && !parser.is_done() && !body_failed &&
               buffer.data().size() < parser.body_remaining();
    }

    void arm(std::chrono::milliseconds timeout) noexcept {
        timed_out = false;
        deadline.store((clock::now() + timeout).time_since_epoch().count(), std::memory_order_relaxed);
    }
    void disarm() noexcept { deadline.store(0, std::memory_order_relaxed); }

    // An operation that was cancelled because its deadline passed reports the
    // timeout instead.
    std::error_code timeout_or(std::error_code ec, error timeout) noexcept {
        if (ec == asio::error::operation_aborted && timed_out) return timeout;
        return ec;
    }

    // Suspends the slot's worker until `take` hands it a connection or the
    // server retires it.
    auto next_connection() {
        return asio::async_initiate<const asio::use_awaitable_t<>, void()>(
            [this](resume_handler handler) { idle.emplace(std::move(handler)); }, asio::use_awaitable);
    }

    // On `strand`: gives the worker connection `descriptor` (or, with -1,
    // retires it), resuming it if it waits.
    void take(int descriptor, int address_family) {
        if (descriptor < 0) {
            retired = true;
        } else {
            fd = descriptor;
            family = address_family;
        }
        if (!idle) return;  // not waiting yet: it looks at `fd` first
        resume_handler resume = std::move(*idle);
        idle.reset();
        std::move(resume)();
    }

    // The connection as an Asio socket, to wait on. Null (and `ec` set) if
    // Asio refuses the descriptor or it is closed.
    socket_type* waitable(std::error_code& ec) {
        if (socket) return &*socket;
        if (fd < 0) {
            ec = asio::error::bad_descriptor;
            return nullptr;
        }
        socket.emplace(strand);
        socket->assign(asio::generic::stream_protocol(family, family == AF_UNIX ? 0 : IPPROTO_TCP), fd, ec);
        if (ec) {
            socket.reset();
            return nullptr;
        }
        return &*socket;
    }

    // Receives what is already there into `into`, without waiting (the
    // descriptor is non-blocking). `would_block` if nothing is; `eof` if the
    // peer has closed its side.
    std::size_t receive_now(asio::mutable_buffer into, std::error_code& ec) noexcept {
        if (fd < 0) {
            ec = asio::error::bad_descriptor;
            return 0;
        }
        for (;;) {
            const ssize_t n = ::recv(fd, into.data(), into.size(), 0);
            if (n > 0) return static_cast<std::size_t>(n);
            if (n == 0) {
                ec = asio::error::eof;
            } else if (errno == EINTR) {
                continue;
            } else {
                ec.assign(errno, asio::error::get_system_category());  // EWOULDBLOCK == EAGAIN on Linux
            }
            return 0;
        }
    }

    // Sends as much of `buffers` as the socket takes now, without waiting.
    std::size_t send_now(const std::array<asio::const_buffer, 2>& buffers, std::error_code& ec) noexcept {
        if (fd < 0) {
            ec = asio::error::bad_descriptor;
            return 0;
        }
        std::array<iovec, 2> parts{iovec{const_cast<void*>(buffers[0].data()), buffers[0].size()},
                                   iovec{const_cast<void*>(buffers[1].data()), buffers[1].size()}};
        msghdr message{};
        message.msg_iov = parts.data();
        message.msg_iovlen = parts.size();
        for (;;) {
            const ssize_t n = ::sendmsg(fd, &message, MSG_NOSIGNAL);
            if (n >= 0) return static_cast<std::size_t>(n);
            if (errno == EINTR) continue;
            ec.assign(errno, asio::error::get_system_category());  // EWOULDBLOCK == EAGAIN on Linux
            return 0;
        }
    }

    // Feeds the parser the head bytes that have arrived, without waiting.
    // `need_more` if the head is still incomplete (what arrived is in the
    // parser); no error once it is parsed, with any bytes after it moved to
    // `buffer`; `partial_request` if the peer closed first; the parser's or
    // the socket's error otherwise.
    std::error_code read_head_now() {
        const std::span<char> scratch = head_scratch(buffer.capacity());
        for (;;) {
            std::error_code ec;
            const std::size_t n = receive_now(asio::buffer(scratch.data(), scratch.size()), ec);
            if (ec == asio::error::would_block) return error::need_more;
            if (ec == asio::error::eof) parser.put_eof(ec);
            if (ec) return ec;
            std::string_view input(scratch.data(), n);
            input.remove_prefix(parser.put(input, ec));
            if (ec == error::need_more) continue;
            if (ec) return ec;
            // The head is parsed; the rest is body (at most a buffer's worth).
            if (!input.empty()) {
                const auto space = buffer.prepare();
                std::memcpy(space.data(), input.data(), input.size());
                buffer.commit(input.size());
            }
            return {};
        }
    }

    // Receives into `buffer` what is already there, without waiting. True if
    // bytes arrived, or if the socket reported its end (`ec` is then the
    // parser's `partial_request`) or an error (`ec`); false only if nothing
    // is there yet. Precondition: `buffer` is empty (so there is room).
    //
    // Only then may the caller wait through Asio: its reactor is edge
    // triggered, and once a read through it has found the socket drained it
    // reads again only after a new edge. An end of input that arrived with
    // the last bytes and was consumed here makes no new edge, so waiting
    // after it would hang until a timeout.
    bool read_now(std::error_code& ec) {
        const auto space = buffer.prepare();
        const std::size_t n = receive_now(space, ec);
        if (ec == asio::error::would_block) {
            ec.clear();
            return false;
        }
        if (ec == asio::error::eof) parser.put_eof(ec);
        if (!ec) buffer.commit(n);
        return true;
    }

    // Sends as much of `buffers` as the socket takes now and drops it from
    // them. True if all went (the usual case for an answer that fits the
    // send buffer) or the socket failed (`ec`); false if the rest must wait.
    bool send_all_now(std::array<asio::const_buffer, 2>& buffers, std::error_code& ec) noexcept {
        if (asio::buffer_size(buffers) == 0) return true;
        const std::size_t written = send_now(buffers, ec);
        if (ec == asio::error::would_block) {
            ec.clear();
        } else if (ec) {
            return true;
        }
        if (written >= buffers[0].size()) {
            buffers = {buffers[1] + (written - buffers[0].size()), asio::const_buffer{}};
        } else {
            buffers[0] += written;
        }
        return asio::buffer_size(buffers) == 0;
    }

    // Writes what `send_all_now` left, waiting under the write timeout.
    asio::awaitable<std::error_code> write_rest(std::array<asio::const_buffer, 2> buffers) {
        std::error_code ec;
        socket_type* s = waitable(ec);
        if (!s) co_return ec;
        arm(options->write_timeout);
        auto [async_error, n] = co_await asio::async_write(*s, buffers, use_tuple);
        disarm();
        (void)n;
        co_return timeout_or(async_error, error::write_timeout);
    }

    // Receives the rest of the request body: into the spool if `keep`, for
    // the handler's later reads; else dropped. Bytes after the body are
    // dropped too (the drain after the answer would drop them anyway).
    // Errors: those of a body read (`body_timeout`, `partial_request`, the
    // socket's; `body_failed` is then set) or the spool file's (then in
    // `spool_error`).
    //
    // `buffer` is read from but never into: the handler may be writing a
    // piece that is a view into it. New bytes land in the spool's staging
    // area instead.
    asio::awaitable<std::error_code> receive_rest_of_body(bool keep) {
        if (parser.is_done()) co_return std::error_code{};
        if (keep) spool.reserve(parser.body_remaining());
        std::error_code ec = take_body(buffer.data(), keep);
        buffer.consume(buffer.data().size());
        while (!ec && !parser.is_done()) {
            const std::span<char> area = spool.staging(buffer.capacity());
            std::size_t n = receive_now(asio::buffer(area.data(), area.size()), ec);
            if (ec == asio::error::would_block) {
                socket_type* s = waitable(ec);
                if (!s) break;
                arm(options->body_timeout);
                std::tie(ec, n) = co_await s->async_read_some(asio::buffer(area.data(), area.size()), use_tuple);
                disarm();
                ec = timeout_or(ec, error::body_timeout);
            }
            if (ec == asio::error::eof) parser.put_eof(ec);  // partial_request: the body is short
            if (ec) {
                body_failed = true;
                break;
            }
            ec = take_body({area.data(), n}, keep);
        }
        co_return ec;
    }

    // Feeds received body bytes to the parser, and its pieces to the spool if
    // `keep`; bytes after the end of the body are dropped.
    std::error_code take_body(std::string_view bytes, bool keep) {
        while (!bytes.empty() && !parser.is_done()) {
            std::error_code ec;
            bytes.remove_prefix(parser.put(bytes, ec));
            if (ec) return ec;
            if (!keep) continue;
            if (const auto failure = spool.append(parser.body_piece())) {
                spool_error = failure;
                return failure;
            }
        }
        return {};
    }

    // Applies the rule before the first response byte: the rest of the body
    // goes to the spool. If the spool refuses (too large) or fails (its
    // file), the response is refused with a log line, and the server answers
    // on its own once the handler returns (`refusal_status`).
    // Precondition: body bytes are unread (the caller checks, so the usual
    // response, whose body was read, costs no coroutine here).
    asio::awaitable<std::error_code> hold_body_for_response() {
        const std::uint64_t unread = parser.body_remaining();
        if (spool.size() + unread > options->spool.max_bytes) {
            refusal_status = 413;
            log_line(*options, log_level::warning,
                     "413 Content Too Large: the response started with " + std::to_string(unread) +
                         " body bytes unread, more than spool.max_bytes (" +
                         std::to_string(options->spool.max_bytes) + ")");
            co_return error::spool_limit_exceeded;
        }
        const std::error_code ec = co_await receive_rest_of_body(true);
        if (spool_error) {
            refusal_status = 500;
            log_line(*options, log_level::error, "cannot spool the request body: " + ec.message());
        } else if (ec == error::body_timeout) {
            refusal_status = 408;
            log_line(*options, log_level::warning, "408 Request Timeout: " + ec.message());
        }
        co_return ec;
    }

    // Ends the response at once with a reset rather than a clean close.
    void reset_connection() noexcept {
        if (fd < 0) return;
        const linger abortive{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive);
        close_descriptor();
    }

    void close_descriptor() noexcept {
        if (socket) {
            std::error_code ignored;
            socket->close(ignored);
            socket.reset();
        } else if (fd >= 0) {
            ::close(fd);
        }
        fd = -1;
    }

    // At the stop deadline: whatever the connection's coroutine does next
    // on the socket fails at once (the descriptor stays open until the
    // coroutine closes it, so its number cannot be reused under it).
    void shut_down() noexcept {
        if (fd < 0) return;
        ::shutdown(fd, SHUT_RDWR);
        if (socket) {
            std::error_code ignored;
            socket->cancel(ignored);
        }
    }

    void recycle() noexcept {
        generation.fetch_add(1, std::memory_order_relaxed);
        disarm();
        timed_out = false;
        cancelled = false;
        close_descriptor();
        buffer.clear();
        parser.reset();
        out.clear();
        spool.clear();
        head_written = false;
        head_pending = false;
        write_error = {};
        refusal_status = 0;
        spool_error = {};
        body_failed = false;
    }
};

// Builds the handler's views of a slot (their constructors are private).
struct server_access {
    static request make_request(connection_slot& slot) noexcept { return request(slot); }
    static response_writer make_writer(connection_slot& slot) noexcept { return response_writer(slot); }
};

namespace {

std::string describe(std::exception_ptr failure) {
    try {
        std::rethrow_exception(std::move(failure));
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "an exception not derived from std::exception";
    }
}

// Errors accept4 reports for one pending connection (the peer or the
// network failed it): retry at once, nothing is wrong with the listener.
bool is_transient_accept_error(std::error_code ec) noexcept {
    switch (static_cast<std::errc>(ec.value())) {
    case std::errc::interrupted:
    case std::errc::connection_aborted:
    case std::errc::protocol_error:
    case std::errc::no_protocol_option:
    case std::errc::network_down:
    case std::errc::network_unreachable:
    case std::errc::host_unreachable:
    case std::errc::operation_not_supported:
    case std::errc::timed_out:
        return ec.category() == std::system_category();
    default:
        return ec.category() == std::system_category() && (ec.value() == EHOSTDOWN || ec.value() == ENONET);
    }
}

}  // namespace
}  // namespace detail

using detail::connection_slot;

// --- request -------------------------------------------------------------------

const request_head& request::head() const noexcept { return slot_->parser.head(); }

std::uint64_t request::body_remaining() const noexcept { return slot_->body_unread(); }

asio::awaitable<std::tuple<std::error_code, std::string_view>> request::read_body_some() {
    connection_slot& c = *slot_;
    using result = std::tuple<std::error_code, std::string_view>;
    // Bytes the response made the server receive first come back first.
    if (c.spool.unread() != 0) {
        std::error_code ec;
        const std::string_view piece = c.spool.next(c.buffer.capacity(), ec);
        co_return result{ec, piece};
    }
    // The rest of the body never reached the spool: never a silent gap.
    if (c.spool_error) co_return result{c.spool_error, std::string_view{}};
    if (c.parser.is_done()) co_return result{};
    // Bytes already received or receivable now: no trip through the scheduler.
    std::error_code ec;
    if (!c.buffer.empty() || c.read_now(ec)) {
        if (!ec) c.buffer.consume(c.parser.put(c.buffer.data(), ec));
        c.body_failed = c.body_failed || static_cast<bool>(ec);
        co_return result{ec, ec ? std::string_view{} : c.parser.body_piece()};
    }
    std::error_code wait_error;
    auto* socket = c.waitable(wait_error);
    if (!socket) co_return result{wait_error, std::string_view{}};
    c.arm(c.options->body_timeout);
    auto [read_error, piece] = co_await async_read_body_some(*socket, c.buffer, c.parser, detail::use_tuple);
    c.disarm();
    c.body_failed = c.body_failed || static_cast<bool>(read_error);
    co_return result{c.timeout_or(read_error, error::body_timeout), piece};
}

asio::awaitable<std::tuple<std::error_code, std::string>> request::read_body(std::size_t limit) {
    std::string body;
    if (content_length() > limit) {
        co_return std::tuple<std::error_code, std::string>{error::body_too_large, std::move(body)};
    }
    // Grow with what arrives, not with what the peer declares.
    body.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(content_length(), 64 * 1024)));
    for (;;) {
        auto [ec, piece] = co_await read_body_some();
        if (ec) co_return std::tuple<std::error_code, std::string>{ec, std::string()};
        if (piece.empty()) break;
        body += piece;
    }
    co_return std::tuple<std::error_code, std::string>{std::error_code{}, std::move(body)};
}

asio::awaitable<io_result> request::discard_body() {
    connection_slot& c = *slot_;
    c.spool.clear();
    co_return co_await c.receive_rest_of_body(false);
}

// --- response_writer ---------------------------------------------------------------

bool response_writer::head_written() const noexcept { return slot_->head_written; }

void response_writer::write_head(const response_head& head) {
    connection_slot& c = *slot_;
    if (c.head_written) throw std::logic_error("scgi::response_writer: write_head called twice");
    c.head_written = true;
    c.head_pending = true;
    c.out.clear();
    head.serialize(c.out);
}

asio::awaitable<io_result> response_writer::write(std::string_view body_piece) {
    connection_slot& c = *slot_;
    if (!c.head_written) throw std::logic_error("scgi::response_writer: write before write_head");
    if (c.write_error) co_return c.write_error;
    if (c.nothing_sent() && c.must_receive_body_first()) {
        if (const auto ec = co_await c.hold_body_for_response()) {
            c.write_error = ec;
            co_return ec;
        }
    }
    std::array<asio::const_buffer, 2> buffers{asio::buffer(body_piece), asio::const_buffer{}};
    if (c.head_pending) {
        buffers = {asio::buffer(c.out), asio::buffer(body_piece)};
        c.head_pending = false;
    }
    std::error_code ec;
    // A coroutine frame only when the socket cannot take it all now.
    if (!c.send_all_now(buffers, ec)) ec = co_await c.write_rest(buffers);
    c.write_error = ec;
    co_return ec;
}

asio::awaitable<io_result> response_writer::finish() {
    connection_slot& c = *slot_;
    if (!c.head_written) throw std::logic_error("scgi::response_writer: finish before write_head");
    co_return co_await write({});
}

asio::awaitable<io_result> response_writer::send(const response& whole) {
    connection_slot& c = *slot_;
    write_head(whole.head);
    if (!whole.head.find("Content-Length")) {
        // Put the length before the blank line that ends the head.
        c.out.resize(c.out.size() - 2);
        c.out += "Content-Length: ";
        c.out += std::to_string(whole.body.size());
        c.out += "\r\n\r\n";
    }
    co_return co_await write(whole.body);
}

// --- server ----------------------------------------------------------------------

struct server::impl {
    impl(handler h, server_options o)
        : on_request(std::move(h)),
          options(std::move(o)),
          io(static_cast<int>(options.threads)),
          control(detail::serial_executor(io, options.threads)),
          sweeper(control),
          slot_freed(control),
          stop_deadline(control) {
        if (!on_request) throw std::invalid_argument("scgi::server: empty handler");
        if (options.threads == 0) throw std::invalid_argument("scgi::server: threads must be at least 1");
        if (options.max_connections == 0) {
            throw std::invalid_argument("scgi::server: max_connections must be at least 1");
        }
        if (options.head_timeout.count() <= 0 || options.body_timeout.count() <= 0 ||
            options.write_timeout.count() <= 0 || options.stop_timeout.count() < 0) {
            throw std::invalid_argument("scgi::server: timeouts must be positive");
        }
        if (options.read_buffer_size == 0) throw std::invalid_argument("scgi::server: read_buffer_size is 0");
        // A write to a closed pipe or socket (including the log's stderr)
        // must return EPIPE, not kill the server.
        std::signal(SIGPIPE, SIG_IGN);
        // Catch the signals from now on: one arriving between start-up and
        // run() is held until run() starts waiting, instead of killing the
        // process with its default action.
        if (options.handle_signals) signals.emplace(control, SIGINT, SIGTERM);
    }

    handler on_request;
    server_options options;
    asio::io_context io;
    asio::any_io_executor control;  // acceptors, timers, stop: one at a time
    asio::steady_timer sweeper;
    asio::steady_timer slot_freed;
    asio::steady_timer stop_deadline;
    std::optional<asio::signal_set> signals;
    std::vector<listening_socket> listeners;
    std::vector<endpoint> bound;

    std::mutex mutex;  // guards slots and free_slots
    std::vector<std::unique_ptr<connection_slot>> slots;
    std::vector<connection_slot*> free_slots;
    std::atomic<std::size_t> active{0};
    std::atomic<std::size_t> accepted{0};
    std::atomic<unsigned> waiting_for_slot{0};  // accept loops waiting at max_connections
    std::atomic<bool> stop_requested{false};
    std::atomic<bool> serving{false};  // accept loops and sweeper started
    bool stop_begun = false;   // on control
    bool stopped = false;      // on control: the stop has completed
    bool stop_deadline_passed = false;  // on control
    std::size_t accept_loops_running = 0;  // on control: listeners not closed yet
    std::vector<std::thread> threads;

    void log(log_level level, std::string_view message) const noexcept { detail::log_line(options, level, message); }

    // Takes a listener for the accept loops (started by start_serving).
    // Streamed responses write small pieces: Nagle must not hold one back
    // for the front end's delayed ACK. A TCP connection inherits TCP_NODELAY
    // from its listener when the kernel creates it, at the handshake, so the
    // option is set here, before any accept loop runs, and costs nothing per
    // connection. (Connections already queued on a listener this process
    // adopts were created without it: systemd's NoDelay=yes covers those.)
    endpoint add_listener(listening_socket socket) {
        if (socket.endpoint().type() == endpoint::kind::tcp) {
            const int on = 1;
            ::setsockopt(socket.acceptor().native_handle(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        }
        endpoint actual = socket.endpoint();
        listeners.push_back(std::move(socket));
        bound.push_back(actual);
        return actual;
    }

    // Logs an exception without throwing another (building the line may).
    void log_failure(std::string_view what, std::exception_ptr failure) const noexcept {
        try {
            log(log_level::error, std::string(what) + detail::describe(std::move(failure)));
        } catch (...) {
            log(log_level::error, what);
        }
    }

    connection_slot* acquire() {
        connection_slot* slot = nullptr;
        {
            std::lock_guard lock(mutex);
            if (!free_slots.empty()) {
                slot = free_slots.back();
                free_slots.pop_back();
                return slot;
            }
            if (slots.size() >= options.max_connections) return nullptr;
            // Room for every slot in the free list now: release() cannot fail.
            free_slots.reserve(slots.size() + 1);
            slot = slots.emplace_back(std::make_unique<connection_slot>(io, options)).get();
        }
        // A new slot gets its worker (outside the lock: with one thread the
        // worker runs here until it waits for its first connection).
        asio::co_spawn(slot->strand, work(*slot),
                       asio::bind_cancellation_slot(slot->cancel.slot(), [this](std::exception_ptr e) {
                           if (e) log_failure("connection worker failed: ", e);
                       }));
        return slot;
    }

    // Returns the slot of a finished connection (on the slot's strand).
    void release(connection_slot& slot) noexcept {
        slot.recycle();
        give_back(slot);
        active.fetch_sub(1);
        if (waiting_for_slot.load() != 0 || stop_requested.load()) {
            asio::post(control, [this] {
                slot_freed.cancel();
                maybe_finish_stop();
            });
        }
    }

    // Puts a slot back in the free list (reserved in acquire: no allocation).
    void give_back(connection_slot& slot) noexcept {
        std::lock_guard lock(mutex);
        free_slots.push_back(&slot);
    }

    void start_serving() {
        if (listeners.empty()) throw std::logic_error("scgi::server: run() or start() before listen()");
        if (serving.exchange(true)) return;
        // A stop() that came first is carried out as soon as the loop runs.
        if (stop_requested) asio::post(control, [this] { begin_stop(); });
        // Waiters never re-arm this timer (that would cancel the other
        // waiters): it stays at "never" and cancel() wakes them all.
        slot_freed.expires_at(asio::steady_timer::time_point::max());
        accept_loops_running = listeners.size();
        for (auto& listener : listeners) {
            asio::co_spawn(control, accept_loop(listener), [this](std::exception_ptr e) {
                if (e) log(log_level::error, "accept loop failed: " + detail::describe(e));
            });
        }
        asio::co_spawn(control, sweep_loop(), [this](std::exception_ptr e) {
            if (e) log(log_level::error, "timeout sweeper failed: " + detail::describe(e));
        });
        if (signals) {
            signals->async_wait([this](std::error_code ec, int signal_number) {
                if (ec) return;
                log(log_level::info, signal_number == SIGINT ? "SIGINT: stopping" : "SIGTERM: stopping");
                begin_stop();
            });
        }
        for (const auto& where : bound) log(log_level::info, "listening on " + where.to_string());
        warn_if_reuse_port_loses_connections();
    }

    // Closing a SO_REUSEPORT listener resets the connections still queued on
    // it, unless the kernel migrates them to the other listeners of the port
    // (net.ipv4.tcp_migrate_req, Linux 5.14+, per network namespace). Said
    // once at start, so a rolling restart's losses have a named cause.
    void warn_if_reuse_port_loses_connections() const {
        if (!options.listen.reuse_port) return;
        const bool any_tcp = std::any_of(bound.begin(), bound.end(),
                                         [](const endpoint& e) { return e.type() != endpoint::kind::unix_socket; });
        if (!any_tcp) return;
        std::ifstream setting("/proc/sys/net/ipv4/tcp_migrate_req");
        char value = '0';
        if (setting >> value && value != '0') return;
        log(log_level::warning, setting ? "SO_REUSEPORT: net.ipv4.tcp_migrate_req is 0, so stopping this process "
                                          "resets the connections the kernel hands its listener while it "
                                          "closes; set it to 1 (docs/scaling-out.md)"
                                        : "SO_REUSEPORT: this kernel cannot migrate queued connections "
                                          "(net.ipv4.tcp_migrate_req, Linux 5.14+): stopping this process resets "
                                          "the connections the kernel hands its listener while it closes "
                                          "(docs/scaling-out.md)");
    }

    // Accepts with accept4(SOCK_NONBLOCK | SOCK_CLOEXEC) first and waits for
    // readiness only when nothing is pending: under load a connection costs
    // one accept4, and accepted sockets are never inherited by programs a
    // handler starts (Asio's own accept sets neither flag).
    //
    // On stop it accepts what the kernel has already queued before closing
    // the listener: those clients have connected as far as they can tell,
    // and closing would reset them. (A Unix socket's file is gone by then,
    // so nothing new arrives; a TCP port shared with SO_REUSEPORT still
    // gets new connections until the close, see docs/scaling-out.md.)
    asio::awaitable<void> accept_loop(listening_socket& listener) {
        auto& acceptor = listener.acceptor();
        std::error_code setup_error;
        acceptor.native_non_blocking(true, setup_error);
        const auto local = acceptor.local_endpoint(setup_error);
        if (setup_error) {
            log(log_level::error, "cannot serve " + listener.endpoint().to_string() + ": " + setup_error.message());
            end_accept_loop(acceptor);
            co_return;
        }
        const int family = local.data()->sa_family;
        std::optional<asio::steady_timer> backoff;
        while (!stop_requested) {
            const int fd = ::accept4(acceptor.native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                const std::error_code ec(errno, std::system_category());
                if (ec == std::errc::operation_would_block || ec == std::errc::resource_unavailable_try_again) {
                    auto [wait_error] = co_await acceptor.async_wait(asio::socket_base::wait_read, detail::use_tuple);
                    if (wait_error) break;  // cancelled by stop()
                    continue;
                }
                if (detail::is_transient_accept_error(ec)) continue;
                if (stop_requested || ec == std::errc::bad_file_descriptor) break;
                // EMFILE and the like: the pending connection stays in the
                // backlog, so retrying at once would spin. Back off.
                log(log_level::error, "accept on " + listener.endpoint().to_string() + ": " + ec.message() +
                                          "; retrying in 100 ms");
                if (!backoff) backoff.emplace(control);
                backoff->expires_after(std::chrono::milliseconds(100));
                co_await backoff->async_wait(detail::use_tuple);
                continue;
            }
            if (!hand_over_now(fd, family)) {
                const bool served = co_await hand_over_when_free(fd, family);
                if (!served) break;
            }
        }
        // Stopping: what is queued already, at most a backlog's worth (a
        // shared port keeps receiving until the close).
        for (int queued = 0; queued < options.listen.backlog && !stop_deadline_passed; ++queued) {
            const int fd = ::accept4(acceptor.native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) break;
            if (!hand_over_now(fd, family)) {
                const bool served = co_await hand_over_when_free(fd, family);
                if (!served) break;
            }
        }
        end_accept_loop(acceptor);
    }

    void end_accept_loop(listening_socket::acceptor_type& acceptor) {
        std::error_code ignored;
        acceptor.close(ignored);
        --accept_loops_running;
        maybe_finish_stop();
    }

    // Counts an accepted connection (a stop waits for it from here on) and
    // gives it to a free slot. False if none is free: then it is counted but
    // not handed over, for hand_over_when_free. Not a coroutine: this runs
    // for every connection.
    bool hand_over_now(int fd, int family) {
        accepted.fetch_add(1, std::memory_order_relaxed);
        active.fetch_add(1);
        // A slot only now: a listener waiting for connections holds none.
        connection_slot* slot = acquire();
        if (slot) start(*slot, fd, family);
        return slot != nullptr;
    }

    // At max_connections: this one connection waits here (the rest wait in
    // the kernel's backlog) until a slot is released. False if the stop
    // deadline passed first: the connection is then closed unserved, like
    // those the deadline cut.
    asio::awaitable<bool> hand_over_when_free(int fd, int family) {
        connection_slot* slot = nullptr;
        for (;;) {
            waiting_for_slot.fetch_add(1);  // before acquire: no release is missed
            slot = acquire();
            if (slot || stop_deadline_passed) break;
            co_await slot_freed.async_wait(detail::use_tuple);
            waiting_for_slot.fetch_sub(1);
        }
        waiting_for_slot.fetch_sub(1);
        if (stop_deadline_passed) {
            if (slot) give_back(*slot);
            ::close(fd);
            active.fetch_sub(1);
            maybe_finish_stop();
            co_return false;
        }
        start(*slot, fd, family);
        co_return true;
    }

    void start(connection_slot& slot, int fd, int family) {
        connection_slot* s = &slot;
        if (options.threads == 1) {
            // The worker runs here and now, until it first waits.
            asio::dispatch(s->strand, [s, fd, family] { s->take(fd, family); });
        } else {
            // On another thread: this one goes on accepting.
            asio::post(s->strand, [s, fd, family] { s->take(fd, family); });
        }
    }

    // One per slot, for the server's life: serves the connections the accept
    // loop hands to the slot, one after another. A coroutine per slot rather
    // than per connection: no coroutine start-up per request.
    asio::awaitable<void> work(connection_slot& c) {
        // After the stop deadline cancels a connection, later co_awaits (the
        // answer, the close) must return errors, not throw.
        co_await asio::this_coro::throw_if_cancelled(false);
        for (;;) {
            if (c.fd < 0) {
                if (c.retired) co_return;
                co_await c.next_connection();
                continue;
            }
            // A fresh cancellation state per connection: the stop deadline's
            // cancellation, or a handler's throw_if_cancelled(true), must not
            // carry over to the next connection on this slot.
            co_await asio::this_coro::reset_cancellation_state();
            co_await asio::this_coro::throw_if_cancelled(false);
            std::exception_ptr failure;
            try {
                // The whole head is usually there already: parse it without waiting.
                std::error_code ec = c.read_head_now();
                if (ec == error::need_more && !c.parser.is_started()) {
                    // Accepted before its first byte (front ends write right
                    // after connecting). Let the work already queued run, then
                    // look once more: usually cheaper than registering the
                    // connection with epoll to wait for bytes that are on
                    // their way.
                    co_await asio::post(c.strand, asio::use_awaitable);
                    ec = c.read_head_now();
                }
                if (ec == error::need_more) {
                    c.arm(options.head_timeout);
                    ec = co_await wait_for_head(c);
                    c.disarm();
                    ec = c.timeout_or(ec, error::head_timeout);
                }
                // Cut by the stop deadline while its head arrived: a shut-down
                // socket still returns what was received, but no handler may
                // start after the deadline.
                if (!ec && c.cancelled) ec = asio::error::operation_aborted;
                if (ec) {
                    co_await refuse(c, ec);
                } else {
                    co_await run_handler(c);
                }
                // Drain only a peer that is still there (not after an end of
                // input, a reset or a timeout).
                const bool answered = !ec || status_for(ec) != 0;
                if (answered && c.fd >= 0 && peer_may_send(c)) co_await drain(c);
            } catch (...) {
                failure = std::current_exception();
            }
            if (failure) log_failure("connection failed: ", failure);
            release(c);
        }
    }

    // Fires every quarter of the shortest timeout (at least every second) and
    // cancels the operations whose deadline passed: one timer for the whole
    // server instead of a timer per connection (each re-arm would be a
    // syscall), at the price of timeouts firing up to a quarter late.
    asio::awaitable<void> sweep_loop() {
        const auto shortest = std::min({options.head_timeout, options.body_timeout, options.write_timeout});
        const auto interval = std::clamp(shortest / 4, std::chrono::milliseconds(5), std::chrono::milliseconds(1000));
        while (!stopped) {
            sweeper.expires_after(interval);
            auto [ec] = co_await sweeper.async_wait(detail::use_tuple);
            if (ec || stopped) break;
            const auto now = detail::clock::now().time_since_epoch().count();
            std::lock_guard lock(mutex);
            for (const auto& owned : slots) {
                connection_slot* slot = owned.get();
                const auto due = slot->deadline.load(std::memory_order_relaxed);
                if (due == 0 || due > now) continue;
                const auto generation = slot->generation.load(std::memory_order_relaxed);
                asio::post(slot->strand, [slot, generation, due] {
                    // The connection may have moved on (or ended) since.
                    if (slot->generation.load(std::memory_order_relaxed) != generation) return;
                    if (slot->deadline.load(std::memory_order_relaxed) != due) return;
                    // The deadline stays armed: if the operation had already
                    // finished and its continuation starts another one, the
                    // next sweep cancels that too. The coroutine disarms.
                    slot->timed_out = true;
                    std::error_code ignored;
                    if (slot->socket) slot->socket->cancel(ignored);  // no socket: nothing waits
                });
            }
        }
    }

    // Waits until the head has arrived, reading what comes as it comes.
    static asio::awaitable<std::error_code> wait_for_head(connection_slot& c) {
        for (;;) {
            std::error_code ec;
            detail::socket_type* socket = c.waitable(ec);
            if (!socket) co_return ec;
            std::tie(ec) = co_await socket->async_wait(asio::socket_base::wait_read, detail::use_tuple);
            if (ec) co_return ec;
            ec = c.read_head_now();
            if (ec != error::need_more) co_return ec;
        }
    }

    // Answers a request that failed before the handler, if anyone is there
    // to read the answer.
    asio::awaitable<void> refuse(connection_slot& c, std::error_code ec) {
        if (ec == error::partial_request) {
            // A connection closed before a whole head: health checks do this
            // with no byte at all, which is not worth a line.
            if (c.parser.is_started()) log(log_level::warning, "peer closed mid-request: " + ec.message());
            co_return;
        }
        const int status = status_for(ec);
        if (status == 0) {
            if (ec != asio::error::operation_aborted) log(log_level::warning, "reading request: " + ec.message());
            co_return;
        }
        log(log_level::warning, std::to_string(status) + " " + std::string(reason_phrase(status)) + ": " +
                                    ec.message());
        co_await send_plain(c, status, ec.message());
    }

    asio::awaitable<void> send_plain(connection_slot& c, int status, std::string_view text) {
        response_head head;
        head.set_status(status);  // status is one of ours: valid
        head.add("Content-Type", "text/plain; charset=utf-8");
        head.add_content_length(text.size() + 1);
        c.out.clear();
        head.serialize(c.out);
        c.out += text;
        c.out += '\n';
        std::array<asio::const_buffer, 2> buffers{asio::buffer(c.out), asio::const_buffer{}};
        std::error_code ec;
        if (!c.send_all_now(buffers, ec)) ec = co_await c.write_rest(buffers);
        if (ec && ec != asio::error::operation_aborted) {
            log(log_level::warning, "writing " + std::to_string(status) + " answer: " + ec.message());
        }
    }

    // Answers for a handler that could not (it threw, returned without a
    // response, or its response was refused). A held-back head is dropped.
    // The rule holds for the server's own answers too: with
    // `receive_body_first`, the rest of the body is received first, and
    // dropped, unless it is over the spool's limit or its reading failed
    // (then the answer goes now, and the drain after it takes what still
    // comes before the connection closes).
    asio::awaitable<void> answer_after_handler(connection_slot& c, int status, std::string_view text,
                                               bool receive_body_first = true) {
        c.head_pending = false;
        if (receive_body_first && c.must_receive_body_first() && c.parser.body_remaining() <= options.spool.max_bytes) {
            // An error here means nobody is left to answer (or the front end
            // idled past body_timeout).
            const std::error_code ec = co_await c.receive_rest_of_body(false);
            if (ec) co_return;
        }
        co_await send_plain(c, status, text);
    }

    asio::awaitable<void> run_handler(connection_slot& c) {
        request req = detail::server_access::make_request(c);
        response_writer writer = detail::server_access::make_writer(c);
        std::exception_ptr failure;
        try {
            co_await on_request(req, writer);
        } catch (...) {
            failure = std::current_exception();
        }
        const auto what = [&] {
            return std::string(c.parser.head().method()) + " " + std::string(c.parser.head().uri());
        };
        if (failure) {
            const bool cancelled_at_stop = stop_requested && c.cancelled;
            log(cancelled_at_stop ? log_level::warning : log_level::error,
                (cancelled_at_stop ? "handler cancelled at the stop deadline on " : "handler threw on ") + what() +
                    ": " + detail::describe(failure));
            if (c.nothing_sent()) {
                co_await answer_after_handler(c, 500, "Internal Server Error");
            } else {
                // Part of the answer went out: end with a reset, so the front
                // end sees a failure rather than a complete, truncated answer.
                c.reset_connection();
            }
            co_return;
        }
        if (!c.head_written) {
            log(log_level::error, "handler returned without a response on " + what());
            co_await answer_after_handler(c, 500, "Internal Server Error");
            co_return;
        }
        // Sends a head still held back; it may itself wait for the body.
        // Its error, if any, is c.write_error: handled below and by peer_may_send.
        if (c.head_pending && !c.write_error) (void)co_await writer.finish();
        if (c.refusal_status != 0 && c.nothing_sent()) {
            // The response was refused (and logged) while it waited for the
            // body: the server answers instead.
            // The body names the cause, except a failure of our own disk.
            // (A named string: g++ 12 may destroy a temporary in a co_await
            // expression twice.)
            const bool ours = c.refusal_status == 500;
            const std::string text = ours ? std::string("Internal Server Error") : c.write_error.message();
            co_await answer_after_handler(c, c.refusal_status, text, /*receive_body_first=*/ours);
        }
    }

    // True if the front end may still be sending once our answer is
    // complete: a body the handler did not read, or bytes after a refused
    // head. Closing a socket with unread input resets the connection, which
    // can make the front end lose the answer.
    bool peer_may_send(const connection_slot& c) const noexcept {
        const bool socket_failed = c.write_error && c.refusal_status == 0;
        return (!c.parser.is_done() || !c.buffer.empty()) && !socket_failed && !c.body_failed && !stop_requested;
    }

    // Says our answer is complete (shutdown of our side), then reads and
    // drops what still comes, for a bounded time and number of bytes.
    asio::awaitable<void> drain(connection_slot& c) {
        std::error_code ec;
        detail::socket_type* socket = c.waitable(ec);
        if (!socket) co_return;
        socket->shutdown(asio::socket_base::shutdown_send, ec);
        std::size_t dropped = 0;
        c.arm(std::min(detail::linger_time, options.body_timeout));
        while (dropped < detail::linger_bytes) {
            c.buffer.clear();
            auto [read_error, n] = co_await socket->async_read_some(c.buffer.prepare(), detail::use_tuple);
            if (read_error) break;
            dropped += n;
        }
        c.disarm();
    }

    void begin_stop() {
        stop_requested = true;
        if (stop_begun) return;
        stop_begun = true;
        for (auto& listener : listeners) {
            // Remove the file while the socket is still open: its inode
            // cannot be reused by a replacement file meanwhile. The accept
            // loop takes what is queued, then closes the socket.
            listener.remove_socket_file();
            std::error_code ignored;
            listener.acceptor().cancel(ignored);
        }
        slot_freed.cancel();
        if (signals) signals->cancel();
        if (active.load() != 0) {
            log(log_level::info, "stopping: waiting for " + std::to_string(active.load()) + " connection(s)");
        }
        stop_deadline.expires_after(options.stop_timeout);
        stop_deadline.async_wait([this](std::error_code ec) {
            if (ec || stopped) return;
            log(log_level::warning, "stop deadline passed: closing " + std::to_string(active.load()) +
                                        " connection(s)");
            stop_deadline_passed = true;
            slot_freed.cancel();  // an accept loop holding a connection for a slot drops it
            if (active.load() == 0) return maybe_finish_stop();
            std::lock_guard lock(mutex);
            for (const auto& owned : slots) {
                connection_slot* slot = owned.get();
                const auto generation = slot->generation.load();
                asio::post(slot->strand, [slot, generation] {
                    if (slot->generation.load() != generation || slot->fd < 0) return;
                    slot->cancelled = true;
                    slot->cancel.emit(asio::cancellation_type::terminal);
                    slot->shut_down();
                });
            }
        });
        maybe_finish_stop();
    }

    // On control: completes the stop once it has begun, the accept loops
    // have closed their listeners and no connection is in flight.
    void maybe_finish_stop() {
        if (stop_begun && accept_loops_running == 0 && active.load() == 0) finish_stop();
    }

    // On control, once nothing is in flight: lets io.run() return.
    void finish_stop() {
        if (stopped) return;
        stopped = true;
        // Every connection has finished: end the workers, so that run() returns.
        std::vector<connection_slot*> workers;
        {
            std::lock_guard lock(mutex);
            for (const auto& owned : slots) workers.push_back(owned.get());
        }
        for (connection_slot* slot : workers) asio::dispatch(slot->strand, [slot] { slot->take(-1, AF_UNSPEC); });
        sweeper.cancel();
        stop_deadline.cancel();
        slot_freed.cancel();
        if (signals) signals->cancel();
        log(log_level::info, "stopped");
    }
};

server::server(handler on_request, server_options options)
    : impl_(std::make_unique<impl>(std::move(on_request), std::move(options))) {}

namespace {

handler wrap(simple_handler on_request) {
    if (!on_request) throw std::invalid_argument("scgi::server: empty handler");
    return [h = std::move(on_request)](request& req, response_writer& writer) -> asio::awaitable<void> {
        const response whole = co_await h(req);
        // Its error, if any, is the writer's: run_handler handles it.
        (void)co_await writer.send(whole);
    };
}

}  // namespace

server::server(simple_handler on_request, server_options options)
    : server(wrap(std::move(on_request)), std::move(options)) {}

server::~server() {
    stop();
    wait();
}

endpoint server::listen(const endpoint& where, std::error_code& ec) {
    listening_socket socket = scgi::listen(impl_->control, where, impl_->options.listen, ec);
    if (ec) return {};
    return impl_->add_listener(std::move(socket));
}

endpoint server::listen(const endpoint& where) {
    std::error_code ec;
    endpoint actual = listen(where, ec);
    if (ec) throw std::system_error(ec, "scgi::server: cannot listen on " + where.to_string());
    return actual;
}

std::size_t server::adopt_activated_sockets(std::error_code& ec) {
    auto sockets = scgi::adopt_activated_sockets(impl_->control, ec);
    if (ec) return 0;
    for (auto& socket : sockets) impl_->add_listener(std::move(socket));
    return sockets.size();
}

std::size_t server::adopt_activated_sockets() {
    std::error_code ec;
    const std::size_t n = adopt_activated_sockets(ec);
    if (ec) throw std::system_error(ec, "scgi::server: socket activation");
    return n;
}

endpoint server::adopt(int listening_fd, std::error_code& ec) {
    listening_socket socket = adopt_listening_socket(impl_->control, listening_fd, ec);
    if (ec) return {};
    return impl_->add_listener(std::move(socket));
}

endpoint server::adopt(int listening_fd) {
    std::error_code ec;
    endpoint actual = adopt(listening_fd, ec);
    if (ec) throw std::system_error(ec, "scgi::server: cannot adopt descriptor " + std::to_string(listening_fd));
    return actual;
}

std::vector<endpoint> server::endpoints() const { return impl_->bound; }

void server::run() {
    impl_->start_serving();
    // The calling thread is one of options.threads.
    for (unsigned i = 1; i < impl_->options.threads; ++i) {
        impl_->threads.emplace_back([this] { impl_->io.run(); });
    }
    impl_->io.run();
    wait();
}

void server::start() {
    impl_->start_serving();
    for (unsigned i = 0; i < impl_->options.threads; ++i) {
        impl_->threads.emplace_back([this] { impl_->io.run(); });
    }
}

void server::wait() {
    for (auto& t : impl_->threads) {
        if (t.joinable()) t.join();
    }
    impl_->threads.clear();
}

void server::stop() noexcept {
    impl_->stop_requested.store(true);
    if (!impl_->serving.load()) return;  // start_serving() will carry it out
    asio::post(impl_->control, [this] { impl_->begin_stop(); });
}

std::size_t server::active_connections() const noexcept { return impl_->active.load(); }

std::size_t server::connections_accepted() const noexcept { return impl_->accepted.load(); }

asio::any_io_executor server::get_executor() const noexcept { return impl_->io.get_executor(); }

}  // namespace scgi
