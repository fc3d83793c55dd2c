/// @file
/// The server's logging hook: one function, no logging library imposed.
#pragma once

#include <functional>
#include <string_view>

namespace scgi {

/// How much a log line matters.
enum class log_level : unsigned char {
    /// Something failed that an operator should look at (cannot listen,
    /// descriptor exhaustion, a handler that threw).
    error,
    /// A peer misbehaved or a timeout expired; the server carried on.
    warning,
    /// Start, stop and other lifecycle events.
    info,
};

/// Receives one event as one line of text (no trailing newline). Called from
/// the server's threads, possibly concurrently: it must be thread-safe.
using log_function = std::function<void(log_level, std::string_view message)>;

/// The default: writes `scgi: <level>: <message>` lines to stderr, each with
/// a single write so lines from several threads do not interleave.
void log_to_stderr(log_level level, std::string_view message) noexcept;

/// The name of a level ("error", "warning", "info").
std::string_view to_string(log_level level) noexcept;

}  // namespace scgi
