// One epoll loop per thread, each owning its share of the connections; the
// threads share nothing while they run but the -n ticket counter and the stop
// flag. Per request the loop spends socket, connect, send, epoll_ctl(ADD),
// recv and close, plus its share of one epoll_wait:
//
// - the request is sent right after connect(), before waiting for
//   writability: over loopback TCP the handshake is usually complete when
//   connect() returns EINPROGRESS, and a Unix socket connects at once;
// - the descriptor is registered once, edge-triggered, for input, peer
//   shutdown (EPOLLRDHUP) and, only if the request did not fit, output; it
//   leaves the epoll set by close();
// - EPOLLRDHUP reported with the data means the server's FIN is queued behind
//   it: a recv that returns less than asked has then read the response to its
//   end, without the extra recv that returns 0;
// - responses go through one per-thread scratch buffer: the head into the
//   slot's `scgi::response_parser` (reset, not reallocated, per request),
//   the body only counted and, with --check-echo, compared in place.
//
// Timeouts and the retry delay after a failure are handled by a sweep over
// the slots at most every 100 ms (1 ms while a slot waits to retry), not by a
// timer per request.
#include "load.hpp"

#include "stop.hpp"

#include "common/response_length.hpp"

#include <scgi/response_parser.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

namespace scgi::tools::bench {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t ns_per_ms = 1'000'000;
// After a failure a slot waits this long before its next connect, so that a
// refused endpoint is not hammered in a tight loop.
constexpr std::uint64_t retry_delay_ns = 1 * ns_per_ms;
constexpr std::uint64_t max_sweep_interval_ns = 100 * ns_per_ms;
constexpr std::uint64_t max_drain_ns = 2'000 * ns_per_ms;
constexpr std::size_t scratch_size = 64 * 1024;

std::uint64_t now_ns() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

std::uint64_t to_ns(std::chrono::nanoseconds d) noexcept {
    return d.count() <= 0 ? 0 : static_cast<std::uint64_t>(d.count());
}

// What the threads of one run share.
struct shared_state {
    std::uint64_t start = 0;          // CLOCK_MONOTONIC ns
    std::uint64_t measure_start = 0;  // end of the warm-up
    std::uint64_t deadline = 0;       // duration mode: end of the measured window
    std::atomic<std::uint64_t> tickets{0};  // -n mode: measured requests started
};

enum class slot_state : unsigned char { inactive, retry_wait, active };

struct slot {
    int fd = -1;
    slot_state state = slot_state::inactive;
    bool connecting = false;     // connect() in progress: no byte sent yet
    bool ticketed = false;       // -n mode: one of the measured requests
    bool mismatch = false;       // --check-echo: a body byte differed
    bool has_length = false;     // the head carried a Content-Length
    int write_errno = 0;         // the peer stopped taking the request
    std::uint64_t started = 0;   // connect start, ns
    std::uint64_t retry_at = 0;  // in retry_wait
    std::size_t written = 0;
    std::uint64_t received = 0;  // response bytes, head included
    std::uint64_t body_received = 0;
    std::uint64_t content_length = 0;
    scgi::response_parser parser;
};

class worker {
public:
    worker(const load_plan& plan, shared_state& shared, unsigned connections)
        : plan_(plan), shared_(shared), slots_(connections), events_(connections),
          scratch_(std::make_unique<char[]>(scratch_size)) {
        epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
        if (epoll_fd_ < 0) throw std::system_error(errno, std::system_category(), "epoll_create1");
        timeout_ns_ = std::max<std::uint64_t>(to_ns(plan.timeout), 1);
        sweep_interval_ns_ = std::clamp<std::uint64_t>(timeout_ns_ / 8, ns_per_ms, max_sweep_interval_ns);
        drain_ns_ = std::min(timeout_ns_, max_drain_ns);
    }
    ~worker() {
        for (auto& s : slots_) {
            if (s.fd >= 0) ::close(s.fd);
        }
        if (epoll_fd_ >= 0) ::close(epoll_fd_);
    }
    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;

    // Runs the loop until the run ends. `tick` (if set) is called about
    // every `tick_interval_ns` from the loop (worker 0: the progress line).
    void run(const std::function<void(std::uint64_t now)>& tick = {}, std::uint64_t tick_interval_ns = 0);

    const results& counts() const noexcept { return counts_; }
    std::uint64_t last_measured() const noexcept { return last_measured_; }
    std::uint64_t window_end() const noexcept { return window_end_; }
    std::uint64_t progress_responses() const noexcept { return responses_.load(std::memory_order_relaxed); }
    std::uint64_t progress_failures() const noexcept { return failures_.load(std::memory_order_relaxed); }

private:
    bool counted_mode() const noexcept { return plan_.request_count != 0; }
    bool is_measured(const slot& s, std::uint64_t now) const noexcept {
        if (counted_mode()) return s.ticketed;
        return now >= shared_.measure_start && now < window_end_;
    }

    void begin_stop(std::uint64_t now);
    void start(std::size_t i);
    void on_event(std::size_t i, std::uint32_t events);
    bool write_some(std::size_t i);
    void read_some(std::size_t i, bool peer_shut_down);
    bool consume(std::size_t i, std::string_view bytes);
    void finish(std::size_t i);
    void succeed(std::size_t i);
    // Counts the failure of slot i's request and closes it. `cause` (or
    // the system error `err`) explains the first failure of each kind.
    void fail(std::size_t i, failure kind, int err);
    void fail(std::size_t i, failure kind, std::string_view cause);
    // True while no failure of `kind` has given its cause: only then is it
    // worth formatting one.
    bool wants_cause(failure kind) const noexcept {
        return counts_.first_cause[static_cast<std::size_t>(kind)].empty();
    }
    void close_slot(slot& s) noexcept;
    void sweep(std::uint64_t now);

    const load_plan& plan_;
    shared_state& shared_;
    std::vector<slot> slots_;
    std::vector<epoll_event> events_;
    std::unique_ptr<char[]> scratch_;
    int epoll_fd_ = -1;
    std::uint64_t timeout_ns_ = 0;
    std::uint64_t sweep_interval_ns_ = 0;
    std::uint64_t drain_ns_ = 0;
    std::uint64_t window_end_ = UINT64_MAX;  // duration mode: the deadline, or when a stop came
    std::uint64_t drain_end_ = 0;
    std::uint64_t last_measured_ = 0;        // -n mode: the last measured request's end
    std::size_t active_ = 0;                 // slots with a connection
    std::size_t retry_waits_ = 0;            // slots in retry_wait
    bool stopping_ = false;
    results counts_;
    // Read by the progress line; written only by this thread.
    alignas(64) std::atomic<std::uint64_t> responses_{0};
    std::atomic<std::uint64_t> failures_{0};
};

void worker::run(const std::function<void(std::uint64_t now)>& tick, std::uint64_t tick_interval_ns) {
    if (!counted_mode()) window_end_ = shared_.deadline;
    for (std::size_t i = 0; i < slots_.size(); ++i) start(i);
    std::uint64_t next_sweep = now_ns() + sweep_interval_ns_;
    std::uint64_t next_tick = tick ? now_ns() + tick_interval_ns : UINT64_MAX;
    for (;;) {
        std::uint64_t now = now_ns();
        if (now >= next_tick) {
            tick(now);
            next_tick = now + tick_interval_ns;
        }
        if (!stopping_ && (stop_requested() || (!counted_mode() && now >= shared_.deadline))) {
            begin_stop(now);
        }
        if (active_ == 0 && retry_waits_ == 0) break;  // stopped, or -n's tickets all used
        if (stopping_ && now >= drain_end_) break;
        if (now >= next_sweep || retry_waits_ > 0) {
            sweep(now);
            if (now >= next_sweep) next_sweep = now + sweep_interval_ns_;
        }
        std::uint64_t wake = std::min(next_sweep, next_tick);
        if (retry_waits_ > 0) wake = std::min(wake, now + retry_delay_ns);
        if (stopping_) wake = std::min(wake, drain_end_);
        if (!counted_mode() && !stopping_) wake = std::min(wake, shared_.deadline);
        const int timeout_ms = wake > now ? static_cast<int>((wake - now + ns_per_ms - 1) / ns_per_ms) : 0;
        const int n = ::epoll_wait(epoll_fd_, events_.data(), static_cast<int>(events_.size()), timeout_ms);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::system_category(), "epoll_wait");
        }
        for (int k = 0; k < n; ++k) {
            const epoll_event& ev = events_[static_cast<std::size_t>(k)];
            on_event(ev.data.u32, ev.events);
        }
    }
    for (auto& s : slots_) {
        if (s.state == slot_state::active) ++counts_.abandoned;
        close_slot(s);
    }
}

// No request starts after this; those in flight may finish until drain_end_.
void worker::begin_stop(std::uint64_t now) {
    stopping_ = true;
    window_end_ = std::min(window_end_, now);
    drain_end_ = now + drain_ns_;
    for (auto& s : slots_) {
        if (s.state == slot_state::retry_wait) s.state = slot_state::inactive;
    }
    retry_waits_ = 0;
}

void worker::start(std::size_t i) {
    slot& s = slots_[i];
    s.state = slot_state::inactive;
    if (stopping_) return;
    s.started = now_ns();
    s.ticketed = false;
    if (counted_mode() && s.started >= shared_.measure_start) {
        if (shared_.tickets.fetch_add(1, std::memory_order_relaxed) >= plan_.request_count) return;
        s.ticketed = true;
    }
    s.connecting = false;
    s.mismatch = false;
    s.has_length = false;
    s.write_errno = 0;
    s.written = 0;
    s.received = 0;
    s.body_received = 0;
    s.parser.reset();
    s.state = slot_state::active;
    ++active_;

    s.fd = ::socket(plan_.address.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s.fd < 0) return fail(i, failure::connect, errno);
    if (::connect(s.fd, plan_.address.get(), plan_.address.size) != 0) {
        // EAGAIN from a Unix socket: the listener's backlog is full.
        if (errno != EINPROGRESS) return fail(i, failure::connect, errno);
        s.connecting = true;
    }
    if (!write_some(i)) return;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    if (s.written < plan_.request.size()) ev.events |= EPOLLOUT;
    ev.data.u32 = static_cast<std::uint32_t>(i);
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, s.fd, &ev) != 0) fail(i, failure::connect, errno);
}

void worker::on_event(std::size_t i, std::uint32_t events) {
    slot& s = slots_[i];
    if (s.state != slot_state::active) return;  // failed earlier in this batch
    if (s.written < plan_.request.size() && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0) {
        if (!write_some(i)) return;
    }
    // A server may answer before it has read the whole request: read
    // whenever there is something, even while still writing.
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0 && !s.connecting) {
        read_some(i, (events & EPOLLRDHUP) != 0);
    }
}

// Sends what the socket takes. False if the slot failed (and is closed).
bool worker::write_some(std::size_t i) {
    slot& s = slots_[i];
    const std::string_view request = plan_.request;
    while (s.written < request.size()) {
        const ssize_t n = ::send(s.fd, request.data() + s.written, request.size() - s.written, MSG_NOSIGNAL);
        if (n >= 0) {
            s.written += static_cast<std::size_t>(n);
            s.connecting = false;
            continue;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return true;  // not connected yet, or the buffer is full: EPOLLOUT
        if (s.connecting) {
            fail(i, failure::connect, errno);  // ECONNREFUSED and the like
            return false;
        }
        // The server stopped reading (it may have answered already, e.g. a
        // 413 before the body): stop sending and read what it said.
        s.write_errno = errno;
        s.written = request.size();
    }
    return true;
}

void worker::read_some(std::size_t i, bool peer_shut_down) {
    slot& s = slots_[i];
    char* const buffer = scratch_.get();
    for (;;) {
        const ssize_t n = ::recv(s.fd, buffer, scratch_size, 0);
        if (n > 0) {
            const auto size = static_cast<std::size_t>(n);
            s.received += size;
            if (!consume(i, std::string_view(buffer, size))) return;
            // The FIN was queued behind the data: a short read emptied the queue.
            if (peer_shut_down && size < scratch_size) return finish(i);
            continue;
        }
        if (n == 0) return finish(i);
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return;
        // ECONNRESET, mostly: within the head the response never came,
        // within the body it was cut short.
        return fail(i, s.parser.is_head_done() ? failure::wrong_length : failure::closed_early, errno);
    }
}

// Feeds response bytes to the head parser, then counts and checks the body.
// False if the slot failed.
bool worker::consume(std::size_t i, std::string_view bytes) {
    slot& s = slots_[i];
    if (!s.parser.is_head_done()) {
        std::error_code ec;
        const std::size_t used = s.parser.put(bytes, ec);
        if (ec == scgi::error::need_more) return true;
        if (ec) {
            fail(i, failure::malformed, wants_cause(failure::malformed) ? ec.message() : std::string());
            return false;
        }
        const body_length_rule rule = body_length_of(s.parser.head(), plan_.method);
        if (rule.malformed) {
            fail(i, failure::malformed,
                 wants_cause(failure::malformed)
                     ? "Content-Length '" + std::string(*s.parser.head().find("Content-Length")) + "' is not a number"
                     : std::string());
            return false;
        }
        s.has_length = rule.expected.has_value();
        s.content_length = rule.expected.value_or(0);
        bytes.remove_prefix(used);
    }
    if (plan_.check_echo && !s.mismatch) {
        const std::string_view expected = plan_.body;
        s.mismatch = s.body_received + bytes.size() > expected.size() ||
                     std::memcmp(bytes.data(), expected.data() + s.body_received, bytes.size()) != 0;
    }
    s.body_received += bytes.size();
    if (s.has_length && s.body_received > s.content_length) {
        // More than announced: no need to wait for the end.
        fail(i, failure::wrong_length,
             wants_cause(failure::wrong_length) ? "more body bytes than the Content-Length of " +
                                                      std::to_string(s.content_length)
                                                : std::string());
        return false;
    }
    return true;
}

// The server closed: the response is whole.
void worker::finish(std::size_t i) {
    slot& s = slots_[i];
    if (!s.parser.is_head_done()) return fail(i, failure::closed_early, s.write_errno);
    if (s.has_length && s.body_received != s.content_length) {
        return fail(i, failure::wrong_length,
                    wants_cause(failure::wrong_length)
                        ? "a body of " + std::to_string(s.body_received) + " bytes, its Content-Length " +
                              std::to_string(s.content_length)
                        : std::string());
    }
    if (plan_.check_echo) {
        const int status = s.parser.head().status();
        if (status < 200 || status > 299) {
            return fail(i, failure::echo_mismatch,
                        wants_cause(failure::echo_mismatch) ? "status " + std::to_string(status) : std::string());
        }
        if (s.mismatch || s.body_received != plan_.body.size()) {
            return fail(i, failure::echo_mismatch, "the body differs from the request's");
        }
    }
    succeed(i);
}

void worker::succeed(std::size_t i) {
    slot& s = slots_[i];
    const std::uint64_t now = now_ns();
    ++counts_.total.responses;
    counts_.total.response_bytes += s.received;
    if (is_measured(s, now)) {
        ++counts_.measured.responses;
        counts_.measured.response_bytes += s.received;
        // 100..999: the response parser refuses any other status.
        ++counts_.status[static_cast<std::size_t>(s.parser.head().status())];
        counts_.latency.record(now - s.started);
        last_measured_ = std::max(last_measured_, now);
    }
    responses_.store(counts_.total.responses, std::memory_order_relaxed);
    close_slot(s);
    start(i);
}

void worker::fail(std::size_t i, failure kind, int err) {
    fail(i, kind, err != 0 && wants_cause(kind) ? std::string_view(std::strerror(err)) : std::string_view());
}

void worker::fail(std::size_t i, failure kind, std::string_view cause) {
    slot& s = slots_[i];
    const std::uint64_t now = now_ns();
    const auto k = static_cast<std::size_t>(kind);
    ++counts_.total.failures;
    ++counts_.total.by_kind[k];
    if (is_measured(s, now)) {
        ++counts_.measured.failures;
        ++counts_.measured.by_kind[k];
        last_measured_ = std::max(last_measured_, now);
    }
    if (counts_.first_cause[k].empty()) counts_.first_cause[k] = cause;
    failures_.store(counts_.total.failures, std::memory_order_relaxed);
    close_slot(s);
    if (!stopping_) {
        s.state = slot_state::retry_wait;
        s.retry_at = now + retry_delay_ns;
        ++retry_waits_;
    }
}

void worker::close_slot(slot& s) noexcept {
    if (s.fd >= 0) {
        ::close(s.fd);  // also leaves the epoll set
        s.fd = -1;
    }
    if (s.state == slot_state::active) --active_;
    if (s.state == slot_state::retry_wait) --retry_waits_;
    s.state = slot_state::inactive;
}

// Restarts slots whose retry delay is over and fails requests past the timeout.
void worker::sweep(std::uint64_t now) {
    for (std::size_t i = 0; i < slots_.size(); ++i) {
        slot& s = slots_[i];
        if (s.state == slot_state::retry_wait) {
            if (now >= s.retry_at) {
                close_slot(s);
                start(i);
            }
        } else if (s.state == slot_state::active && now > s.started && now - s.started > timeout_ns_) {
            fail(i, failure::timeout, ETIMEDOUT);
        }
    }
}

}  // namespace

load_result run_load(const load_plan& plan, const std::function<void(const progress&)>& on_progress,
                     std::chrono::milliseconds progress_interval) {
    shared_state shared;
    const unsigned threads = std::clamp(plan.threads, 1u, std::max(plan.connections, 1u));
    std::vector<std::unique_ptr<worker>> workers;
    for (unsigned t = 0; t < threads; ++t) {
        // The connections dealt out as evenly as they go.
        const unsigned share = plan.connections / threads + (t < plan.connections % threads ? 1 : 0);
        workers.push_back(std::make_unique<worker>(plan, shared, share));
    }

    shared.start = now_ns();
    shared.measure_start = shared.start + to_ns(plan.warmup);
    shared.deadline = shared.measure_start + to_ns(plan.duration);
    // Worker 0 runs on the calling thread, the others on threads of their
    // own. With one worker the process stays single-threaded, which the
    // kernel rewards: a descriptor looked up by a single-threaded process
    // takes no reference (fdget's fast path), and each request makes six
    // such system calls. Measured against the single-threaded generator
    // this tool replaced, a second, idle thread cost 5-15 % more CPU per
    // request.
    std::vector<std::thread> running;
    std::exception_ptr thread_error;
    std::mutex error_mutex;
    const auto record_error = [&](std::exception_ptr e) {
        const std::lock_guard lock(error_mutex);
        if (!thread_error) thread_error = std::move(e);
        request_stop();
    };
    // Each thread ends by itself once the run ends or a stop is requested.
    const auto join_all = [&running] {
        for (auto& t : running) t.join();
    };
    for (std::size_t t = 1; t < workers.size(); ++t) {
        try {
            running.emplace_back([&record_error, w = workers[t].get()] {
                try {
                    w->run();
                } catch (...) {
                    record_error(std::current_exception());
                }
            });
        } catch (const std::system_error&) {
            request_stop();
            join_all();
            throw;
        }
    }

    std::function<void(std::uint64_t)> tick;
    if (on_progress) {
        tick = [&](std::uint64_t now) {
            progress sample;
            sample.elapsed = std::chrono::nanoseconds(now - shared.start);
            for (const auto& w : workers) {
                sample.responses += w->progress_responses();
                sample.failures += w->progress_failures();
            }
            on_progress(sample);
        };
    }
    try {
        workers.front()->run(tick, to_ns(progress_interval));
    } catch (...) {
        record_error(std::current_exception());
    }
    join_all();
    if (thread_error) std::rethrow_exception(thread_error);

    load_result result;
    result.stopped = stop_requested();
    std::uint64_t end = shared.measure_start;
    for (const auto& w : workers) {
        result.counts.merge(w->counts());
        end = std::max(end, plan.request_count != 0 ? w->last_measured() : std::min(w->window_end(), shared.deadline));
    }
    result.measured = std::chrono::nanoseconds(end - shared.measure_start);
    return result;
}

}  // namespace scgi::tools::bench
