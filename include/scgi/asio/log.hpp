/// @file
/// The server's logging hook (one function, no logging library imposed), the
/// level filter and the bounds of the queue the server's lines wait in.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string_view>

namespace scgi {

/// How much a log line matters, most severe first.
enum class log_level : unsigned char {
    /// Something failed that an operator should look at (cannot listen,
    /// descriptor exhaustion, a handler that threw).
    error,
    /// A peer misbehaved or a timeout expired; the server carried on.
    warning,
    /// Start, stop and other lifecycle events.
    info,
};

/// Receives one event as one line of text (no trailing newline). A server
/// calls it from one thread of its own, its log thread, one line at a time,
/// never from the threads that serve connections: a slow hook delays only
/// other log lines, never a request. It must return in bounded time: the
/// server's destruction waits for the call in progress (see
/// `log_limits::flush_timeout`). An exception it throws is swallowed.
using log_function = std::function<void(log_level, std::string_view message)>;

/// The bounds of a server's logging: the queue between the serving threads
/// and the log thread, and the rate limit per kind of event. Lines beyond
/// them are counted, not kept, and the counts are reported in one line each.
struct log_limits {
    /// Lines waiting for the hook at most. A line that finds the queue full
    /// (in lines or bytes) is dropped and counted; once the queue has drained,
    /// one line says how many were dropped ("log queue full: N line(s)
    /// dropped"). Must be at least 1.
    std::size_t queue_lines = 1024;

    /// Bytes of text waiting for the hook at most (allocated once, when the
    /// server is constructed). Must be at least 1.
    std::size_t queue_bytes = 256 * 1024;

    /// Lines of one kind (a head timeout, a bad request, a handler failure,
    /// ...) that go out per `interval`; later lines of that kind in the same
    /// interval are only counted, and one line sums them up once the
    /// interval is over ("rate limit: N more <kind> line(s) in the last
    /// X s"). Lines about the server itself (listening, stopping) are never
    /// limited. 0: no limit.
    unsigned lines_per_interval = 10;

    /// The interval of the rate limit. Must be positive.
    std::chrono::milliseconds interval = std::chrono::seconds(10);

    /// How long `wait()` (and so `run()`) waits for the queued lines to
    /// reach the hook; if they did, the log thread gets as long again at
    /// destruction for lines queued since, otherwise none: what is left is
    /// dropped. (The default hook, `log_to_stderr`, waits at most 100 ms
    /// per line, so a stderr nobody reads delays a server's end by at most
    /// this plus 100 ms.)
    std::chrono::milliseconds flush_timeout = std::chrono::seconds(1);
};

/// The longest line the server hands to the hook, in bytes: a longer
/// message (an exception's long what()) is cut and ends with "...".
inline constexpr std::size_t max_log_line_bytes = 2048;

/// The default hook: writes `scgi: <level>: <message>` lines to stderr, each
/// with a single write (lines from several threads or processes do not
/// interleave). It never blocks for long: when stderr cannot take a line
/// within 100 ms (a pipe nobody reads, a stalled log collector), the line is
/// lost and counted, and the next line that goes out is preceded by one
/// saying how many were lost.
void log_to_stderr(log_level level, std::string_view message) noexcept;

/// The name of a level ("error", "warning", "info").
std::string_view to_string(log_level level) noexcept;

}  // namespace scgi
