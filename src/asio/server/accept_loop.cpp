// Accepting connections and handing them to slots.
#include "peer_gate.hpp"
#include "server_impl.hpp"

#include <asio/dispatch.hpp>
#include <asio/post.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <sys/socket.h>
#include <unistd.h>

namespace scgi {
namespace {

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

// A connection from the listener's queue, non-blocking and not inherited by
// programs a handler starts (Asio's own accept sets neither flag); -1 with
// errno set if none. The peer's address comes in the same call, for the
// peer filter and for log lines (getpeername fails after a reset).
// (With the io_uring engine the socket is blocking: `blocking`.)
int accept_pending(listening_socket::acceptor_type& acceptor, sockaddr_storage& peer, socklen_t& peer_length,
                   bool blocking = false) noexcept {
    const int flags = blocking ? SOCK_CLOEXEC : SOCK_NONBLOCK | SOCK_CLOEXEC;
    peer_length = sizeof peer;
    return ::accept4(acceptor.native_handle(), reinterpret_cast<sockaddr*>(&peer), &peer_length, flags);
}

// False for a peer server_options::peers refuses: it is closed here, before
// any byte is read or written (the gate has logged it).
bool admitted(detail::peer_gate& gate, int fd, const sockaddr_storage& peer, socklen_t peer_length) noexcept {
    if (!gate.active() || gate.admit(fd, peer, peer_length)) return true;
    ::close(fd);
    return false;
}

// A run of failed accepts the loop backs off from (EMFILE and the like),
// logged as one episode: a line when it starts, a line once accepting has
// worked for `quiet` since the last failure. A server at its descriptor
// limit under load fails again right after each success; those failures
// belong to the same episode, not to a line pair each.
struct accept_backoff {
    using clock = std::chrono::steady_clock;
    static constexpr std::chrono::seconds quiet{1};

    unsigned long retries = 0;  // failed accepts in this episode; 0: no episode
    clock::time_point since;
    clock::time_point last_failure;

    // Counts a failure; true if it starts an episode.
    bool failed(clock::time_point now) noexcept {
        if (retries++ == 0) since = now;
        last_failure = now;
        return retries == 1;
    }

    // True if an episode is over: accepting has worked for `quiet`.
    bool recovered(clock::time_point now) const noexcept { return retries != 0 && now - last_failure >= quiet; }

    // "1.3 s (13 retries)": from the first failure to the last.
    std::string describe() const {
        using std::chrono::milliseconds;
        const auto lasted = std::chrono::duration_cast<milliseconds>(last_failure - since);
        return std::to_string(lasted.count() / 1000) + "." + std::to_string(lasted.count() % 1000 / 100) + " s (" +
               std::to_string(retries) + (retries == 1 ? " retry)" : " retries)");
    }
};

}  // namespace

// Accepts first and waits for readiness only when nothing is pending: under
// load a connection costs one accept4.
//
// On stop it accepts what the kernel has already queued before closing the
// listener: those clients have connected as far as they can tell, and
// closing would reset them. (A Unix socket's file is gone by then, so nothing
// new arrives; a TCP port shared with SO_REUSEPORT still gets new connections
// until the close, see docs/scaling-out.md.)
asio::awaitable<void> server::impl::accept_loop(listening_socket& listener) {
    auto& acceptor = listener.acceptor();
    const int family = family_or_end(listener);
    if (family < 0) co_return;
    detail::peer_gate gate(options, logs, family, listener.endpoint().to_string());
    sockaddr_storage peer{};
    socklen_t peer_length = 0;
    std::optional<asio::steady_timer> backoff;
    accept_backoff throttled;
    std::shared_ptr<bool> recovery_due;  // the backoff timer ended a wait for readiness
    while (!stop_requested) {
        const int fd = accept_pending(acceptor, peer, peer_length);
        const std::error_code ec(fd < 0 ? errno : 0, std::system_category());
        // (The clock is read only during an episode: this runs for every connection.)
        if (throttled.retries != 0 && (fd >= 0 || ec == std::errc::operation_would_block) &&
            throttled.recovered(std::chrono::steady_clock::now())) {
            log(log_level::info, "accept on " + listener.endpoint().to_string() + " works again; it failed for " +
                                     throttled.describe());
            throttled = {};
        }
        if (fd < 0) {
            if (ec == std::errc::operation_would_block || ec == std::errc::resource_unavailable_try_again) {
                // In an episode, the recovery line is due `quiet` after the
                // last failure whether or not anyone connects by then: a
                // timer ends the wait (on control, like this loop).
                // (The flag is shared: a timer that expired as the wait
                // ended still runs its handler, maybe after this loop.)
                if (recovery_due) *recovery_due = false;
                if (throttled.retries != 0) {
                    backoff->expires_at(throttled.last_failure + accept_backoff::quiet);
                    backoff->async_wait([&acceptor, due = recovery_due](std::error_code timer_error) {
                        if (timer_error) return;  // cancelled
                        *due = true;
                        std::error_code ignored;
                        acceptor.cancel(ignored);  // the acceptor outlives the loop (closed, not destroyed)
                    });
                }
                auto [wait_error] = co_await acceptor.async_wait(asio::socket_base::wait_read, detail::use_tuple);
                if (backoff) backoff->cancel();
                if (wait_error && !(recovery_due && *recovery_due)) break;  // cancelled by stop()
                continue;
            }
            if (is_transient_accept_error(ec)) continue;
            if (stop_requested || ec == std::errc::bad_file_descriptor) break;
            // EMFILE and the like: the pending connection stays in the
            // backlog, so retrying at once would spin. Back off, and say so
            // once, not ten times a second for as long as it lasts.
            if (throttled.failed(std::chrono::steady_clock::now())) {
                log(log_level::error, "accept on " + listener.endpoint().to_string() + ": " + ec.message() +
                                          "; retrying every 100 ms, logged again once it has worked for 1 s");
            }
            if (!backoff) {
                backoff.emplace(control);
                recovery_due = std::make_shared<bool>(false);
            }
            backoff->expires_after(std::chrono::milliseconds(100));
            co_await backoff->async_wait(detail::use_tuple);
            continue;
        }
        if (!admitted(gate, fd, peer, peer_length)) continue;
        if (!hand_over_now(fd, family, peer)) {
            const bool served = co_await hand_over_when_free(fd, family, peer);
            if (!served) break;
        }
    }
    co_await take_queued_then_close(acceptor, gate, family, /*blocking=*/false);
}

namespace {

// The io_uring engine keeps this many accepts in the ring per listener,
// each with its own buffer for the peer's address (a multishot accept has
// one buffer for all its connections, and the peer filter and the log lines
// need each peer's address): a burst of connections is taken in one batch.
constexpr std::size_t accepts_in_flight = 4;

struct ring_accepts;

// One accept in the ring. Its completion is carried over to the loop's
// executor (inline: the ring's thread runs it).
struct ring_accept final : detail::ring_operation {
    ring_accepts* owner = nullptr;
    sockaddr_storage peer{};
    socklen_t peer_length = 0;
    int result = 0;
    bool in_flight = false;
    bool done = false;      // completed, not yet taken by the loop
    bool to_retry = false;  // failed (EMFILE and the like): armed again after the back-off

    void complete(int r, std::uint32_t) noexcept override;
};

// The accepts of one listener, and the loop waiting for one of them.
struct ring_accepts {
    ring_accepts(detail::io_ring& r, asio::any_io_executor loop_executor, int listener)
        : ring(r), executor(std::move(loop_executor)), fd(listener) {
        for (auto& a : slots) a.owner = this;
        cancelling.owner = this;
    }

    detail::io_ring& ring;
    asio::any_io_executor executor;  // the loop's: the ring's thread
    int fd;
    std::array<ring_accept, accepts_in_flight> slots;
    ring_accept cancelling;  // the loop's cancellation of the accepts, at stop (never taken)
    std::optional<detail::resume_handler> waiter;  // on executor
    std::size_t next = 0;

    void arm(ring_accept& a) {
        a.peer_length = sizeof a.peer;
        ring.accept(fd, reinterpret_cast<sockaddr*>(&a.peer), &a.peer_length, a);
        a.in_flight = true;  // (not if the ring could not take it)
    }

    // A completed accept, in the order the slots were armed; null if none.
    ring_accept* take() noexcept {
        for (std::size_t i = 0; i < slots.size(); ++i) {
            ring_accept& a = slots[(next + i) % slots.size()];
            if (!a.done) continue;
            next = (next + i + 1) % slots.size();
            a.done = false;
            return &a;
        }
        return nullptr;
    }

    bool any_to_retry() const noexcept {
        return std::any_of(slots.begin(), slots.end(), [](const ring_accept& a) { return a.to_retry; });
    }

    // Arms one of the accepts that failed.
    void retry_one() {
        for (auto& a : slots) {
            if (!a.to_retry) continue;
            a.to_retry = false;
            arm(a);
            return;
        }
    }

    bool any_accept_in_flight() const noexcept {
        return std::any_of(slots.begin(), slots.end(), [](const ring_accept& a) { return a.in_flight; });
    }

    bool any_in_flight() const noexcept {
        return cancelling.in_flight ||
               std::any_of(slots.begin(), slots.end(), [](const ring_accept& a) { return a.in_flight; });
    }

    // On executor: resumes the loop if it waits.
    void wake() {
        if (!waiter) return;
        detail::resume_handler resume = std::move(*waiter);
        waiter.reset();
        std::move(resume)();
    }

    // Suspends the loop until an accept completes or `wake` is called.
    asio::awaitable<void> wait() {
        return asio::async_initiate<const asio::use_awaitable_t<>, void()>(
            [this](detail::resume_handler handler) { waiter.emplace(std::move(handler)); }, asio::use_awaitable);
    }
};

void ring_accept::complete(int r, std::uint32_t) noexcept {
    ring_accepts* o = owner;
    asio::dispatch(o->executor, [this, o, r] {
        result = r;
        in_flight = false;
        done = true;
        o->wake();
    });
}

}  // namespace

// The io_uring engine's accept loops for one listener, on control: each
// thread's ring takes connections from it (accept_through_ring), and once
// all have ended the queue is drained and the listener closed, as
// accept_loop does.
asio::awaitable<void> server::impl::accept_loop_through_rings(listening_socket& listener) {
    auto& acceptor = listener.acceptor();
    const int family = family_or_end(listener);
    if (family < 0) co_return;
    // The other threads' loops report here, on control, when they end; shared,
    // not in this frame, which must not be referred to if it ends first.
    struct loops_state {
        loops_state(std::size_t others, const asio::any_io_executor& control_executor)
            : others_running(others), others_ended(control_executor, asio::steady_timer::time_point::max()) {}
        std::size_t others_running;
        asio::steady_timer others_ended;
        bool serving_stopped = false;  // the stop deadline passed while a connection waited for a slot
    };
    const auto state = std::make_shared<loops_state>(ring_threads.size(), control);
    for (std::size_t t = 0; t < ring_threads.size(); ++t) {
        asio::co_spawn(ring_threads[t]->io, accept_through_ring(listener, family, t + 1),
                       [this, state](std::exception_ptr e, bool dropped) {
                           if (e) {
                               log_failure(detail::log_event::internal_failure, log_level::error,
                                           "accept loop failed: ", e);
                           }
                           asio::post(control, [state, dropped] {
                               if (dropped) state->serving_stopped = true;
                               if (--state->others_running == 0) state->others_ended.cancel();
                           });
                       });
    }
    // (A failure here must not skip the wait for the others, or the
    // listener's close: the stop waits for it.)
    try {
        if (co_await accept_through_ring(listener, family, 0)) state->serving_stopped = true;
    } catch (...) {
        log_failure(detail::log_event::internal_failure, log_level::error, "accept loop failed: ",
                    std::current_exception());
    }
    while (state->others_running != 0) co_await state->others_ended.async_wait(detail::use_tuple);
    if (state->serving_stopped) {
        end_accept_loop(acceptor);
        co_return;
    }
    detail::peer_gate gate(options, logs, family, listener.endpoint().to_string());
    co_await take_queued_then_close(acceptor, gate, family, /*blocking=*/true);
}

// One thread's accept loop on `home`'s ring: what accept_loop does, with
// the accepts in the ring. A connection costs no accept4 and no wait of its
// own: its accept completes in the batch that submits other work, and it is
// served on this thread. Returns once the stop has begun and its accepts
// have ended; true if the stop deadline passed while a connection waited
// for a slot (nothing more is served).
asio::awaitable<bool> server::impl::accept_through_ring(listening_socket& listener, int family, std::size_t home) {
    ring_thread* const thread = home == 0 ? nullptr : ring_threads[home - 1].get();
    const asio::any_io_executor executor = thread ? thread->io.get_executor() : control;
    detail::io_ring& ring_of_home = thread ? thread->ring : *ring;
    auto& accept_states = thread ? thread->accept_states : ring_accept_states;
    detail::peer_gate gate(options, logs, family, listener.endpoint().to_string());
    // Owned by the server (see ring_accept_states), not by this frame; the
    // backoff timer's handler, which may run after the loop, holds it weakly.
    ring_accepts* const owned = [&] {
        auto state = std::make_shared<ring_accepts>(ring_of_home, executor, listener.acceptor().native_handle());
        accept_states.push_back(state);
        return state.get();
    }();
    const std::weak_ptr<ring_accepts> weak_accepts = std::static_pointer_cast<ring_accepts>(accept_states.back());
    ring_accepts& accepts = *owned;
    asio::steady_timer backoff(executor);
    accept_backoff throttled;
    bool serving_stopped = false;  // the stop deadline passed while a connection waited for a slot
    // A failure (the ring cannot be set up, memory) ends serving this
    // listener, through the same steps as a stop: nothing is left in the
    // ring, the listener closes, and the server stops when asked.
    std::exception_ptr failure;
    try {
        for (auto& a : accepts.slots) accepts.arm(a);
        while (!stop_requested && !serving_stopped) {
            ring_accept* a = accepts.take();
            if (a == nullptr && accepts.any_to_retry() && !accepts.any_accept_in_flight()) {
                // After an accept failed (EMFILE and the like) one accept at
                // a time is in the ring, as the epoll engine's one accept4,
                // armed again 100 ms after each failure; the others stay
                // parked for the server's life: a process that met its
                // descriptor limit once would meet it again with four
                // accepts taking descriptors at once.
                backoff.expires_after(std::chrono::milliseconds(100));
                co_await backoff.async_wait(detail::use_tuple);
                accepts.retry_one();
                continue;
            }
            if (a == nullptr) {
                if (throttled.retries != 0) {
                    // The recovery line is due `quiet` after the last failure,
                    // whether or not anyone connects by then.
                    if (throttled.recovered(std::chrono::steady_clock::now())) {
                        log(log_level::info, "accept on " + listener.endpoint().to_string() +
                                                 " works again; it failed for " + throttled.describe());
                        throttled = {};
                        continue;
                    }
                    backoff.expires_at(throttled.last_failure + accept_backoff::quiet);
                    backoff.async_wait([weak_accepts](std::error_code timer_error) {
                        const auto alive = weak_accepts.lock();
                        if (!timer_error && alive) alive->wake();
                    });
                }
                co_await accepts.wait();
                backoff.cancel();
                continue;
            }
            const std::error_code ec(a->result < 0 ? -a->result : 0, std::system_category());
            if (a->result >= 0) {
                const int fd = a->result;
                const sockaddr_storage peer = a->peer;
                const socklen_t peer_length = a->peer_length;
                if (throttled.retries != 0 && throttled.recovered(std::chrono::steady_clock::now())) {
                    log(log_level::info, "accept on " + listener.endpoint().to_string() + " works again; it failed for " +
                                             throttled.describe());
                    throttled = {};
                }
                if (admitted(gate, fd, peer, peer_length) && !hand_over_now(fd, family, peer, home)) {
                    // At max_connections: the other accepts are called back, so
                    // that this one connection waits for a slot and the rest
                    // wait in the kernel's backlog, as with epoll (with
                    // several threads, one such connection per thread). (One that
                    // completed already is served next; the cancelled ones are
                    // armed again when the loop takes their completions.)
                    ring_of_home.cancel_all(accepts.fd);
                    const bool served = co_await hand_over_when_free(fd, family, peer, home);
                    if (!served) {
                        serving_stopped = true;
                        continue;
                    }
                }
                accepts.arm(*a);
                continue;
            }
            if (ec == std::errc::operation_canceled || ec == std::errc::bad_file_descriptor) {
                if (stop_requested) break;
                accepts.arm(*a);  // the limit's cancellation, or another's of all on the descriptor
                continue;
            }
            if (is_transient_accept_error(ec)) {
                accepts.arm(*a);
                continue;
            }
            if (throttled.failed(std::chrono::steady_clock::now())) {
                log(log_level::error, "accept on " + listener.endpoint().to_string() + ": " + ec.message() +
                                          "; retrying every 100 ms, logged again once it has worked for 1 s");
            }
            a->to_retry = true;
        }
    } catch (...) {
        failure = std::current_exception();
    }
    if (failure) {
        log_failure(detail::log_event::internal_failure, log_level::error,
                    "accept loop on " + listener.endpoint().to_string() + " failed, this thread no longer accepts there: ",
                    failure);
    }
    // Stopping: the accepts still in the ring end (those that accepted a
    // connection meanwhile are served), then what is queued, as accept_loop.
    // The cancellation's own completion is waited for too: the listener's
    // descriptor closes after it, so it cannot hit a socket that reuses the
    // number.
    if (accepts.any_in_flight()) {
        accepts.cancelling.in_flight = true;
        ring_of_home.cancel_all(accepts.fd, &accepts.cancelling);
    }
    for (;;) {
        while (ring_accept* a = accepts.take()) {
            if (a->result < 0) continue;
            const int fd = a->result;
            if (stop_deadline_passed || serving_stopped) {
                ::close(fd);
                continue;
            }
            if (!admitted(gate, fd, a->peer, a->peer_length)) continue;
            if (!hand_over_now(fd, family, a->peer, home)) {
                const bool served = co_await hand_over_when_free(fd, family, a->peer, home);
                if (!served) serving_stopped = true;
            }
        }
        if (!accepts.any_in_flight()) break;
        co_await accepts.wait();
    }
    co_return serving_stopped;
}

// On `home`'s thread: wakes its accept loops waiting for an accept, to see
// the stop.
void server::impl::wake_ring_accept_loops(std::size_t home) {
    auto& accept_states = home == 0 ? ring_accept_states : ring_threads[home - 1]->accept_states;
    for (auto& state : accept_states) static_cast<ring_accepts*>(state.get())->wake();
}

// Readies a listener for an accept loop (non-blocking, for the accept4
// calls; its address family): -1, logged and the loop ended, if it cannot
// be served.
int server::impl::family_or_end(listening_socket& listener) {
    auto& acceptor = listener.acceptor();
    std::error_code ec;
    acceptor.native_non_blocking(true, ec);
    const auto local = acceptor.local_endpoint(ec);
    if (ec) {
        log(log_level::error, "cannot serve " + listener.endpoint().to_string() + ": " + ec.message());
        end_accept_loop(acceptor);
        return -1;
    }
    return local.data()->sa_family;
}

// Stopping: accepts what the kernel has queued already, at most a backlog's
// worth (a shared port keeps receiving until the close), then closes the
// listener. `blocking`: the io_uring engine's sockets.
asio::awaitable<void> server::impl::take_queued_then_close(listening_socket::acceptor_type& acceptor,
                                                            detail::peer_gate& gate, int family, bool blocking) {
    sockaddr_storage peer{};
    socklen_t peer_length = 0;
    for (int queued = 0; queued < options.listen.backlog && !stop_deadline_passed; ++queued) {
        const int fd = accept_pending(acceptor, peer, peer_length, blocking);
        if (fd < 0) break;
        if (!admitted(gate, fd, peer, peer_length)) continue;
        if (!hand_over_now(fd, family, peer)) {
            const bool served = co_await hand_over_when_free(fd, family, peer);
            if (!served) break;
        }
    }
    end_accept_loop(acceptor);
}

void server::impl::end_accept_loop(listening_socket::acceptor_type& acceptor) {
    std::error_code ignored;
    acceptor.close(ignored);
    --accept_loops_running;
    maybe_finish_stop();
}

// Counts an accepted connection (a stop waits for it from here on) and gives
// it to a free slot. False if none is free: then it is counted but not
// handed over, for hand_over_when_free. Not a coroutine: this runs for every
// connection.
bool server::impl::hand_over_now(int fd, int family, const sockaddr_storage& peer, std::size_t home) {
    accepted.fetch_add(1, std::memory_order_relaxed);
    active.fetch_add(1);
    // A slot only now: a listener waiting for connections holds none.
    detail::connection_slot* slot = acquire(home);
    if (slot) start(*slot, fd, family, peer);
    return slot != nullptr;
}

// At max_connections: this one connection waits here (the rest wait in the
// kernel's backlog) until a slot is released. False if the stop deadline
// passed first: the connection is then closed unserved, like those the
// deadline cut.
asio::awaitable<bool> server::impl::hand_over_when_free(int fd, int family, sockaddr_storage peer, std::size_t home) {
    // The accepting thread's own timer (wake_slot_waiters cancels each).
    asio::steady_timer& freed = home == 0 ? slot_freed : ring_threads[home - 1]->slot_freed;
    detail::connection_slot* slot = nullptr;
    for (;;) {
        waiting_for_slot.fetch_add(1);  // before acquire: no release is missed
        slot = acquire(home);
        if (slot || stop_deadline_passed) break;
        co_await freed.async_wait(detail::use_tuple);
        waiting_for_slot.fetch_sub(1);
    }
    waiting_for_slot.fetch_sub(1);
    if (stop_deadline_passed) {
        if (slot) slots.give_back(*slot);
        ::close(fd);
        active.fetch_sub(1);
        asio::dispatch(control, [this] { maybe_finish_stop(); });  // (here, if this is control)
        co_return false;
    }
    start(*slot, fd, family, peer);
    co_return true;
}

void server::impl::start(detail::connection_slot& slot, int fd, int family, const sockaddr_storage& peer) {
    detail::connection_slot* s = &slot;
    auto take = [s, fd, family, peer] { s->take(fd, family, peer); };
    if (options.threads == 1 || ring) {
        // The worker runs here and now, until it first waits. (With the
        // io_uring engine's threads: if the slot is this thread's.)
        asio::dispatch(s->strand, std::move(take));
    } else {
        // On another thread: this one goes on accepting.
        asio::post(s->strand, std::move(take));
    }
}

}  // namespace scgi
