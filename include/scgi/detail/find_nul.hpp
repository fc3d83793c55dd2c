// Vectorised search for NUL bytes, the hot loop of the request parser.
// Not part of the public API.
#pragma once

#include <scgi/detail/scan_padding.hpp>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace scgi::detail {

/// Walks the NUL bytes of a buffer in increasing order, 64 bytes per load:
/// each step is a bit operation on a mask until the mask runs out.
///
/// Precondition: `[data, data + size + nul_scan_padding)` is readable. Loads
/// are whole 64-byte chunks, so positions past `size` may be reported when no
/// NUL is left before `size`; callers stop at `size`.
class nul_cursor {
public:
    nul_cursor(const char* data, std::size_t size) noexcept
        : data_(data), size_(size), mask_(zero_mask(data)) {}

    /// The position of the next NUL, or a position >= size if none is left
    /// before `size`.
    std::size_t next() noexcept {
        while (mask_ == 0) {
            base_ += 64;
            if (base_ >= size_) return size_;
            mask_ = zero_mask(data_ + base_);
        }
        const std::size_t position = base_ + static_cast<std::size_t>(std::countr_zero(mask_));
        mask_ &= mask_ - 1;
        return position;
    }

private:
    /// Bit i set iff p[i] == 0, for i in [0, 64).
    static std::uint64_t zero_mask(const char* p) noexcept {
#if defined(__SSE2__)
        const __m128i zero = _mm_setzero_si128();
        std::uint64_t mask = 0;
        for (int i = 0; i < 4; ++i) {
            const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * i));
            const auto bits = static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(chunk, zero)));
            mask |= std::uint64_t{bits} << (16 * i);
        }
        return mask;
#else
        std::uint64_t mask = 0;
        for (int i = 0; i < 64; ++i) {
            if (p[i] == '\0') mask |= std::uint64_t{1} << i;
        }
        return mask;
#endif
    }

    const char* data_;
    std::size_t size_;
    std::size_t base_ = 0;
    std::uint64_t mask_;
};

}  // namespace scgi::detail
