// What a load run counts: per thread while it runs, merged at the end.
#pragma once

#include "histogram.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace scgi::tools::bench {

/// Why a request failed. One counter each; the order is the output's.
enum class failure : unsigned char {
    /// socket() or connect() failed: refused, no such socket file, a Unix
    /// listener's backlog full (EAGAIN), descriptors exhausted.
    connect,
    /// The request did not get its response within --timeout (counted from
    /// the connect).
    timeout,
    /// The connection ended (EOF or reset) before the response head was
    /// complete, or was reset while the request was still being sent and
    /// nothing was answered.
    closed_early,
    /// The response head broke a rule of the response parser (or carried a
    /// Content-Length that is not a number).
    malformed,
    /// The body's length differs from the head's Content-Length, or the
    /// connection was reset in the middle of the body.
    wrong_length,
    /// With --check-echo: the status was not 2xx or the body differs from the
    /// request body.
    echo_mismatch,
};
inline constexpr std::size_t failure_kinds = 6;

/// The name of a failure kind in the output (JSON keys too).
std::string_view failure_name(failure kind) noexcept;

/// The counters of one part of a run (the measured window, or the whole run).
struct tally {
    std::uint64_t responses = 0;       // read to the end without a failure
    std::uint64_t response_bytes = 0;  // head and body bytes of those responses
    std::uint64_t failures = 0;        // the sum of by_kind
    std::array<std::uint64_t, failure_kinds> by_kind{};
};

/// Everything one thread counted; `merge` adds another thread's.
struct results {
    /// Responses and failures within the measured part of the run: completed
    /// inside the window (duration mode) or among the N requests (-n).
    tally measured;
    /// Every response and failure of the run, warm-up and the end's drain
    /// included: what the server did while the run lasted (bench-e2e divides
    /// the server's CPU time by it).
    tally total;
    /// Latencies of the measured responses, connect to end of response, ns.
    histogram latency;
    /// Measured responses by status code (100..999; the response parser
    /// refuses any other).
    std::array<std::uint64_t, 1000> status{};
    /// What the first failure of each kind was (a system error's message,
    /// the response parser's reason, the lengths that differ; empty: none
    /// yet), for the message that explains a count.
    std::array<std::string, failure_kinds> first_cause{};
    /// Requests still in flight when the drain at the end ran out: neither
    /// answered nor failed.
    std::uint64_t abandoned = 0;

    void merge(const results& other);
};

}  // namespace scgi::tools::bench
