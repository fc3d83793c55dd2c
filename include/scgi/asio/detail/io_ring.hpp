/// @file
/// The server's io_uring ring (an implementation detail of scgi::server's
/// io_uring engine, see server_options::engine; liburing stays out of the
/// public headers).
#pragma once

#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/dispatch.hpp>
#include <asio/io_context.hpp>
#include <asio/recycling_allocator.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <tuple>
#include <utility>

#include <sys/socket.h>
#include <sys/uio.h>

namespace scgi::detail {

/// An operation submitted to an io_ring. `complete` runs exactly once, with
/// the completion's result (bytes or a descriptor, or -errno) and flags, on
/// the thread running the ring's io_context.
class ring_operation {
public:
    virtual void complete(int result, std::uint32_t flags) noexcept = 0;

protected:
    ~ring_operation() = default;
};

/// One io_uring instance serving an io_context: operations are queued as
/// submission entries and go to the kernel together, in one io_uring_enter,
/// once the handlers that are ready now have run; completions are reaped
/// from the shared completion queue without a system call. The ring's
/// eventfd (signalled only for completions that did not happen inside a
/// submission) sits in the io_context's reactor, so a thread waits for both
/// in one epoll_wait, and timers, posts and the other sockets of the program
/// go on working as before.
///
/// Used only from the one thread that runs the io_context (the ring is
/// IORING_SETUP_SINGLE_ISSUER where the kernel has it): a server with
/// several threads has a ring and an io_context per thread.
class io_ring {
public:
    struct settings {
        unsigned entries = 1024;
        /// Buffers for `receive_provided`: read buffers that belong to the
        /// ring, not to a connection (a power of two, each `provided_size`).
        unsigned provided_count = 256;
        std::uint32_t provided_size = 4096;
    };

    /// The ring itself is set up by the first operation, on the thread that
    /// runs it: a thread that creates a ring, or submits to one, is sent a
    /// task-work notification by the kernel when the ring is torn down, which
    /// interrupts a blocking socket call with a timeout (EINTR). A server's
    /// ring belongs only to the thread that runs its io_context.
    /// Ask `unavailable_reason` first: creation failing then is only
    /// std::system_error from the first operation.
    io_ring(asio::io_context& io, const settings& s);
    /// Closes the descriptors whose closes were queued but never submitted;
    /// operations still in flight are abandoned with the ring.
    ~io_ring();

    io_ring(const io_ring&) = delete;
    io_ring& operator=(const io_ring&) = delete;

    // Queue one operation each; `op` (and what `message` points to) must
    // live until it completes.
    void receive(int fd, msghdr& message, ring_operation& op);
    void send(int fd, msghdr& message, ring_operation& op);  // MSG_NOSIGNAL: what the socket takes
    void poll(int fd, std::uint32_t events, ring_operation& op);
    /// Receives at most `limit` bytes (and at most a buffer's size) into
    /// one of the ring's buffers: see `provided`.
    void receive_provided(int fd, std::size_t limit, ring_operation& op);
    /// The connection's socket is blocking (io_uring waits for it; the
    /// connection's own system calls pass MSG_DONTWAIT).
    void accept(int fd, sockaddr* address, socklen_t* length, ring_operation& op);
    /// Cancels `op` if it is in flight: it completes with -ECANCELED.
    void cancel(ring_operation& op);
    /// Cancels every operation on `fd`; `done`, if given, completes once
    /// they are cancelled (with their number, or -ENOENT), so that the
    /// caller can close `fd` knowing that no cancellation by that number is
    /// still to come.
    void cancel_all(int fd, ring_operation* done = nullptr);
    /// Closes `fd` with the next submission (nothing completes).
    void close(int fd);

    /// The ring's buffer a `receive_provided` completion with `flags`
    /// filled with `size` bytes; empty if it names none (an error, or the
    /// end of input).
    std::span<const char> provided(std::uint32_t flags, std::size_t size) const noexcept;
    /// Returns that buffer to the ring (once per completion that had one).
    void give_back(std::uint32_t flags) noexcept;

    /// Why this kernel or process cannot set up a ring with `s`, or empty if
    /// it can (sets one up and tears it down; call it from a thread that
    /// ends soon, see the constructor).
    static std::string unavailable_reason(const settings& s);

private:
    struct impl;
    impl& get();

    asio::io_context& io_;
    const settings settings_;
    std::unique_ptr<impl> impl_;
};

/// An io_ring operation that completes an Asio handler: `map(result,
/// flags)` gives the handler's arguments as a tuple. The handler runs on its
/// associated executor (inline when the ring's thread is already on it, as
/// Asio completes reactor operations), and its cancellation slot, if
/// connected, cancels the operation through the ring. Allocated with Asio's
/// per-thread recycling allocator: no heap allocation per operation once
/// warm.
template <class Handler, class Executor, class Map>
class ring_handler_op final : public ring_operation {
public:
    /// Starts: `start(op)` queues the operation on the ring.
    template <class Start>
    static void launch(io_ring& ring, Handler handler, const Executor& fallback, Map map, Start start) {
        allocator_type alloc;
        ring_handler_op* op = std::allocator_traits<allocator_type>::allocate(alloc, 1);
        ::new (static_cast<void*>(op)) ring_handler_op(std::move(handler), fallback, std::move(map));
        auto slot = asio::get_associated_cancellation_slot(op->handler_);
        if (slot.is_connected()) slot.template emplace<canceller>(ring, *op);
        start(*op);
    }

    /// For operations that need a message header (and its vectors) that
    /// lives as long as they do.
    msghdr message{};
    iovec parts[16];

    // On the ring's thread, which runs the handler's executor too (a
    // connection's strand lives on its thread's io_context).
    void complete(int result, std::uint32_t flags) noexcept override {
        auto slot = asio::get_associated_cancellation_slot(handler_);
        if (slot.is_connected()) slot.clear();
        auto executor = asio::get_associated_executor(handler_, fallback_);
        auto arguments = map_(result, flags);
        Handler handler = std::move(handler_);
        allocator_type alloc;
        this->~ring_handler_op();
        std::allocator_traits<allocator_type>::deallocate(alloc, this, 1);
        asio::dispatch(executor, [h = std::move(handler), args = std::move(arguments)]() mutable {
            std::apply(std::move(h), std::move(args));
        });
    }

private:
    using allocator_type = asio::recycling_allocator<ring_handler_op>;

    struct canceller {
        canceller(io_ring& r, ring_operation& o) noexcept : ring(r), op(o) {}
        void operator()(asio::cancellation_type type) const {
            if ((type & (asio::cancellation_type::terminal | asio::cancellation_type::partial |
                         asio::cancellation_type::total)) != asio::cancellation_type::none) {
                ring.cancel(op);
            }
        }
        io_ring& ring;
        ring_operation& op;
    };

    ring_handler_op(Handler handler, const Executor& fallback, Map map)
        : handler_(std::move(handler)), fallback_(fallback), map_(std::move(map)) {}
    ~ring_handler_op() = default;

    Handler handler_;
    Executor fallback_;
    Map map_;
};

}  // namespace scgi::detail
