// Helpers shared by the libFuzzer targets: invariant checks that abort
// loudly, and split points derived from option bytes.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace scgi_fuzz {

/// Reports a broken invariant and aborts, which libFuzzer records as a crash
/// (with the input saved as crash-<sha1>).
[[noreturn]] inline void check_failed(const char* condition, const char* file, int line) {
    std::fprintf(stderr, "\n*** fuzz invariant violated: %s\n    at %s:%d\n", condition, file, line);
    std::fflush(stderr);
    std::abort();
}

// A macro so the message names the failed condition and its line.
#define SCGI_FUZZ_CHECK(cond) \
    ((cond) ? static_cast<void>(0) : ::scgi_fuzz::check_failed(#cond, __FILE__, __LINE__))

/// Bytes rendered printable for diagnostics (`\xNN` for anything else).
inline std::string printable(std::string_view s, std::size_t max = 200) {
    std::string out;
    for (std::size_t i = 0; i < s.size() && i < max; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out.push_back(static_cast<char>(c));
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        }
    }
    if (s.size() > max) out += "...";
    return out;
}

/// `ec` as "message (value)" or "none".
inline std::string describe(const std::error_code& ec) {
    if (!ec) return "none";
    return ec.message() + " (" + std::to_string(ec.value()) + ")";
}

/// Small deterministic generator for split points (xorshift32).
class rng {
public:
    explicit rng(std::uint32_t seed) noexcept : state_(seed * 2654435761u + 0x9E3779B9u) {
        if (state_ == 0) state_ = 1;
    }
    std::uint32_t next() noexcept {
        state_ ^= state_ << 13;
        state_ ^= state_ >> 17;
        state_ ^= state_ << 5;
        return state_;
    }
    /// Uniform-ish in [0, bound]; bound may be 0.
    std::size_t upto(std::size_t bound) noexcept {
        return static_cast<std::size_t>(next() % (static_cast<std::uint64_t>(bound) + 1));
    }

private:
    std::uint32_t state_;
};

/// Split points (non-decreasing offsets in [0, size]) for an input of `size`
/// bytes, chosen by two option bytes:
/// - `scheme & 3` is the mode, `scheme >> 2` (0..63) its parameter;
///   0: one byte per chunk; 1: fixed chunks of parameter + 1 bytes;
///   2: random chunk sizes in [0, 2 * parameter + 1] (empty chunks included);
///   3: two cuts at positions taken from `seed` and the parameter.
/// Equal consecutive cuts make empty chunks, which the parsers must accept.
inline std::vector<std::size_t> make_cuts(std::size_t size, std::uint8_t scheme, std::uint8_t seed) {
    std::vector<std::size_t> cuts;
    const unsigned mode = scheme & 3u;
    const std::size_t param = scheme >> 2;
    switch (mode) {
    case 0:
        for (std::size_t at = 1; at < size; ++at) cuts.push_back(at);
        break;
    case 1:
        for (std::size_t at = param + 1; at < size; at += param + 1) cuts.push_back(at);
        break;
    case 2: {
        rng r(seed);
        std::size_t at = 0;
        // Empty chunks make progress-free steps possible: bound the count.
        while (cuts.size() < 2 * size + 64) {
            at += r.upto(2 * param + 1);
            if (at >= size) break;
            cuts.push_back(at);
        }
        break;
    }
    default: {
        std::size_t a = seed % (size + 1);
        std::size_t b = (param * 67) % (size + 1);
        if (a > b) std::swap(a, b);
        cuts.push_back(a);
        cuts.push_back(b);
        break;
    }
    }
    return cuts;
}

}  // namespace scgi_fuzz
