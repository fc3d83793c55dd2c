#include "results.hpp"

namespace scgi::tools::bench {

std::string_view failure_name(failure kind) noexcept {
    switch (kind) {
    case failure::connect: return "connect";
    case failure::timeout: return "timeout";
    case failure::closed_early: return "closed_early";
    case failure::malformed: return "malformed";
    case failure::wrong_length: return "wrong_length";
    case failure::echo_mismatch: return "echo_mismatch";
    }
    return "unknown";
}

namespace {

void add(tally& to, const tally& from) noexcept {
    to.responses += from.responses;
    to.response_bytes += from.response_bytes;
    to.failures += from.failures;
    for (std::size_t k = 0; k < failure_kinds; ++k) to.by_kind[k] += from.by_kind[k];
}

}  // namespace

void results::merge(const results& other) {
    add(measured, other.measured);
    add(total, other.total);
    latency.merge(other.latency);
    for (std::size_t s = 0; s < status.size(); ++s) status[s] += other.status[s];
    for (std::size_t k = 0; k < failure_kinds; ++k) {
        if (first_cause[k].empty()) first_cause[k] = other.first_cause[k];
    }
    abandoned += other.abandoned;
}

}  // namespace scgi::tools::bench
