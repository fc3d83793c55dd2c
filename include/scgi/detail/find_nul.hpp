// Vectorised search for NUL bytes, the hot loop of the request parser.
// Not part of the public API.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace scgi::detail {

/// How many readable bytes `for_each_nul` may touch past `size`.
inline constexpr std::size_t nul_scan_padding = 32;

/// Calls `visit(position)` for each NUL byte in `[data, data + size)`, in
/// increasing order, until `visit` returns false. Returns false if a visit did.
///
/// Precondition: `[data, data + size + nul_scan_padding)` is readable. The
/// bytes past `size` are read in whole 32-byte blocks but never reported:
/// the scan loads aligned-size blocks instead of testing every byte.
template <class Visit>
inline bool for_each_nul(const char* data, std::size_t size, Visit&& visit) {
    for (std::size_t base = 0; base < size; base += 32) {
#if defined(__SSE2__)
        const __m128i zero = _mm_setzero_si128();
        const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + base));
        const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + base + 16));
        const auto lo_mask = static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(lo, zero)));
        const auto hi_mask = static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(hi, zero)));
        std::uint32_t mask = lo_mask | (hi_mask << 16);
#else
        std::uint32_t mask = 0;
        for (std::size_t i = 0; i < 32; ++i) {
            if (data[base + i] == '\0') mask |= std::uint32_t{1} << i;
        }
#endif
        if (size - base < 32) mask &= (std::uint32_t{1} << (size - base)) - 1;
        while (mask != 0) {
            if (!visit(base + static_cast<std::size_t>(std::countr_zero(mask)))) return false;
            mask &= mask - 1;
        }
    }
    return true;
}

}  // namespace scgi::detail
