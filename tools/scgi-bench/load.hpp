// The load engine: `connections` SCGI exchanges kept in flight on
// `threads` threads, one request per connection, every response read to its
// end and checked.
#pragma once

#include "results.hpp"
#include "socket_address.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>

namespace scgi::tools::bench {

/// What to run. The request is sent as given, byte for byte, on every
/// connection; `body` is its tail (what --check-echo expects back).
struct load_plan {
    socket_address address;
    std::string_view request;  // the encoded head followed by the body
    std::string_view body;     // a suffix of `request`
    std::string_view method;   // REQUEST_METHOD: a response to HEAD has no body
    unsigned connections = 1;  // in flight, over all threads
    unsigned threads = 1;      // at most `connections`
    /// 0: run for `duration`; otherwise exactly this many measured requests
    /// (each ends as a response or a failure).
    std::uint64_t request_count = 0;
    std::chrono::nanoseconds duration{0};
    /// Before the measured part: requests run but are counted only in the
    /// totals.
    std::chrono::nanoseconds warmup{0};
    /// A request not answered to its end within this time (from its connect)
    /// fails with `failure::timeout`.
    std::chrono::nanoseconds timeout{0};
    /// A response counts only if its status is 2xx and its body equals `body`.
    bool check_echo = false;
};

/// A sample for the progress line: the whole run so far.
struct progress {
    std::chrono::nanoseconds elapsed{0};
    std::uint64_t responses = 0;
    std::uint64_t failures = 0;
};

/// The outcome of `run_load`.
struct load_result {
    results counts;
    /// The measured part's length: duration mode, warm-up end to the deadline
    /// (or to the stop request); -n mode, warm-up end to the last measured
    /// request's end.
    std::chrono::nanoseconds measured{0};
    /// True if `request_stop` cut the run short.
    bool stopped = false;
};

/// Runs `plan` on `plan.threads` threads, the calling thread being the
/// first, and returns when they are done; `on_progress` (if set) is called
/// about every `progress_interval` meanwhile, from the calling thread. At the end of a timed run, requests in flight get up
/// to 2 s (or the timeout, if shorter) to finish: they count in the totals
/// only; those still unfinished are abandoned (`results::abandoned`), and
/// the run failed.
/// `request_stop()` (stop.hpp) ends it the same way before its time.
/// Throws std::system_error if a thread's epoll instance or a thread cannot
/// be created (the threads already started are stopped and joined first).
load_result run_load(const load_plan& plan, const std::function<void(const progress&)>& on_progress,
                     std::chrono::milliseconds progress_interval);

}  // namespace scgi::tools::bench
