// The server's io_uring ring: queueing, one submission per batch, reaping.
#include <scgi/asio/detail/io_ring.hpp>

#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <new>
#include <system_error>

#include <liburing.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

namespace scgi::detail {
namespace {

constexpr int provided_group = 0;

std::system_error setup_error(int error_number, const std::string& what) {
    return std::system_error(error_number, std::system_category(), what);
}

// What kernel.io_uring_disabled says, for the reason io_uring_setup failed.
std::string disabled_setting() {
    std::ifstream setting("/proc/sys/kernel/io_uring_disabled");
    int value = 0;
    if (!(setting >> value) || value == 0) return {};
    return value == 2 ? " (kernel.io_uring_disabled is 2)" : " (kernel.io_uring_disabled is 1)";
}

}  // namespace

struct io_ring::impl {
    impl(asio::io_context& context, const settings& s)
        : io(context), wakeups(context), provided_count(s.provided_count),
          provided_size(s.provided_size) {
        io_uring_params params{};
        // Created by the thread that first submits (see io_ring::get), the
        // one thread that runs the io_context: its single issuer, so the
        // kernel may skip the locking a shared ring needs.
        //
        // Completions that had to wait also run only when that thread asks
        // (DEFER_TASKRUN): the kernel queues them and
        // signals the eventfd, instead of interrupting the thread (an
        // inter-processor interrupt when it runs elsewhere, costly in a VM)
        // to post each one. TASKRUN_FLAG says in the shared ring when some
        // are queued.
        params.flags = IORING_SETUP_CLAMP | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
                       IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
        params.cq_entries = s.entries * 4;
        params.flags |= IORING_SETUP_CQSIZE;
        int rc = io_uring_queue_init_params(s.entries, &ring, &params);
        if (rc == -EINVAL) {
            // A kernel before 6.1 has no SINGLE_ISSUER or DEFER_TASKRUN.
            params = io_uring_params{};
            params.flags = IORING_SETUP_CLAMP | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE;
            params.cq_entries = s.entries * 4;
            rc = io_uring_queue_init_params(s.entries, &ring, &params);
        }
        if (rc < 0) throw setup_error(-rc, "io_uring_setup" + disabled_setting());
        initialised = true;
        deferred = (params.flags & IORING_SETUP_DEFER_TASKRUN) != 0;
        try {
            finish_setup(params);
        } catch (...) {
            tear_down();  // (no destructor runs for a constructor that throws)
            throw;
        }
    }

    void finish_setup(const io_uring_params& params) {
        if ((params.features & IORING_FEAT_NODROP) == 0 || (params.features & IORING_FEAT_FAST_POLL) == 0 ||
            (params.features & IORING_FEAT_CQE_SKIP) == 0) {
            throw setup_error(ENOSYS, "io_uring: the kernel lacks NODROP, FAST_POLL or CQE_SKIP (Linux 5.17+)");
        }
        set_up_provided_buffers();
        const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (fd < 0) throw setup_error(errno, "eventfd");
        std::error_code ec;
        wakeups.assign(fd, ec);
        if (ec) {
            ::close(fd);
            throw std::system_error(ec, "io_uring: eventfd");
        }
        const int rc = io_uring_register_eventfd(&ring, fd);
        if (rc < 0) throw setup_error(-rc, "io_uring_register_eventfd");
        io_uring_cq_eventfd_toggle(&ring, false);
        // io_uring_enter then skips the ring descriptor's look-up. The
        // registration is the creating thread's alone, as is the ring.
        io_uring_register_ring_fd(&ring);
    }

    ~impl() { tear_down(); }

    void tear_down() noexcept {
        if (!initialised) return;
        initialised = false;
        // Entries never submitted (the io_context stopped before its last
        // pump): their closes must still happen. The ring may belong to
        // another thread (single issuer), so they are done here.
        for (unsigned i = ring.sq.sqe_tail - pending; i != ring.sq.sqe_tail; ++i) {
            const io_uring_sqe& sqe = ring.sq.sqes[i & *ring.sq.kring_mask];
            if (sqe.opcode == IORING_OP_CLOSE) ::close(sqe.fd);
        }
        io_uring_queue_exit(&ring);
        if (buffer_ring) ::munmap(buffer_ring, buffer_ring_bytes());
        std::free(buffers);
        buffer_ring = nullptr;
        buffers = nullptr;
    }

    // Provided buffers (Linux 5.19): a ring of buffers the kernel picks from
    // when a read completes, so that a connection waiting for bytes holds
    // none.
    void set_up_provided_buffers() {
        void* memory = ::mmap(nullptr, buffer_ring_bytes(), PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
        if (memory == MAP_FAILED) throw setup_error(errno, "io_uring: mmap of the buffer ring");
        buffer_ring = static_cast<io_uring_buf_ring*>(memory);
        io_uring_buf_reg registration{};
        registration.ring_addr = reinterpret_cast<std::uintptr_t>(buffer_ring);
        registration.ring_entries = provided_count;
        registration.bgid = provided_group;
        const int rc = io_uring_register_buf_ring(&ring, &registration, 0);
        if (rc < 0) throw setup_error(-rc, "io_uring: provided buffer ring (Linux 5.19+)");
        io_uring_buf_ring_init(buffer_ring);
        buffers = static_cast<char*>(std::aligned_alloc(4096, std::size_t{provided_count} * provided_size));
        if (!buffers) throw std::bad_alloc();
        for (unsigned id = 0; id < provided_count; ++id) add_buffer(id, static_cast<int>(id));
        io_uring_buf_ring_advance(buffer_ring, static_cast<int>(provided_count));
    }

    std::size_t buffer_ring_bytes() const noexcept { return sizeof(io_uring_buf) * provided_count; }

    void add_buffer(unsigned id, int offset) noexcept {
        io_uring_buf_ring_add(buffer_ring, buffers + std::size_t{id} * provided_size, provided_size,
                              static_cast<unsigned short>(id), io_uring_buf_ring_mask(provided_count), offset);
    }

    // An entry for the next submission; with the queue full, what is queued
    // goes to the kernel first.
    io_uring_sqe* entry() {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring);
        while (sqe == nullptr) {
            submit_now();
            sqe = io_uring_get_sqe(&ring);
        }
        return sqe;
    }

    // Queues one entry, filled by `prepare(sqe)`, for `op` (null: one whose
    // completion nobody waits for, such as a cancellation's own).
    template <class Prepare>
    void submit(ring_operation* op, Prepare prepare) {
        io_uring_sqe* sqe = entry();
        prepare(sqe);
        io_uring_sqe_set_data(sqe, op);
        queued(op != nullptr);
    }

    // After an entry is filled: counts it, and makes sure a pump runs once
    // the handlers that are ready now have run (they may queue more).
    void queued(bool completes) {
        ++pending;
        if (completes) ++in_flight;
        if (!pumping && !pump_posted) {
            pump_posted = true;
            asio::post(io, [this] { pump(); });
        }
    }

    // True if completions wait in the kernel for this thread to run them.
    bool work_queued() const noexcept {
        return deferred && (IO_URING_READ_ONCE(*ring.sq.kflags) & IORING_SQ_TASKRUN) != 0;
    }

    void submit_now() {
        const bool run_work = work_queued();
        if (pending == 0 && !run_work) return;
        int rc = 0;
        do {
            // With deferred completions, the same enter runs them.
            rc = deferred ? io_uring_submit_and_get_events(&ring) : io_uring_submit(&ring);
        } while (rc == -EINTR);
        // EBUSY and EAGAIN: completions must be reaped first (the kernel
        // holds overflowed ones, or is short of memory); the pump's loop
        // does that and comes back. Anything else is a misuse of the ring.
        if (rc < 0 && rc != -EAGAIN && rc != -EBUSY) throw setup_error(-rc, "io_uring_enter");
        pending = io_uring_sq_ready(&ring);
    }

    // Submits what is queued and completes what is ready, until neither is
    // left; then, if operations are in flight, waits (in the reactor) for
    // the eventfd.
    //
    // The eventfd is signalled only while such a wait is armed (a flag in
    // the shared ring, no system call): completions that arrive while the
    // pump runs, such as those of the entries it submits that complete at
    // once, are reaped here, and must not cost a wake-up later.
    void pump() {
        pump_posted = false;
        if (pumping) return;
        pumping = true;
        io_uring_cq_eventfd_toggle(&ring, false);
        // Under steady load every round brings new completions: after a few
        // the pump yields to the io_context (timers, the stop, signals) and
        // comes back through the queue, as any other handler.
        for (int round = 0;; ++round) {
            if (round == max_rounds) {
                pump_posted = true;
                asio::post(io, [this] { pump(); });
                break;
            }
            submit_now();
            if (complete_ready()) continue;
            if (pending != 0 || work_queued()) continue;
            if (in_flight == 0) {
                if (waiting) {
                    // Nothing can complete: the wait must not keep the
                    // io_context running.
                    std::error_code ignored;
                    wakeups.cancel(ignored);
                }
                break;
            }
            if (waiting) {
                io_uring_cq_eventfd_toggle(&ring, true);  // the wait armed before this pump
            } else {
                arm_wait();
            }
            // The kernel sets TASKRUN, then reads the eventfd switch; this
            // thread sets the switch, then reads TASKRUN and the queue: a
            // full fence between, or each may miss the other's write.
            std::atomic_thread_fence(std::memory_order_seq_cst);
            // A completion that came before the eventfd was switched on did
            // not signal it.
            if (io_uring_cq_ready(&ring) == 0 && !work_queued()) break;
            io_uring_cq_eventfd_toggle(&ring, false);
        }
        pumping = false;
    }

    // Completes the operations whose completions are in the queue; false if
    // there were none.
    bool complete_ready() {
        bool any = false;
        io_uring_cqe* cqe = nullptr;
        while (io_uring_peek_cqe(&ring, &cqe) == 0 && cqe != nullptr) {
            auto* op = reinterpret_cast<ring_operation*>(static_cast<std::uintptr_t>(cqe->user_data));
            const int result = cqe->res;
            const std::uint32_t flags = cqe->flags;
            io_uring_cqe_seen(&ring, cqe);
            any = true;
            if (op == nullptr) continue;  // a cancel's own completion
            --in_flight;
            op->complete(result, flags);
        }
        return any;
    }

    // Waits for the eventfd by reading it: the read resets its count (a
    // wait alone would leave it readable), and once a read has found less
    // than it asked for, Asio queues the next one without a system call
    // (an async_wait re-arms the descriptor with epoll_ctl every time).
    void arm_wait() {
        waiting = true;
        io_uring_cq_eventfd_toggle(&ring, true);
        wakeups.async_read_some(asio::buffer(wake_count), [this](std::error_code, std::size_t) {
            waiting = false;
            pump();
        });
    }

    asio::io_context& io;
    io_uring ring{};
    bool initialised = false;
    bool deferred = false;  // IORING_SETUP_DEFER_TASKRUN
    asio::posix::stream_descriptor wakeups;
    char wake_count[16]{};  // an eventfd read returns 8 bytes: 16 asked marks it drained
    unsigned pending = 0;         // entries queued, not submitted
    std::size_t in_flight = 0;    // submitted operations that will complete
    bool pump_posted = false;
    static constexpr int max_rounds = 16;
    bool pumping = false;
    bool waiting = false;         // a wait for the eventfd is armed

    io_uring_buf_ring* buffer_ring = nullptr;
    char* buffers = nullptr;
    const unsigned provided_count;
    const std::uint32_t provided_size;
};

io_ring::io_ring(asio::io_context& io, const settings& s) : io_(io), settings_(s) {}

io_ring::~io_ring() = default;

io_ring::impl& io_ring::get() {
    if (!impl_) impl_ = std::make_unique<impl>(io_, settings_);
    return *impl_;
}

void io_ring::receive(int fd, msghdr& message, ring_operation& op) {
    get().submit(&op, [&](io_uring_sqe* sqe) { io_uring_prep_recvmsg(sqe, fd, &message, 0); });
}

void io_ring::send(int fd, msghdr& message, ring_operation& op) {
    // Not MSG_WAITALL: a send cancelled after it sent some bytes completes
    // with their count, which would hide the write timeout; asio::async_write
    // sends the rest.
    get().submit(&op, [&](io_uring_sqe* sqe) { io_uring_prep_sendmsg(sqe, fd, &message, MSG_NOSIGNAL); });
}

void io_ring::poll(int fd, std::uint32_t events, ring_operation& op) {
    get().submit(&op, [&](io_uring_sqe* sqe) { io_uring_prep_poll_add(sqe, fd, events); });
}

void io_ring::receive_provided(int fd, std::size_t limit, ring_operation& op) {
    impl& r = get();
    const auto length = static_cast<std::uint32_t>(std::min<std::size_t>(limit, r.provided_size));
    r.submit(&op, [&](io_uring_sqe* sqe) {
        io_uring_prep_recv(sqe, fd, nullptr, length, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = provided_group;
    });
}

void io_ring::accept(int fd, sockaddr* address, socklen_t* length, ring_operation& op) {
    // Blocking sockets: io_uring waits for them itself (a non-blocking one
    // makes a send that has to wait fail with EAGAIN instead).
    get().submit(&op, [&](io_uring_sqe* sqe) { io_uring_prep_accept(sqe, fd, address, length, SOCK_CLOEXEC); });
}

void io_ring::cancel(ring_operation& op) {
    get().submit(nullptr, [&](io_uring_sqe* sqe) { io_uring_prep_cancel(sqe, &op, 0); });
}

void io_ring::cancel_all(int fd, ring_operation* done) {
    get().submit(done, [&](io_uring_sqe* sqe) { io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL); });
}

void io_ring::close(int fd) {
    get().submit(nullptr, [&](io_uring_sqe* sqe) {
        io_uring_prep_close(sqe, fd);
        sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    });
}

std::span<const char> io_ring::provided(std::uint32_t flags, std::size_t size) const noexcept {
    if ((flags & IORING_CQE_F_BUFFER) == 0) return {};
    const unsigned id = flags >> IORING_CQE_BUFFER_SHIFT;
    return {impl_->buffers + std::size_t{id} * impl_->provided_size, size};
}

void io_ring::give_back(std::uint32_t flags) noexcept {
    if ((flags & IORING_CQE_F_BUFFER) == 0) return;
    impl_->add_buffer(flags >> IORING_CQE_BUFFER_SHIFT, 0);
    io_uring_buf_ring_advance(impl_->buffer_ring, 1);
}

std::string io_ring::unavailable_reason(const settings& s) {
    asio::io_context probe_context;
    try {
        impl probe(probe_context, s);
    } catch (const std::system_error& e) {
        return e.what();
    } catch (const std::exception& e) {
        return e.what();
    }
    return {};
}

}  // namespace scgi::detail
