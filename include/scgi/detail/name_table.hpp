// Duplicate-name detection in linear time, shared by the request parser and
// the request encoder. Not part of the public API.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace scgi::detail {

/// Hash of a header name. Reads the first and last (up to) 8 bytes, which
/// tell apart the usual CGI names (HTTP_ACCEPT_ENCODING / HTTP_ACCEPT_LANGUAGE
/// differ at the end, REQUEST_URI / REQUEST_METHOD at both).
inline std::uint64_t hash_name(std::string_view name) noexcept {
    std::uint64_t head = 0;
    std::uint64_t tail = 0;
    const std::size_t n = name.size();
    if (n >= 8) {
        std::memcpy(&head, name.data(), 8);
        std::memcpy(&tail, name.data() + n - 8, 8);
    } else {
        std::memcpy(&head, name.data(), n);
    }
    std::uint64_t h = (head * 0x9E3779B97F4A7C15ull) ^ std::rotl(tail * 0xC2B2AE3D27D4EB4Full, 31) ^ n;
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93ull;
    h ^= h >> 32;
    return h;
}

/// Table size (a power of two, at least twice `names`) for `names` entries.
constexpr std::size_t name_table_size(std::size_t names) noexcept {
    return std::bit_ceil(names * 2 < 16 ? std::size_t{16} : names * 2);
}

/// An open-addressing set of names, stored as indexes (plus one; 0 = empty)
/// into a caller's sequence. Sized once by the caller; never allocates.
class name_table {
public:
    /// `slots` must have `name_table_size(n)` zeroed elements for `n` names.
    explicit name_table(std::span<std::uint32_t> slots) noexcept
        : slots_(slots), mask_(slots.size() - 1) {}

    /// Looks `name` up; if absent, records it as `index` and returns -1,
    /// otherwise returns the index recorded for it. `name_at(i)` must return
    /// the name recorded as index i.
    template <class NameAt>
    std::ptrdiff_t insert(std::string_view name, std::uint32_t index, NameAt&& name_at) noexcept {
        std::size_t slot = static_cast<std::size_t>(hash_name(name)) & mask_;
        while (slots_[slot] != 0) {
            const std::uint32_t other = slots_[slot] - 1;
            if (name_at(other) == name) return static_cast<std::ptrdiff_t>(other);
            slot = (slot + 1) & mask_;
        }
        slots_[slot] = index + 1;
        return -1;
    }

private:
    std::span<std::uint32_t> slots_;
    std::size_t mask_;
};

}  // namespace scgi::detail
