// Ending a run early from a signal handler (SIGINT, SIGTERM): the run stops
// starting work, lets what is in flight finish briefly, and reports.
#pragma once

#include <atomic>

namespace scgi::tools::bench {

namespace detail {
inline std::atomic<bool> stop_flag{false};
static_assert(std::atomic<bool>::is_always_lock_free, "request_stop must be async-signal-safe");
}  // namespace detail

/// Asks the running load or idle hold to end. Async-signal-safe. A process
/// runs one of them, so the request is never withdrawn.
inline void request_stop() noexcept { detail::stop_flag.store(true, std::memory_order_relaxed); }

/// True once `request_stop` was called.
inline bool stop_requested() noexcept { return detail::stop_flag.load(std::memory_order_relaxed); }

}  // namespace scgi::tools::bench
