// The server's log lines on their way to the user's hook: the level filter,
// a rate limit per kind of event, and a bounded queue drained by a thread of
// its own, so that a slow or blocked sink (a stderr pipe nobody reads, a
// stalled journald) never stalls serving. Private to the server.
#pragma once

#include <scgi/asio/log.hpp>
#include <scgi/asio/server_options.hpp>

#include <array>
#include <chrono>
#include <concepts>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

#include <sys/socket.h>

namespace scgi::detail {

// What a line is about: the rate limit counts each kind on its own.
enum class log_event : unsigned char {
    server,             // listening, stopping, stopped, accept failures (once per episode): never limited
    peer_refused,       // a peer filter refused a connection: limited per peer by peer_gate, not here
    bad_request,        // refused before the handler: 400, 413, 431
    head_timeout,       // 408: the head did not arrive within head_timeout
    peer_closed_early,  // the peer closed mid-head
    read_failed,        // a socket error while reading the head
    answer_failed,      // the server's own answer could not be written
    body_timeout,       // no body bytes within body_timeout
    write_timeout,      // a response write did not complete within write_timeout
    response_refused,   // 413: the response started with too much body unread
    spool_failed,       // the body spool's file failed (500)
    handler_failed,     // the handler threw or returned without answering (500)
    internal_failure,   // a server coroutine failed: a bug
};
inline constexpr std::size_t log_event_count = static_cast<std::size_t>(log_event::internal_failure) + 1;

// The kind in words, for rate-limit summaries ("head timeout").
std::string_view describe(log_event kind) noexcept;

// One line being written: fixed storage on the caller's stack, no
// allocation; text beyond max_log_line_bytes is cut and ends with "...".
class log_line_builder {
public:
    log_line_builder& operator<<(std::string_view text) noexcept;
    log_line_builder& operator<<(const char* text) noexcept { return *this << std::string_view(text); }
    log_line_builder& operator<<(const std::string& text) noexcept { return *this << std::string_view(text); }
    template <std::integral Number>
    log_line_builder& operator<<(Number number) noexcept {
        if constexpr (std::is_same_v<Number, char>) {
            return *this << std::string_view(&number, 1);
        } else if constexpr (std::is_signed_v<Number>) {
            // Unsigned negation: well defined for the most negative value too.
            const auto bits = static_cast<std::uint64_t>(number);
            if (number < 0) *this << "-";
            return append_number(number < 0 ? std::uint64_t{0} - bits : bits);
        } else {
            return append_number(number);
        }
    }
    // The error's message (allocates: only for lines that go out).
    log_line_builder& operator<<(std::error_code ec) noexcept;
    // Milliseconds as seconds with one decimal ("10.0 s").
    log_line_builder& operator<<(std::chrono::milliseconds duration) noexcept;

    std::string_view text() const noexcept { return {data_.data(), size_}; }

private:
    log_line_builder& append_number(std::uint64_t number) noexcept;

    std::array<char, max_log_line_bytes> data_;
    std::size_t size_ = 0;
    bool cut_ = false;
};

// The longest peer description: "[<IPv6 address>]:<port>".
inline constexpr std::size_t peer_text_bytes = 64;

// Writes who is at the other end of the connected socket `fd` (of address
// `family`) into `out`, for log lines: `address:port` (IPv6 in brackets)
// from `address`, the peer's address as accept4 gave it (getpeername fails
// once the peer has reset the connection), or `unix:pid=<pid>,uid=<uid>`
// (SO_PEERCRED, kept by the socket from the connect on); "unknown" if the
// system cannot tell. Returns the size written.
std::size_t describe_peer(int fd, int family, const sockaddr_storage& address,
                          std::array<char, peer_text_bytes>& out) noexcept;

// What an exception says, for a log line.
std::string describe(std::exception_ptr failure);

// Thread-safe. The serving threads `post`; the log thread alone calls the
// hook. The queue is a ring of `queue_bytes` bytes and `queue_lines` lines,
// allocated once: a line costs a copy, not an allocation.
class log_queue {
public:
    // Validates the options' log_limits (std::invalid_argument) and starts
    // the log thread, unless there is no hook.
    explicit log_queue(const server_options& options);
    // Hands what is queued to the hook for at most flush_timeout (nothing
    // more if a flush() ran out of time already: the sink is stuck), then
    // ends the log thread (waiting for the hook's call in progress).
    ~log_queue();
    log_queue(const log_queue&) = delete;
    log_queue& operator=(const log_queue&) = delete;

    // True if a line of `level` would be considered at all.
    bool wants(log_level level) const noexcept { return hook_ != nullptr && level <= threshold_; }

    // One line of `kind`: `format(log_line_builder&)` writes it, called only
    // if the level passes the filter and the rate limit lets the line
    // through. Never blocks on the sink; a full queue drops the line.
    template <class Format>
    void post(log_event kind, log_level level, Format&& format) noexcept {
        if (!wants(level) || !admit(kind, level)) return;
        log_line_builder line;
        try {
            format(line);
        } catch (...) {
            line << " (the line could not be completed)";
        }
        push(level, line.text());
    }

    // Waits until every line queued so far, and the summary of every line
    // the rate limit held back (given now, due or not), has been handed to
    // the hook, for at most `limit`. For the end of a run.
    void flush(std::chrono::milliseconds limit) noexcept;

private:
    using clock = std::chrono::steady_clock;

    // The rate limit's state of one kind.
    struct kind_state {
        clock::time_point window_start{};
        unsigned admitted = 0;          // lines let through in the window
        std::uint64_t suppressed = 0;   // lines counted and not reported yet
        clock::time_point suppressed_since{};
        // When the summary of `suppressed` is due: the end of the window of
        // the first suppressed line, fixed then, so that a steady flood
        // (which opens a window after each) cannot put it off.
        clock::time_point summary_due{};
        log_level worst = log_level::info;
    };
    struct entry {
        log_level level;
        std::size_t size;
    };

    bool admit(log_event kind, log_level level) noexcept;
    void push(log_level level, std::string_view text) noexcept;
    void run() noexcept;
    // Under the lock: takes the oldest line into `out`.
    log_level pop(std::string& out) noexcept;
    // Under the lock: a line that is due (a drop report or a rate-limit
    // summary; every summary is when `ending`) into `out`, or false.
    bool take_report(clock::time_point now, bool ending, std::string& out, log_level& level) noexcept;
    clock::time_point next_summary_due() const noexcept;
    void deliver(log_level level, std::string_view text) noexcept;

    const log_function& hook_;
    const log_level threshold_;
    const log_limits limits_;

    std::mutex mutex_;
    std::condition_variable wake_;     // the log thread: a line, a summary due or the close
    std::condition_variable drained_;  // flush(): the queue is empty and the hook idle
    std::vector<char> bytes_;
    std::size_t first_byte_ = 0;
    std::size_t byte_count_ = 0;
    std::vector<entry> entries_;
    std::size_t first_entry_ = 0;
    std::size_t entry_count_ = 0;
    std::uint64_t dropped_ = 0;
    log_level dropped_worst_ = log_level::info;
    std::array<kind_state, log_event_count> kinds_{};
    bool delivering_ = false;
    bool closing_ = false;
    bool flushing_ = false;       // a flush() waits: summaries are given at once
    bool flush_ran_out_ = false;  // a flush() timed out: the destruction does not wait again
    clock::time_point close_deadline_{};
    std::thread thread_;
};

}  // namespace scgi::detail
