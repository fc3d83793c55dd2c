// What scgi-bench prints: the live progress line, and a run's summary as
// text or as one JSON object (the same figures either way).
#pragma once

#include "idle.hpp"
#include "load.hpp"

#include <cstdint>
#include <cstdio>
#include <string>

namespace scgi::tools::bench {

/// The run's settings, as the output states them.
struct run_info {
    std::string endpoint;  // as given on the command line
    std::string uri;
    unsigned connections = 0;
    unsigned threads = 0;
    std::uint64_t request_count = 0;  // 0: a timed run
    double duration_s = 0;            // planned (timed run, idle hold)
    double warmup_s = 0;
    std::uint64_t request_bytes = 0;  // encoded head + body
    std::uint64_t body_bytes = 0;
    bool check_echo = false;
};

/// One line for a terminal (no newline): time, responses, the rate since the
/// previous sample, failures.
std::string progress_line(const progress& now, const progress& previous);

/// The summary for people: rates, latency percentiles, status codes,
/// failures by kind with their first cause, and a compact histogram.
void print_text(std::FILE* out, const run_info& info, const load_result& result);

/// The same as one JSON object on one line (keys in README.md).
void print_json(std::FILE* out, const run_info& info, const load_result& result);

/// Idle mode's summary, for people.
void print_idle_text(std::FILE* out, const run_info& info, const idle_result& result);

/// Idle mode's summary as one JSON object.
void print_idle_json(std::FILE* out, const run_info& info, const idle_result& result);

}  // namespace scgi::tools::bench
