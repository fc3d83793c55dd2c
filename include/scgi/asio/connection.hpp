/// @file
/// A connected stream socket that costs the reactor nothing until it has to wait.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/experimental/append.hpp>
#include <asio/generic/stream_protocol.hpp>
#include <asio/post.hpp>
#include <asio/socket_base.hpp>

#include <scgi/asio/detail/io_ring.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>
#include <tuple>
#include <utility>

#include <poll.h>
#include <sys/uio.h>

namespace scgi {

/// One accepted (or connected) stream socket, TCP or Unix, owned as a plain
/// non-blocking descriptor until an operation has to wait: only then is it
/// handed to Asio, which registers it with the reactor (epoll). Behind a
/// front end on the same host a request usually arrives whole and its answer
/// fits the send buffer, so most connections never wait, and serving one
/// costs the system calls that move its bytes and nothing else.
///
/// It models Asio's AsyncReadStream and AsyncWriteStream: `asio::async_write`,
/// `scgi::async_read_request_head`, `scgi::async_read_body_some` and the
/// other composed operations run over it. `async_read_some` and
/// `async_write_some` try the system call first and wait only if it would
/// block; like Asio's own operations they never complete inside the
/// initiating call. `read_some` and `write_some` are that first try on its
/// own: they never wait, and report `asio::error::would_block` instead.
///
/// Errors are the socket's, as `std::system_category` codes (compare with
/// `asio::error::*`); the end of input is `asio::error::eof`. SIGPIPE is never
/// raised: a write to a peer that has gone returns `broken_pipe`.
///
/// Not thread-safe: use it from one strand (or an io_context run by one
/// thread), one read and one write in flight at a time.
class connection {
public:
    /// The executor operations complete on.
    using executor_type = asio::any_io_executor;
    /// `wait_read`, `wait_write` or `wait_error`, as for Asio's sockets.
    using wait_type = asio::socket_base::wait_type;
    /// `shutdown_receive`, `shutdown_send` or `shutdown_both`.
    using shutdown_type = asio::socket_base::shutdown_type;

    /// An unopened connection whose operations complete on `executor`.
    explicit connection(executor_type executor) noexcept : executor_(std::move(executor)) {}

    /// Closes the descriptor. Must not be destroyed with an operation in flight.
    ~connection() { close(); }

    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    /// Takes ownership of `descriptor`, a connected stream socket of address
    /// family `family` (AF_INET, AF_INET6 or AF_UNIX), and makes it
    /// non-blocking if it is not (accept4 with SOCK_NONBLOCK saves that call).
    /// (With a ring, see `submit_through`, the server passes blocking
    /// sockets and `is_non_blocking` true: io_uring waits for a socket
    /// itself, and a non-blocking one makes a send that must wait fail with
    /// EAGAIN. `read_some` and `write_some` pass MSG_DONTWAIT either way.)
    /// Throws std::invalid_argument if `descriptor` is negative or std::logic_error
    /// if the connection is open.
    void assign(int descriptor, int family, bool is_non_blocking = false);

    /// True from `assign` until `close` or `reset`.
    bool is_open() const noexcept { return fd_ >= 0; }

    /// The descriptor, -1 when closed. Still owned by the connection.
    int native_handle() const noexcept { return fd_; }

    /// True once an operation has had to wait, so the descriptor is
    /// registered with the reactor (for tests and diagnostics).
    bool is_registered() const noexcept { return socket_.has_value(); }

    /// The executor given to the constructor.
    executor_type get_executor() const noexcept { return executor_; }

    /// Receives what has arrived into `buffers`, without waiting: the bytes
    /// read, or 0 with `ec` set: `would_block` if nothing is there yet, `eof`
    /// if the peer has closed its side, the socket's error otherwise.
    template <class MutableBufferSequence>
    std::size_t read_some(const MutableBufferSequence& buffers, std::error_code& ec) noexcept {
        io_vectors vectors(buffers);
        return receive(vectors.view(), ec);
    }

    /// Sends as much of `buffers` as the socket takes now, without waiting:
    /// the bytes sent, or 0 with `ec` set (`would_block` if the send buffer
    /// is full).
    template <class ConstBufferSequence>
    std::size_t write_some(const ConstBufferSequence& buffers, std::error_code& ec) noexcept {
        io_vectors vectors(buffers);
        return send(vectors.view(), ec);
    }

    /// Reads at least one byte into `buffers` (AsyncReadStream), waiting
    /// until some arrive. Completion signature:
    /// `void(std::error_code, std::size_t)`. Cancellation (terminal, partial,
    /// total) and `cancel()`: `asio::error::operation_aborted`.
    ///
    /// It tries `read_some` first, also once the socket is registered: the
    /// reactor is edge-triggered, and after a short read Asio waits for the
    /// next edge, which never comes for input (or an end of input) that is
    /// already there. A `would_block` seen first guarantees the edge.
    template <class MutableBufferSequence, class ReadToken>
    auto async_read_some(const MutableBufferSequence& buffers, ReadToken&& token) {
        return asio::async_initiate<ReadToken, void(std::error_code, std::size_t)>(
            [this](auto handler, const MutableBufferSequence& into) {
                if (ring_) return start_through_ring(std::move(handler), io_vectors(into), false);
                std::error_code ec;
                const std::size_t n = read_some(into, ec);
                if (ec != asio::error::would_block || !register_with_reactor(ec)) {
                    return complete_soon(std::move(handler), ec, n);
                }
                socket_->async_read_some(into, std::move(handler));
            },
            token, buffers);
    }

    /// Writes at least one byte of `buffers` (AsyncWriteStream), waiting
    /// while the send buffer is full. Completion signature and cancellation
    /// as `async_read_some`.
    template <class ConstBufferSequence, class WriteToken>
    auto async_write_some(const ConstBufferSequence& buffers, WriteToken&& token) {
        return asio::async_initiate<WriteToken, void(std::error_code, std::size_t)>(
            [this](auto handler, const ConstBufferSequence& from) {
                if (ring_) return start_through_ring(std::move(handler), io_vectors(from), true);
                std::error_code ec;
                const std::size_t n = write_some(from, ec);
                if (ec != asio::error::would_block || !register_with_reactor(ec)) {
                    return complete_soon(std::move(handler), ec, n);
                }
                socket_->async_write_some(from, std::move(handler));
            },
            token, buffers);
    }

    /// Waits until the socket is readable (`wait_read`: bytes, the end of
    /// input or an error are there for the next `read_some`) or writable
    /// (`wait_write`), consuming nothing. Completion signature:
    /// `void(std::error_code)`; cancellation as `async_read_some`.
    ///
    /// Readiness that is already there is reported at once, even if the
    /// reactor saw it while nothing waited (possibly on another thread): Asio
    /// re-arms the descriptor for each wait (EPOLL_CTL_MOD), and epoll then
    /// reports what is ready now.
    template <class WaitToken>
    auto async_wait(wait_type what, WaitToken&& token) {
        return asio::async_initiate<WaitToken, void(std::error_code)>(
            [this](auto handler, wait_type w) {
                if (ring_ && fd_ >= 0) return start_wait_through_ring(std::move(handler), w);
                std::error_code ec;
                if (!register_with_reactor(ec)) {
                    return asio::post(executor_, asio::experimental::append(std::move(handler), ec));
                }
                socket_->async_wait(w, std::move(handler));
            },
            token, what);
    }

    /// Submits the waiting operations (`async_*`) through `ring`, the
    /// server's io_uring engine, instead of trying the system call and then
    /// waiting in the reactor: each becomes one submission entry, sent to the
    /// kernel with the others of its batch. Null:
    /// the reactor. `close` with nothing in flight stays close(2): the
    /// descriptor is free at once (a server short of descriptors depends on
    /// it). Only while the connection is closed; the ring must outlive it.
    /// `read_some` and `write_some` stay plain system calls.
    void submit_through(detail::io_ring* ring) noexcept { ring_ = ring; }

    /// With a ring only: receives at most `limit` bytes into one of the
    /// ring's own buffers, so
    /// that a connection waiting for bytes holds none. Completion signature:
    /// `void(std::error_code, std::size_t, std::uint32_t flags)`; the bytes
    /// are `ring()->provided(flags, n)`, and the caller gives the buffer back
    /// with `ring()->give_back(flags)`. With no buffer left in the ring the
    /// error is ENOBUFS. Cancellation as `async_read_some`.
    template <class ReadToken>
    auto async_receive_provided(std::size_t limit, ReadToken&& token) {
        return asio::async_initiate<ReadToken, void(std::error_code, std::size_t, std::uint32_t)>(
            [this, limit](auto handler) {
                using op = detail::ring_handler_op<decltype(handler), executor_type, ring_provided_result>;
                if (fd_ < 0 || !ring_) {
                    return asio::post(executor_, asio::experimental::append(std::move(handler),
                                                                            std::error_code(asio::error::bad_descriptor),
                                                                            std::size_t{0}, std::uint32_t{0}));
                }
                op::launch(*ring_, std::move(handler), executor_, ring_provided_result{this}, [&](op& o) {
                    ++ring_ops_;
                    ring_->receive_provided(fd_, limit, o);
                });
            },
            token);
    }

    /// The ring given to `submit_through`, or null.
    detail::io_ring* ring() const noexcept { return ring_; }

    /// Shuts down one or both directions (`shutdown(2)`): the peer sees the
    /// end of input, and operations on that side fail from now on.
    void shutdown(shutdown_type what, std::error_code& ec) noexcept;

    /// Ends the operations waiting on the socket with `operation_aborted`.
    void cancel() noexcept;

    /// Closes the descriptor (idempotent); waiting operations end with
    /// `operation_aborted`.
    void close() noexcept;

    /// Closes with a reset (RST) instead of an orderly end of stream: the
    /// peer sees `connection_reset`, never a complete-looking response.
    void reset() noexcept;

private:
    // The buffers of one call as iovecs; more than `max_vectors` are
    // rare for a stream, and a short count is allowed (the call reads or
    // writes "some").
    static constexpr std::size_t max_vectors = 16;
    struct io_vectors {
        template <class BufferSequence>
        explicit io_vectors(const BufferSequence& buffers) noexcept {
            auto it = asio::buffer_sequence_begin(buffers);
            const auto end = asio::buffer_sequence_end(buffers);
            for (; it != end && count < max_vectors; ++it) {
                const auto b = *it;
                if (b.size() == 0) continue;
                parts[count++] = iovec{const_cast<void*>(static_cast<const void*>(b.data())), b.size()};
            }
        }
        std::span<const iovec> view() const noexcept { return {parts.data(), count}; }
        std::array<iovec, max_vectors> parts;
        std::size_t count = 0;
    };

    std::size_t receive(std::span<const iovec> into, std::error_code& ec) noexcept;
    std::size_t send(std::span<const iovec> from, std::error_code& ec) noexcept;

    // Hands the descriptor to Asio. False (and `ec` set) if Asio refuses it
    // or the connection is closed.
    bool register_with_reactor(std::error_code& ec);

    // Completes an operation that did not have to wait, from the
    // connection's executor (as Asio completes its own immediate results),
    // never inside the initiating call.
    template <class Handler>
    void complete_soon(Handler handler, std::error_code ec, std::size_t n) {
        asio::post(executor_, asio::experimental::append(std::move(handler), ec, n));
    }

    // An operation through the ring: its result as Asio's (error, bytes).
    struct ring_result {
        connection* owner;
        bool is_read;
        std::tuple<std::error_code, std::size_t> operator()(int result, std::uint32_t) const noexcept {
            --owner->ring_ops_;
            if (result > 0) return {std::error_code(), static_cast<std::size_t>(result)};
            if (result == 0) {
                return {is_read ? std::error_code(asio::error::eof) : std::error_code(), std::size_t{0}};
            }
            return {error_of(result), std::size_t{0}};
        }
    };
    struct ring_wait_result {
        connection* owner;
        std::tuple<std::error_code> operator()(int result, std::uint32_t) const noexcept {
            --owner->ring_ops_;
            return {result < 0 ? error_of(result) : std::error_code()};
        }
    };
    struct ring_provided_result {
        connection* owner;
        std::tuple<std::error_code, std::size_t, std::uint32_t> operator()(int result,
                                                                           std::uint32_t flags) const noexcept {
            --owner->ring_ops_;
            if (result > 0) return {std::error_code(), static_cast<std::size_t>(result), flags};
            if (result == 0) return {std::error_code(asio::error::eof), std::size_t{0}, flags};
            return {error_of(result), std::size_t{0}, flags};
        }
    };
    // -ECANCELED is Asio's operation_aborted; other results are -errno.
    static std::error_code error_of(int result) noexcept;

    template <class Handler>
    void start_through_ring(Handler handler, const io_vectors& vectors, bool is_write) {
        if (fd_ < 0) return complete_soon(std::move(handler), asio::error::bad_descriptor, 0);
        if (vectors.count == 0) return complete_soon(std::move(handler), std::error_code(), 0);
        using op = detail::ring_handler_op<Handler, executor_type, ring_result>;
        op::launch(*ring_, std::move(handler), executor_, ring_result{this, !is_write}, [&](op& o) {
            ++ring_ops_;
            for (std::size_t i = 0; i < vectors.count; ++i) o.parts[i] = vectors.parts[i];
            o.message.msg_iov = o.parts;
            o.message.msg_iovlen = vectors.count;
            if (is_write) {
                ring_->send(fd_, o.message, o);
            } else {
                ring_->receive(fd_, o.message, o);
            }
        });
    }

    template <class Handler>
    void start_wait_through_ring(Handler handler, wait_type what) {
        using op = detail::ring_handler_op<Handler, executor_type, ring_wait_result>;
        const std::uint32_t events = what == wait_type::wait_write ? POLLOUT : what == wait_type::wait_read ? POLLIN : POLLPRI;
        op::launch(*ring_, std::move(handler), executor_, ring_wait_result{this}, [&](op& o) {
            ++ring_ops_;
            ring_->poll(fd_, events | POLLERR | POLLHUP, o);
        });
    }

    executor_type executor_;
    detail::io_ring* ring_ = nullptr;
    std::size_t ring_ops_ = 0;  // operations in flight through ring_
    int fd_ = -1;
    int family_ = 0;
    std::optional<asio::generic::stream_protocol::socket> socket_;  // owns fd_ once registered
};

}  // namespace scgi
