// scgi-load: the load generator of the end-to-end benchmark
// (scripts/bench-e2e). Single-threaded, epoll, edge-triggered.
//
// Load mode: N slots each loop over one SCGI request per connection, as a
// front end does: connect (non-blocking), write the whole request, read the
// response to EOF, check it, close, start again. A run is a warm-up (not
// counted), a measured window of fixed duration, then a bounded drain in
// which no request starts and the ones in flight may finish. Latency is
// connect start -> EOF. Errors are counted, never fatal: the run always ends
// at the deadline.
//
//   scgi-load --endpoint unix:/tmp/s.sock --connections 16 --duration 5
//   scgi-load --endpoint 127.0.0.1:9000 --idle 1000 --hold 3
//
// Output: one machine-readable line on stdout
//   requests=... errors=... duration_s=... rps=... p50_us=... p99_us=... p999_us=...
//   answered=... abandoned=... connections=...
// where `requests` and the rates are the measured window's, `answered` counts
// every correct response of the run (warm-up and drain included: what the
// server did while the script watched its CPU time), and `errors` every
// failure of the run. A human summary goes to stderr.
//
// Idle mode opens N connections that send only the start of a request (or
// nothing), holds them, then closes them: it measures the server's memory per
// idle connection. It prints "holding M idle connections" on stderr once they
// are open, and `idle_requested=N connected=M failed=F closed_by_server=K
// hold_s=S` on stdout at the end.
//
// Exit status: 0 when the run went to its end (whatever errors it counted),
// 1 when it could not run (epoll), 2 for bad arguments.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

namespace {

constexpr std::uint64_t ns_per_s = 1'000'000'000;
constexpr std::uint64_t ns_per_ms = 1'000'000;
constexpr std::uint64_t backoff_ns = 1 * ns_per_ms;          // after a failed request
constexpr std::uint64_t timeout_check_ns = 100 * ns_per_ms;  // request timeout sweep
constexpr std::size_t max_body_size = 64u << 20;
constexpr std::size_t response_head_room = 4096;  // response = head (small) + body
constexpr std::size_t spare_fds = 16;             // stdio, epoll, slack

std::uint64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * ns_per_s + static_cast<std::uint64_t>(ts.tv_nsec);
}

std::uint64_t seconds_to_ns(double seconds) {
    return static_cast<std::uint64_t>(std::llround(seconds * 1e9));
}

// --- endpoints ------------------------------------------------------------------
// Same syntax as the servers: host:port (numeric IPv4 or localhost),
// [v6]:port, unix:/path, or any argument containing '/'.

struct endpoint {
    int family = AF_UNSPEC;
    sockaddr_storage addr{};
    socklen_t addr_len = 0;
};

std::optional<endpoint> parse_endpoint(std::string_view text, std::string& error) {
    endpoint ep;
    std::string_view path;
    bool is_path = false;
    if (text.substr(0, 5) == "unix:") {
        path = text.substr(5);
        is_path = true;
    } else if (text.find('/') != std::string_view::npos) {
        path = text;
        is_path = true;
    }
    if (is_path) {
        sockaddr_un sun{};
        if (path.empty()) {
            error = "empty Unix socket path in '" + std::string(text) + "'";
            return std::nullopt;
        }
        if (path.size() >= sizeof sun.sun_path) {
            error = "Unix socket path is " + std::to_string(path.size()) + " bytes, the limit is " +
                    std::to_string(sizeof sun.sun_path - 1);
            return std::nullopt;
        }
        sun.sun_family = AF_UNIX;
        std::memcpy(sun.sun_path, path.data(), path.size());
        std::memcpy(&ep.addr, &sun, sizeof sun);
        ep.family = AF_UNIX;
        ep.addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
        return ep;
    }

    std::string host;
    std::string_view port_text;
    if (text.substr(0, 1) == "[") {
        const auto close = text.find(']');
        if (close == std::string_view::npos || text.substr(close + 1, 1) != ":") {
            error = "expected '[v6-address]:port', got '" + std::string(text) + "'";
            return std::nullopt;
        }
        host = std::string(text.substr(1, close - 1));
        port_text = text.substr(close + 2);
        sockaddr_in6 sin6{};
        sin6.sin6_family = AF_INET6;
        if (inet_pton(AF_INET6, host.c_str(), &sin6.sin6_addr) != 1) {
            error = "'" + host + "' is not a numeric IPv6 address";
            return std::nullopt;
        }
        std::memcpy(&ep.addr, &sin6, sizeof sin6);
        ep.family = AF_INET6;
        ep.addr_len = sizeof sin6;
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos || colon == 0) {
            error = "expected host:port, [v6]:port, unix:/path or a path, got '" + std::string(text) + "'";
            return std::nullopt;
        }
        host = std::string(text.substr(0, colon));
        port_text = text.substr(colon + 1);
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        const std::string numeric = host == "localhost" ? "127.0.0.1" : host;
        if (inet_pton(AF_INET, numeric.c_str(), &sin.sin_addr) != 1) {
            error = "'" + host + "' is not a numeric IPv4 address (IPv6 goes in brackets)";
            return std::nullopt;
        }
        std::memcpy(&ep.addr, &sin, sizeof sin);
        ep.family = AF_INET;
        ep.addr_len = sizeof sin;
    }
    unsigned port = 0;
    bool port_ok = !port_text.empty() && port_text.size() <= 5;
    for (const char c : port_text) {
        if (c < '0' || c > '9') {
            port_ok = false;
            break;
        }
        port = port * 10 + static_cast<unsigned>(c - '0');
    }
    if (!port_ok || port == 0 || port > 65535) {
        error = "bad port '" + std::string(port_text) + "' (expected 1..65535)";
        return std::nullopt;
    }
    const auto net_port = htons(static_cast<std::uint16_t>(port));
    if (ep.family == AF_INET) {
        reinterpret_cast<sockaddr_in*>(&ep.addr)->sin_port = net_port;
    } else {
        reinterpret_cast<sockaddr_in6*>(&ep.addr)->sin6_port = net_port;
    }
    return ep;
}

// --- options ----------------------------------------------------------------------

struct options {
    std::string endpoint;
    unsigned connections = 1;
    double duration_s = 5;
    double warmup_s = 1;
    double drain_s = 2;
    double timeout_s = 5;
    std::string path = "/echo";
    std::size_t body_size = 13;
    unsigned idle = 0;
    double hold_s = 3;
    std::string idle_send = "partial";
};

// Raises the soft descriptor limit to the hard one; returns the soft limit.
std::size_t raise_fd_limit() {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
    if (lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &lim) != 0) getrlimit(RLIMIT_NOFILE, &lim);
    }
    return static_cast<std::size_t>(lim.rlim_cur);
}

// --- the request and its check ------------------------------------------------------

std::string make_body(std::size_t size) {
    static constexpr std::string_view pattern = "Hello, SCGI!\n";  // 13 bytes
    std::string body;
    body.reserve(size);
    while (body.size() < size) body.append(pattern.substr(0, std::min(pattern.size(), size - body.size())));
    return body;
}

std::string make_request(std::string_view path, std::string_view body) {
    std::string block;
    const auto add = [&block](std::string_view name, std::string_view value) {
        block.append(name);
        block.push_back('\0');
        block.append(value);
        block.push_back('\0');
    };
    add("CONTENT_LENGTH", std::to_string(body.size()));
    add("SCGI", "1");
    add("REQUEST_METHOD", "POST");
    add("REQUEST_URI", path);
    add("CONTENT_TYPE", "application/octet-stream");
    std::string request = std::to_string(block.size());
    request.push_back(':');
    request.append(block);
    request.push_back(',');
    request.append(body);
    return request;
}

enum error_kind : std::size_t { connect_error, write_error, read_error, timeout_error, bad_response, too_long, error_kinds };
constexpr std::array<const char*, error_kinds> error_names = {
    "connect", "write", "read", "timeout", "wrong response", "response too long"};

// --- load mode ----------------------------------------------------------------------

enum class slot_state { inactive, backoff, connecting, writing, reading };

struct slot {
    int fd = -1;
    slot_state state = slot_state::inactive;
    bool readable = false;        // an EPOLLIN edge arrived before reading began
    std::uint64_t started = 0;    // connect start
    std::uint64_t retry_at = 0;   // when in backoff
    std::size_t written = 0;
    std::size_t received = 0;
    std::vector<char> response;
};

class load_run {
public:
    load_run(const options& opts, const endpoint& ep)
        : opts_(opts), ep_(ep), body_(make_body(opts.body_size)), request_(make_request(opts.path, body_)),
          slots_(opts.connections) {
        for (auto& s : slots_) s.response.resize(opts.body_size + response_head_room);
        latencies_.reserve(1u << 20);
    }

    int run() {
        epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
        if (epoll_fd_ < 0) {
            std::perror("scgi-load: epoll_create1");
            return 1;
        }
        const std::uint64_t t0 = now_ns();
        measure_start_ = t0 + seconds_to_ns(opts_.warmup_s);
        deadline_ = measure_start_ + seconds_to_ns(opts_.duration_s);
        const std::uint64_t drain_end = deadline_ + seconds_to_ns(opts_.drain_s);
        timeout_ns_ = seconds_to_ns(opts_.timeout_s);

        for (std::size_t i = 0; i < slots_.size(); ++i) start(i);
        std::vector<epoll_event> events(slots_.size());
        std::uint64_t next_timeout_check = t0 + timeout_check_ns;
        for (;;) {
            std::uint64_t now = now_ns();
            if (!stopping_ && now >= deadline_) {
                stopping_ = true;
                for (auto& s : slots_) {
                    if (s.state == slot_state::backoff) s.state = slot_state::inactive;
                }
                backoffs_ = 0;
            }
            if (stopping_ && (active_ == 0 || now >= drain_end)) break;
            if (backoffs_ > 0 || now >= next_timeout_check) {
                sweep(now, now >= next_timeout_check);
                if (now >= next_timeout_check) next_timeout_check = now + timeout_check_ns;
            }
            std::uint64_t wake = std::min(next_timeout_check, stopping_ ? drain_end : deadline_);
            if (backoffs_ > 0) wake = std::min(wake, now + backoff_ns);
            const int timeout_ms = wake > now ? static_cast<int>((wake - now + ns_per_ms - 1) / ns_per_ms) : 0;
            const int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), timeout_ms);
            if (n < 0) {
                if (errno == EINTR) continue;
                std::perror("scgi-load: epoll_wait");
                return 1;
            }
            for (int k = 0; k < n; ++k) {
                const auto& ev = events[static_cast<std::size_t>(k)];
                on_event(ev.data.u32, ev.events);
            }
        }
        const std::size_t abandoned = active_;
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            if (slots_[i].fd >= 0) close_slot(i);
        }
        close(epoll_fd_);
        report(abandoned);
        return 0;
    }

private:
    bool counting(std::uint64_t t) const { return t >= measure_start_ && t < deadline_; }

    void start(std::size_t i) {
        slot& s = slots_[i];
        s.started = now_ns();
        s.written = 0;
        s.received = 0;
        s.readable = false;
        s.fd = socket(ep_.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s.fd < 0) {
            fail(i, connect_error, errno);
            return;
        }
        ++active_;
        s.state = slot_state::connecting;
        const int rc = connect(s.fd, reinterpret_cast<const sockaddr*>(&ep_.addr), ep_.addr_len);
        if (rc != 0 && errno != EINPROGRESS) {
            fail(i, connect_error, errno);  // includes EAGAIN: a Unix listener's backlog is full
            return;
        }
        // Connected at once (Unix sockets): no EPOLLOUT, or it would wake us
        // for nothing; it is added only if the request does not fit.
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLET | (rc == 0 ? 0u : static_cast<std::uint32_t>(EPOLLOUT));
        ev.data.u32 = static_cast<std::uint32_t>(i);
        if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, s.fd, &ev) != 0) {
            fail(i, connect_error, errno);
            return;
        }
        if (rc == 0) {
            s.state = slot_state::writing;
            write_request(i);
        }
    }

    void on_event(std::uint32_t i, std::uint32_t events) {
        slot& s = slots_[i];
        switch (s.state) {
        case slot_state::connecting:
            if ((events & EPOLLERR) != 0) {
                int err = 0;
                socklen_t len = sizeof err;
                if (getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
                fail(i, connect_error, err != 0 ? err : ECONNREFUSED);
                break;
            }
            s.state = slot_state::writing;
            [[fallthrough]];
        case slot_state::writing:
            if ((events & EPOLLIN) != 0) s.readable = true;
            write_request(i);
            break;
        case slot_state::reading:
            read_response(i);
            break;
        case slot_state::inactive:
        case slot_state::backoff:
            break;
        }
    }

    void write_request(std::size_t i) {
        slot& s = slots_[i];
        while (s.written < request_.size()) {
            const ssize_t n = send(s.fd, request_.data() + s.written, request_.size() - s.written, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN) {
                    epoll_event ev{};
                    ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
                    ev.data.u32 = static_cast<std::uint32_t>(i);
                    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, s.fd, &ev);
                    return;
                }
                fail(i, errno == ECONNREFUSED ? connect_error : write_error, errno);
                return;
            }
            s.written += static_cast<std::size_t>(n);
        }
        s.state = slot_state::reading;
        if (s.readable) read_response(i);
    }

    void read_response(std::size_t i) {
        slot& s = slots_[i];
        for (;;) {
            if (s.received == s.response.size()) {
                fail(i, too_long, 0);
                return;
            }
            const ssize_t n = recv(s.fd, s.response.data() + s.received, s.response.size() - s.received, 0);
            if (n > 0) {
                s.received += static_cast<std::size_t>(n);
                continue;
            }
            if (n == 0) {
                finish(i);
                return;
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return;
            fail(i, read_error, errno);
            return;
        }
    }

    // The response is whole (EOF): a 200 whose last bytes are the body.
    void finish(std::size_t i) {
        slot& s = slots_[i];
        const std::uint64_t done = now_ns();
        const std::string_view response(s.response.data(), s.received);
        const bool ok = response.substr(0, 11) == "Status: 200" && response.size() >= body_.size() + 11 &&
                        response.substr(response.size() - body_.size()) == body_;
        if (!ok) {
            fail(i, bad_response, 0);
            return;
        }
        ++answered_;
        if (counting(done)) latencies_.push_back(done - s.started);
        close_slot(i);
        if (!stopping_) start(i);
    }

    void close_slot(std::size_t i) {
        slot& s = slots_[i];
        if (s.fd >= 0) {
            close(s.fd);  // also leaves the epoll set
            s.fd = -1;
        }
        if (s.state != slot_state::inactive && s.state != slot_state::backoff) --active_;
        s.state = slot_state::inactive;
    }

    void fail(std::size_t i, error_kind kind, int err) {
        ++errors_[kind];
        if (first_errno_[kind] == 0) first_errno_[kind] = err;
        slot& s = slots_[i];
        close_slot(i);
        if (!stopping_) {
            s.state = slot_state::backoff;
            s.retry_at = now_ns() + backoff_ns;
            ++backoffs_;
        }
    }

    // Restarts slots whose backoff is over; with `check_timeouts`, fails
    // requests older than --timeout.
    void sweep(std::uint64_t now, bool check_timeouts) {
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            slot& s = slots_[i];
            if (s.state == slot_state::backoff) {
                if (!stopping_ && now >= s.retry_at) {
                    --backoffs_;
                    s.state = slot_state::inactive;
                    start(i);
                }
            } else if (check_timeouts && s.state != slot_state::inactive && now > s.started &&
                       now - s.started > timeout_ns_) {
                fail(i, timeout_error, ETIMEDOUT);
            }
        }
    }

    void report(std::size_t abandoned) const {
        std::vector<std::uint64_t> sorted = latencies_;
        std::sort(sorted.begin(), sorted.end());
        const auto percentile_us = [&sorted](double p) {
            if (sorted.empty()) return 0.0;
            const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
            return static_cast<double>(sorted[std::max<std::size_t>(rank, 1) - 1]) / 1e3;
        };
        std::size_t errors = 0;
        for (const auto e : errors_) errors += e;
        const double rps = static_cast<double>(sorted.size()) / opts_.duration_s;
        std::printf("requests=%zu errors=%zu duration_s=%.3f rps=%.1f p50_us=%.1f p99_us=%.1f p999_us=%.1f "
                    "answered=%zu abandoned=%zu connections=%u\n",
                    sorted.size(), errors, opts_.duration_s, rps, percentile_us(0.50), percentile_us(0.99),
                    percentile_us(0.999), answered_, abandoned, opts_.connections);
        std::fflush(stdout);
        std::fprintf(stderr,
                     "scgi-load: %s, %u connection%s, %.1f s (after %.1f s warm-up): %zu requests, %.0f req/s, "
                     "latency p50 %.1f us, p99 %.1f us, p99.9 %.1f us; %zu errors\n",
                     opts_.endpoint.c_str(), opts_.connections, opts_.connections == 1 ? "" : "s",
                     opts_.duration_s, opts_.warmup_s, sorted.size(), rps, percentile_us(0.50),
                     percentile_us(0.99), percentile_us(0.999), errors);
        for (std::size_t k = 0; k < error_kinds; ++k) {
            if (errors_[k] == 0) continue;
            std::fprintf(stderr, "scgi-load:   %zu %s error%s (first: %s)\n", errors_[k], error_names[k],
                         errors_[k] == 1 ? "" : "s",
                         first_errno_[k] != 0 ? std::strerror(first_errno_[k]) : "response is not a 200 with the body");
        }
    }

    const options& opts_;
    endpoint ep_;
    std::string body_;
    std::string request_;
    std::vector<slot> slots_;
    std::vector<std::uint64_t> latencies_;  // ns, requests completed in the window
    std::array<std::size_t, error_kinds> errors_{};
    std::array<int, error_kinds> first_errno_{};
    int epoll_fd_ = -1;
    std::uint64_t measure_start_ = 0;
    std::uint64_t deadline_ = 0;
    std::uint64_t timeout_ns_ = 0;
    std::size_t active_ = 0;     // slots with a connection in progress
    std::size_t backoffs_ = 0;   // slots waiting to retry
    std::size_t answered_ = 0;
    bool stopping_ = false;
};

// --- idle mode ----------------------------------------------------------------------

int run_idle(const options& opts, const endpoint& ep) {
    const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd < 0) {
        std::perror("scgi-load: epoll_create1");
        return 1;
    }
    const std::string_view first_bytes = opts.idle_send == "partial" ? "100:" : "";
    enum class state { connecting, retry, open, closed };
    struct idle_conn {
        int fd = -1;
        state st = state::retry;
    };
    std::vector<idle_conn> conns(opts.idle);
    std::size_t failed = 0;
    int first_errno = 0;
    const auto give_up = [&](idle_conn& c, int err) {
        if (first_errno == 0) first_errno = err;
        if (c.fd >= 0) close(c.fd);
        c.fd = -1;
        c.st = state::closed;
        ++failed;
    };
    const auto try_connect = [&](std::size_t i) {
        idle_conn& c = conns[i];
        if (c.fd < 0) c.fd = socket(ep.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c.fd < 0) {
            give_up(c, errno);
            return;
        }
        if (connect(c.fd, reinterpret_cast<const sockaddr*>(&ep.addr), ep.addr_len) == 0) {
            c.st = state::open;
        } else if (errno == EINPROGRESS) {
            c.st = state::connecting;
            epoll_event ev{};
            ev.events = EPOLLOUT;
            ev.data.u64 = i;
            if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, c.fd, &ev) != 0) give_up(c, errno);
        } else if (errno == EAGAIN) {
            c.st = state::retry;  // a Unix listener's backlog is full: the server is still accepting
        } else {
            give_up(c, errno);
        }
    };

    // Connect them all, bounded in time.
    const std::uint64_t connect_deadline = now_ns() + 10 * ns_per_s;
    for (std::size_t i = 0; i < conns.size(); ++i) try_connect(i);
    std::vector<epoll_event> events(256);
    for (;;) {
        std::size_t pending = 0;
        bool retrying = false;
        for (const auto& c : conns) {
            pending += c.st == state::connecting || c.st == state::retry ? 1 : 0;
            retrying = retrying || c.st == state::retry;
        }
        if (pending == 0) break;
        if (now_ns() >= connect_deadline) {
            for (auto& c : conns) {
                if (c.st == state::connecting || c.st == state::retry) give_up(c, ETIMEDOUT);
            }
            break;
        }
        const int n = epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), retrying ? 1 : 100);
        for (int k = 0; k < n; ++k) {
            const auto i = static_cast<std::size_t>(events[static_cast<std::size_t>(k)].data.u64);
            idle_conn& c = conns[i];
            int err = 0;
            socklen_t len = sizeof err;
            epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c.fd, nullptr);
            if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
            if (err != 0) {
                give_up(c, err);
            } else {
                c.st = state::open;
            }
        }
        if (retrying) {
            for (std::size_t i = 0; i < conns.size(); ++i) {
                if (conns[i].st == state::retry) try_connect(i);
            }
        }
    }

    // Send the first bytes of a request, then watch for the server closing.
    std::size_t connected = 0;
    for (std::size_t i = 0; i < conns.size(); ++i) {
        idle_conn& c = conns[i];
        if (c.st != state::open) continue;
        if (!first_bytes.empty() &&
            send(c.fd, first_bytes.data(), first_bytes.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(first_bytes.size())) {
            give_up(c, errno);
            continue;
        }
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.u64 = i;
        if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, c.fd, &ev) != 0) {
            give_up(c, errno);
            continue;
        }
        ++connected;
    }
    std::fprintf(stderr, "scgi-load: holding %zu idle connections for %.1f s (%zu of %u failed%s%s)\n", connected,
                 opts.hold_s, failed, opts.idle, first_errno != 0 ? ": " : "",
                 first_errno != 0 ? std::strerror(first_errno) : "");
    std::fflush(stderr);

    std::size_t closed_by_server = 0;
    const std::uint64_t hold_end = now_ns() + seconds_to_ns(opts.hold_s);
    for (std::uint64_t now = now_ns(); now < hold_end; now = now_ns()) {
        const int timeout_ms = static_cast<int>((hold_end - now + ns_per_ms - 1) / ns_per_ms);
        const int n = epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), timeout_ms);
        for (int k = 0; k < n; ++k) {
            idle_conn& c = conns[static_cast<std::size_t>(events[static_cast<std::size_t>(k)].data.u64)];
            if (c.st != state::open) continue;
            close(c.fd);  // the server answered or closed: either way it is no longer idle
            c.fd = -1;
            c.st = state::closed;
            ++closed_by_server;
        }
    }
    for (auto& c : conns) {
        if (c.fd >= 0) close(c.fd);
    }
    close(epoll_fd);
    std::printf("idle_requested=%u connected=%zu failed=%zu closed_by_server=%zu hold_s=%.1f\n", opts.idle,
                connected, failed, closed_by_server, opts.hold_s);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    options opts;
    CLI::App app{"scgi-load: SCGI load generator (one request per connection) for scripts/bench-e2e"};
    app.add_option("--endpoint", opts.endpoint, "host:port, [v6]:port, unix:/path, or a path containing '/'")
        ->required();
    auto* connections = app.add_option("--connections", opts.connections, "concurrent connections")
                            ->capture_default_str()
                            ->check(CLI::Range(1u, 100000u));
    auto* duration = app.add_option("--duration", opts.duration_s, "measured seconds")
                         ->capture_default_str()
                         ->check(CLI::Range(0.001, 3600.0));
    auto* warmup = app.add_option("--warmup", opts.warmup_s, "seconds of load before measuring")
                       ->capture_default_str()
                       ->check(CLI::Range(0.0, 3600.0));
    auto* drain = app.add_option("--drain", opts.drain_s, "at most this long for requests in flight at the end")
                      ->capture_default_str()
                      ->check(CLI::Range(0.0, 60.0));
    auto* timeout = app.add_option("--timeout", opts.timeout_s, "a request taking longer is an error")
                        ->capture_default_str()
                        ->check(CLI::Range(0.001, 3600.0));
    auto* path = app.add_option("--path", opts.path, "REQUEST_URI (the server must answer 200 + the body)")
                     ->capture_default_str();
    auto* body = app.add_option("--body-size", opts.body_size, "request body bytes")
                     ->capture_default_str()
                     ->check(CLI::Range(std::size_t{0}, max_body_size));
    auto* idle = app.add_option("--idle", opts.idle, "idle mode: open this many connections and hold them")
                     ->check(CLI::Range(1u, 1000000u));
    app.add_option("--hold", opts.hold_s, "idle mode: seconds to hold the connections")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 3600.0))
        ->needs(idle);
    app.add_option("--idle-send", opts.idle_send, "idle mode: 'partial' sends \"100:\", 'none' sends nothing")
        ->capture_default_str()
        ->check(CLI::IsMember({"partial", "none"}))
        ->needs(idle);
    for (auto* load_only : {connections, duration, warmup, drain, timeout, path, body}) idle->excludes(load_only);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;  // --help is a success; every usage error exits 2
    }

    if (opts.path.empty() || opts.path.front() != '/') {
        std::fprintf(stderr, "scgi-load: --path must start with '/', got '%s'\n", opts.path.c_str());
        return 2;
    }
    std::string error;
    const auto ep = parse_endpoint(opts.endpoint, error);
    if (!ep) {
        std::fprintf(stderr, "scgi-load: --endpoint: %s\n", error.c_str());
        return 2;
    }
    std::signal(SIGPIPE, SIG_IGN);
    const std::size_t fd_limit = raise_fd_limit();
    const std::size_t fds_needed = (opts.idle != 0 ? opts.idle : opts.connections) + spare_fds;
    if (fds_needed > fd_limit) {
        std::fprintf(stderr, "scgi-load: needs %zu file descriptors, the limit (RLIMIT_NOFILE, hard) is %zu\n",
                     fds_needed, fd_limit);
        return 2;
    }
    if (opts.idle != 0) return run_idle(opts, *ep);
    load_run run(opts, *ep);
    return run.run();
}
