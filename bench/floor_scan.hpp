// BASELINE (b), the physical floor of the codec benchmarks — not library code.
//
// Any SCGI decoder has to find every NUL of the request at least once. These
// two functions do only that: one pass over the bytes, counting NULs, with no
// state, no copies and no validation. A parser cannot beat them by much; how
// far it stays above them is the price of everything else it does.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace scgi_bench::floor {

/// (b1) NULs counted by calling memchr once per NUL (glibc's memchr is
/// vectorised, but each call pays its entry and tail handling).
inline std::size_t count_nuls_memchr(const char* data, std::size_t size) noexcept {
    const char* p = data;
    const char* const last = data + size;
    std::size_t count = 0;
    while (p != last) {
        const void* hit = std::memchr(p, '\0', static_cast<std::size_t>(last - p));
        if (hit == nullptr) break;
        ++count;
        p = static_cast<const char*>(hit) + 1;
    }
    return count;
}

namespace detail {

// 64-byte steps: four SSE2 byte compares against zero, the four 16-bit
// movemasks joined into one 64-bit mask, counted by `popcount`; a scalar tail.
template <class Popcount>
inline std::size_t count_nuls_movemask(const char* data, std::size_t size, Popcount popcount) noexcept {
    std::size_t count = 0;
    std::size_t i = 0;
#if defined(__SSE2__)
    const __m128i zero = _mm_setzero_si128();
    const auto mask16 = [&](std::size_t at) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + at));
        return static_cast<std::uint64_t>(
            static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, zero))));
    };
    for (; i + 64 <= size; i += 64) {
        count += popcount(mask16(i) | (mask16(i + 16) << 16) | (mask16(i + 32) << 32) |
                          (mask16(i + 48) << 48));
    }
#else
    (void)popcount;
#endif
    for (; i < size; ++i) count += data[i] == '\0' ? 1u : 0u;
    return count;
}

// std::popcount compiled for baseline x86-64 (no POPCNT) is a call to
// libgcc's __popcountdi2, which costs more than the compares it counts; so the
// POPCNT instruction is used when the CPU has it (every x86-64 CPU since 2008).
#if (defined(__x86_64__) || defined(__i386__)) && defined(__SSE2__) && !defined(__POPCNT__)
#define SCGI_BENCH_POPCNT_DISPATCH 1
[[gnu::target("popcnt")]] inline std::size_t count_nuls_popcnt(const char* data,
                                                                std::size_t size) noexcept {
    return count_nuls_movemask(data, size, [](std::uint64_t m) {
        return static_cast<std::size_t>(__builtin_popcountll(m));
    });
}
#endif

}  // namespace detail

/// (b2) NULs counted 64 bytes per step with SSE2 compares, movemask and one
/// popcount per step (hardware POPCNT where available); without SSE2, a plain
/// loop the compiler is left to vectorise.
inline std::size_t count_nuls_simd(const char* data, std::size_t size) noexcept {
#if defined(SCGI_BENCH_POPCNT_DISPATCH)
    static const bool has_popcnt = __builtin_cpu_supports("popcnt") != 0;
    if (has_popcnt) return detail::count_nuls_popcnt(data, size);
#endif
    return detail::count_nuls_movemask(
        data, size, [](std::uint64_t m) { return static_cast<std::size_t>(std::popcount(m)); });
}

}  // namespace scgi_bench::floor
