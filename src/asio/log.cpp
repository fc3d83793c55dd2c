#include <scgi/asio/log.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>

#include <poll.h>
#include <unistd.h>

namespace scgi {

std::string_view to_string(log_level level) noexcept {
    switch (level) {
    case log_level::error: return "error";
    case log_level::warning: return "warning";
    case log_level::info: return "info";
    }
    return "unknown";
}

namespace {

// How long the default hook waits for stderr to take one line.
constexpr std::chrono::milliseconds stderr_wait{100};

// Lines stderr did not take in time, not reported yet (process-wide, as
// stderr is).
std::atomic<std::uint64_t> stderr_lines_lost{0};

// Writes `bytes` to stderr, waiting until `deadline` at most for it to take
// them (poll, then write: never a write that blocks on a full pipe for long,
// and stderr's own flags, shared with other processes, stay untouched).
// False if they did not all go out.
bool write_stderr_until(std::string_view bytes, std::chrono::steady_clock::time_point deadline) noexcept {
    while (!bytes.empty()) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        pollfd p{STDERR_FILENO, POLLOUT, 0};
        const int ready = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0 || (p.revents & (POLLERR | POLLNVAL)) != 0) return false;
        const ssize_t n = ::write(STDERR_FILENO, bytes.data(), bytes.size());
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) return false;
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

// Appends to a fixed buffer, cutting what does not fit.
struct fixed_text {
    char* data;
    std::size_t capacity;
    std::size_t size = 0;

    void add(std::string_view text) noexcept {
        const std::size_t n = std::min(text.size(), capacity - size);
        std::memcpy(data + size, text.data(), n);
        size += n;
    }
    void add(std::uint64_t number) noexcept {
        char digits[24];
        const auto end = std::to_chars(digits, digits + sizeof digits, number).ptr;
        add(std::string_view(digits, static_cast<std::size_t>(end - digits)));
    }
};

}  // namespace

void log_to_stderr(log_level level, std::string_view message) noexcept {
    // One buffer, one write (unless the pipe takes it in pieces): no
    // allocation, and lines from several writers stay whole.
    char buffer[max_log_line_bytes + 160];
    fixed_text line{buffer, sizeof buffer};
    // Taken, not read: two writers at once must not both report (and both
    // subtract) the same count.
    const std::uint64_t lost = stderr_lines_lost.exchange(0, std::memory_order_relaxed);
    if (lost != 0) {
        line.add("scgi: warning: stderr was not writable: ");
        line.add(lost);
        line.add(" line(s) lost\n");
    }
    line.add("scgi: ");
    line.add(to_string(level));
    line.add(": ");
    if (message.size() > max_log_line_bytes) message = message.substr(0, max_log_line_bytes);
    line.add(message);
    line.add("\n");
    if (!write_stderr_until({buffer, line.size}, std::chrono::steady_clock::now() + stderr_wait)) {
        stderr_lines_lost.fetch_add(lost + 1, std::memory_order_relaxed);  // still to report, and this one
    }
}

}  // namespace scgi
