#include "log_queue.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace scgi::detail {

std::string_view describe(log_event kind) noexcept {
    switch (kind) {
    case log_event::server: return "server";
    case log_event::peer_refused: return "refused peer";
    case log_event::bad_request: return "bad request";
    case log_event::head_timeout: return "head timeout";
    case log_event::peer_closed_early: return "peer closed mid-request";
    case log_event::read_failed: return "read failure";
    case log_event::answer_failed: return "answer write failure";
    case log_event::body_timeout: return "body timeout";
    case log_event::write_timeout: return "write timeout";
    case log_event::response_refused: return "refused response";
    case log_event::spool_failed: return "spool failure";
    case log_event::handler_failed: return "handler failure";
    case log_event::internal_failure: return "internal failure";
    }
    return "unknown";
}

log_line_builder& log_line_builder::operator<<(std::string_view text) noexcept {
    // (An empty view may have a null data(), which memcpy must not get.)
    if (cut_ || text.empty()) return *this;
    constexpr std::string_view ellipsis = "...";
    const std::size_t room = data_.size() - size_;
    if (text.size() <= room) {
        std::memcpy(data_.data() + size_, text.data(), text.size());
        size_ += text.size();
        return *this;
    }
    // Cut: as much as fits with the ellipsis after it.
    const std::size_t keep = room >= ellipsis.size() ? room - ellipsis.size() : 0;
    std::memcpy(data_.data() + size_, text.data(), keep);
    size_ = std::min(size_ + keep, data_.size() - ellipsis.size());
    std::memcpy(data_.data() + size_, ellipsis.data(), ellipsis.size());
    size_ += ellipsis.size();
    cut_ = true;
    return *this;
}

log_line_builder& log_line_builder::append_number(std::uint64_t number) noexcept {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, number).ptr;
    return *this << std::string_view(digits, static_cast<std::size_t>(end - digits));
}

log_line_builder& log_line_builder::operator<<(std::error_code ec) noexcept {
    try {
        return *this << ec.message();
    } catch (...) {
        return *this << ec.category().name() << ":" << ec.value();
    }
}

log_line_builder& log_line_builder::operator<<(std::chrono::milliseconds duration) noexcept {
    const auto ms = static_cast<std::uint64_t>(std::max<std::int64_t>(duration.count(), 0));
    return *this << ms / 1000 << "." << (ms % 1000) / 100 << " s";
}

std::size_t describe_peer(int fd, int family, const sockaddr_storage& address,
                          std::array<char, peer_text_bytes>& out) noexcept {
    int written = -1;
    if (family == AF_UNIX) {
        ucred credentials{};
        socklen_t size = sizeof credentials;
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &size) == 0) {
            written = std::snprintf(out.data(), out.size(), "unix:pid=%ld,uid=%lu", static_cast<long>(credentials.pid),
                                    static_cast<unsigned long>(credentials.uid));
        }
    } else {
        char text[INET6_ADDRSTRLEN] = {};
        if (address.ss_family == AF_INET) {
            const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
            ::inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text);
            written = std::snprintf(out.data(), out.size(), "%s:%u", text, unsigned{ntohs(v4.sin_port)});
        } else if (address.ss_family == AF_INET6) {
            const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
            ::inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
            written = std::snprintf(out.data(), out.size(), "[%s]:%u", text, unsigned{ntohs(v6.sin6_port)});
        }
    }
    if (written <= 0) written = std::snprintf(out.data(), out.size(), "unknown");
    return std::min(static_cast<std::size_t>(written), out.size() - 1);
}

std::string describe(std::exception_ptr failure) {
    try {
        std::rethrow_exception(std::move(failure));
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "an exception not derived from std::exception";
    }
}

namespace {

const log_limits& checked(const log_limits& limits) {
    if (limits.queue_lines == 0) throw std::invalid_argument("scgi::server: log_limits.queue_lines must be at least 1");
    if (limits.queue_bytes == 0) throw std::invalid_argument("scgi::server: log_limits.queue_bytes must be at least 1");
    if (limits.interval.count() <= 0) throw std::invalid_argument("scgi::server: log_limits.interval must be positive");
    if (limits.flush_timeout.count() < 0) {
        throw std::invalid_argument("scgi::server: log_limits.flush_timeout must not be negative");
    }
    return limits;
}

}  // namespace

log_queue::log_queue(const server_options& options)
    : hook_(options.log), threshold_(options.log_level), limits_(checked(options.log_limits)) {
    if (!hook_) return;
    bytes_.resize(limits_.queue_bytes);
    entries_.resize(limits_.queue_lines);
    thread_ = std::thread([this] { run(); });
}

log_queue::~log_queue() {
    if (!thread_.joinable()) return;
    {
        std::lock_guard lock(mutex_);
        closing_ = true;
        // One budget in all: a flush that ran out of it leaves none here.
        close_deadline_ = flush_ran_out_ ? clock::now() : clock::now() + limits_.flush_timeout;
    }
    wake_.notify_one();
    thread_.join();
}

bool log_queue::admit(log_event kind, log_level level) noexcept {
    // Refused peers are limited per peer already (peer_gate's refusal_log).
    if (kind == log_event::server || kind == log_event::peer_refused || limits_.lines_per_interval == 0) return true;
    const auto now = clock::now();
    std::lock_guard lock(mutex_);
    kind_state& k = kinds_[static_cast<std::size_t>(kind)];
    if (now - k.window_start >= limits_.interval) {
        k.window_start = now;
        k.admitted = 0;
    }
    if (k.admitted < limits_.lines_per_interval) {
        ++k.admitted;
        return true;
    }
    const bool first = k.suppressed == 0;
    if (first) {
        k.suppressed_since = k.window_start;
        k.summary_due = k.window_start + limits_.interval;
        k.worst = level;
    }
    ++k.suppressed;
    k.worst = std::min(k.worst, level);
    // The log thread may be waiting without a deadline: it now has a summary
    // to give at the window's end.
    if (first) wake_.notify_one();
    return false;
}

void log_queue::push(log_level level, std::string_view text) noexcept {
    {
        std::lock_guard lock(mutex_);
        if (closing_ || entry_count_ == entries_.size() || text.size() > bytes_.size() - byte_count_) {
            ++dropped_;
            dropped_worst_ = std::min(dropped_worst_, level);
            return;
        }
        const std::size_t at = (first_byte_ + byte_count_) % bytes_.size();
        const std::size_t before_end = std::min(text.size(), bytes_.size() - at);
        std::memcpy(bytes_.data() + at, text.data(), before_end);
        std::memcpy(bytes_.data(), text.data() + before_end, text.size() - before_end);
        byte_count_ += text.size();
        entries_[(first_entry_ + entry_count_) % entries_.size()] = entry{level, text.size()};
        ++entry_count_;
    }
    wake_.notify_one();
}

log_level log_queue::pop(std::string& out) noexcept {
    const entry e = entries_[first_entry_];
    first_entry_ = (first_entry_ + 1) % entries_.size();
    --entry_count_;
    const std::size_t before_end = std::min(e.size, bytes_.size() - first_byte_);
    // `out` was reserved for the longest line: no allocation.
    out.assign(bytes_.data() + first_byte_, before_end);
    out.append(bytes_.data(), e.size - before_end);
    first_byte_ = (first_byte_ + e.size) % bytes_.size();
    byte_count_ -= e.size;
    return e.level;
}

bool log_queue::take_report(clock::time_point now, bool ending, std::string& out, log_level& level) noexcept {
    log_line_builder line;
    if (entry_count_ == 0 && dropped_ != 0) {
        line << "log queue full: " << dropped_ << " line(s) dropped (the log hook could not keep up)";
        level = dropped_worst_;
        dropped_ = 0;
        dropped_worst_ = log_level::info;
        out.assign(line.text());
        return true;
    }
    for (std::size_t i = 0; i < kinds_.size(); ++i) {
        kind_state& k = kinds_[i];
        if (k.suppressed == 0 || (!ending && now < k.summary_due)) continue;
        line << "rate limit: " << k.suppressed << " more " << describe(static_cast<log_event>(i))
             << " line(s) in the last "
             << std::chrono::duration_cast<std::chrono::milliseconds>(now - k.suppressed_since) << " (at most "
             << limits_.lines_per_interval << " per " << limits_.interval << ")";
        level = k.worst;
        k.suppressed = 0;
        k.worst = log_level::info;
        out.assign(line.text());
        return true;
    }
    return false;
}

log_queue::clock::time_point log_queue::next_summary_due() const noexcept {
    auto due = clock::time_point::max();
    for (const kind_state& k : kinds_) {
        if (k.suppressed != 0) due = std::min(due, k.summary_due);
    }
    return due;
}

void log_queue::deliver(log_level level, std::string_view text) noexcept {
    try {
        hook_(level, text);
    } catch (...) {
        // A failing hook must not take the log thread down.
    }
}

void log_queue::run() noexcept {
    std::string line;
    line.reserve(max_log_line_bytes);
    std::unique_lock lock(mutex_);
    for (;;) {
        const auto now = clock::now();
        const bool out_of_time = closing_ && now >= close_deadline_;
        log_level level = log_level::info;
        bool have_line = false;
        if (!out_of_time && entry_count_ != 0) {
            level = pop(line);
            have_line = true;
        } else if (!out_of_time) {
            have_line = take_report(now, closing_ || flushing_, line, level);
        }
        if (!have_line) {
            // Closing: done, or out of time (what is still queued is dropped).
            if (closing_) break;
            drained_.notify_all();
            const auto due = next_summary_due();
            if (due == clock::time_point::max()) {
                wake_.wait(lock);
            } else {
                wake_.wait_until(lock, due);
            }
            continue;
        }
        delivering_ = true;
        lock.unlock();
        deliver(level, line);
        lock.lock();
        delivering_ = false;
    }
    drained_.notify_all();
}

void log_queue::flush(std::chrono::milliseconds limit) noexcept {
    if (!thread_.joinable()) return;
    std::unique_lock lock(mutex_);
    flushing_ = true;
    wake_.notify_one();
    const bool drained = drained_.wait_for(lock, limit, [this] {
        return closing_ || (entry_count_ == 0 && dropped_ == 0 && !delivering_ &&
                            std::all_of(kinds_.begin(), kinds_.end(), [](const kind_state& k) { return k.suppressed == 0; }));
    });
    flushing_ = false;
    if (!drained) flush_ran_out_ = true;
}

}  // namespace scgi::detail
