#include "idle.hpp"

#include "stop.hpp"

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <vector>

#include <sys/epoll.h>
#include <unistd.h>

namespace scgi::tools::bench {
namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

enum class state : unsigned char { retry, connecting, open, closed };

struct connection {
    int fd = -1;
    state st = state::retry;
};

// Every descriptor of the run, closed on any way out.
class idle_set {
public:
    idle_set(const idle_plan& plan) : plan_(plan), conns_(plan.connections) {
        epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
        if (epoll_fd_ < 0) throw std::system_error(errno, std::system_category(), "epoll_create1");
    }
    ~idle_set() {
        for (auto& c : conns_) {
            if (c.fd >= 0) ::close(c.fd);
        }
        ::close(epoll_fd_);
    }
    idle_set(const idle_set&) = delete;
    idle_set& operator=(const idle_set&) = delete;

    idle_result run(const std::function<void(std::size_t)>& on_holding);

private:
    void give_up(connection& c, int err) {
        if (result_.first_errno == 0) result_.first_errno = err;
        if (c.fd >= 0) ::close(c.fd);
        c.fd = -1;
        c.st = state::closed;
        ++result_.failed;
    }
    void try_connect(std::size_t i);
    void open_all();
    void start_requests();
    void hold();

    const idle_plan& plan_;
    std::vector<connection> conns_;
    std::vector<epoll_event> events_ = std::vector<epoll_event>(256);
    int epoll_fd_ = -1;
    idle_result result_;
};

void idle_set::try_connect(std::size_t i) {
    connection& c = conns_[i];
    if (c.fd < 0) c.fd = ::socket(plan_.address.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) return give_up(c, errno);
    if (::connect(c.fd, plan_.address.get(), plan_.address.size) == 0) {
        c.st = state::open;
    } else if (errno == EINPROGRESS) {
        c.st = state::connecting;
        epoll_event ev{};
        ev.events = EPOLLOUT;
        ev.data.u64 = i;
        if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.fd, &ev) != 0) give_up(c, errno);
    } else if (errno == EAGAIN) {
        c.st = state::retry;  // a Unix listener's backlog is full: the server is still accepting
    } else {
        give_up(c, errno);
    }
}

void idle_set::open_all() {
    const auto limit = clock::now() + plan_.connect_limit;
    for (std::size_t i = 0; i < conns_.size(); ++i) try_connect(i);
    for (;;) {
        const auto pending = std::count_if(conns_.begin(), conns_.end(), [](const connection& c) {
            return c.st == state::connecting || c.st == state::retry;
        });
        const bool retrying = std::any_of(conns_.begin(), conns_.end(),
                                          [](const connection& c) { return c.st == state::retry; });
        if (pending == 0) return;
        if (clock::now() >= limit || stop_requested()) {
            for (auto& c : conns_) {
                if (c.st == state::connecting || c.st == state::retry) give_up(c, ETIMEDOUT);
            }
            return;
        }
        const int n = ::epoll_wait(epoll_fd_, events_.data(), static_cast<int>(events_.size()), retrying ? 1 : 100);
        for (int k = 0; k < n; ++k) {
            connection& c = conns_[static_cast<std::size_t>(events_[static_cast<std::size_t>(k)].data.u64)];
            int err = 0;
            socklen_t len = sizeof err;
            ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
            if (::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
            if (err != 0) {
                give_up(c, err);
            } else {
                c.st = state::open;
            }
        }
        if (retrying) {
            for (std::size_t i = 0; i < conns_.size(); ++i) {
                if (conns_[i].st == state::retry) try_connect(i);
            }
        }
    }
}

// Sends each open connection its first bytes and watches it for the server
// answering or closing.
void idle_set::start_requests() {
    for (std::size_t i = 0; i < conns_.size(); ++i) {
        connection& c = conns_[i];
        if (c.st != state::open) continue;
        const auto size = plan_.first_bytes.size();
        if (size != 0 && ::send(c.fd, plan_.first_bytes.data(), size, MSG_NOSIGNAL) != static_cast<ssize_t>(size)) {
            give_up(c, errno);
            continue;
        }
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.u64 = i;
        if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.fd, &ev) != 0) {
            give_up(c, errno);
            continue;
        }
        ++result_.connected;
    }
}

void idle_set::hold() {
    const auto began = clock::now();
    const auto end = began + plan_.hold;
    for (auto now = began; now < end && !stop_requested(); now = clock::now()) {
        // At most 100 ms per wait, so that a stop request is seen.
        const auto wait = std::min(std::chrono::ceil<std::chrono::milliseconds>(end - now), 100ms);
        const int n = ::epoll_wait(epoll_fd_, events_.data(), static_cast<int>(events_.size()),
                                   static_cast<int>(wait.count()));
        for (int k = 0; k < n; ++k) {
            connection& c = conns_[static_cast<std::size_t>(events_[static_cast<std::size_t>(k)].data.u64)];
            if (c.st != state::open) continue;
            ::close(c.fd);  // the server answered or closed: either way it no longer holds it
            c.fd = -1;
            c.st = state::closed;
            ++result_.closed_by_server;
        }
    }
    result_.held = std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - began);
}

idle_result idle_set::run(const std::function<void(std::size_t)>& on_holding) {
    open_all();
    start_requests();
    if (on_holding) on_holding(result_.connected);
    hold();
    return result_;
}

}  // namespace

idle_result run_idle(const idle_plan& plan, const std::function<void(std::size_t)>& on_holding) {
    idle_set set(plan);
    return set.run(on_holding);
}

}  // namespace scgi::tools::bench
