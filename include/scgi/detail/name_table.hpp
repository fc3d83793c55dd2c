// Duplicate-name detection, shared by the request parser and the request
// encoder. Not part of the public API.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <type_traits>

namespace scgi::detail {

/// The 8 bytes at `p` as a native-endian integer, in constant evaluation too
/// (so hashes of known names can be compile-time constants).
constexpr std::uint64_t load8(const char* p) noexcept {
    if (std::is_constant_evaluated()) {
        std::uint64_t v = 0;
        for (int i = 0; i < 8; ++i) {
            const auto byte = std::uint64_t{static_cast<unsigned char>(p[i])};
            v |= byte << (std::endian::native == std::endian::little ? 8 * i : 8 * (7 - i));
        }
        return v;
    }
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}

/// 64-bit hash of a header name from its length and its first and last 8
/// bytes, which tell apart the usual CGI names (HTTP_ACCEPT_ENCODING /
/// HTTP_ACCEPT_LANGUAGE differ at the end, REQUEST_URI / REQUEST_METHOD at
/// both). Two loads and one multiply: it runs for every header. Names that
/// differ only in the middle collide, so users must treat equal hashes as
/// "maybe equal" and bound the cost of collisions (see request_parser).
constexpr std::uint64_t hash_name(std::string_view name) noexcept {
    const std::size_t n = name.size();
    std::uint64_t head = 0;
    std::uint64_t tail = 0;
    if (n >= 8) {
        head = load8(name.data());
        tail = load8(name.data() + n - 8);
    } else {
        for (std::size_t i = 0; i < n; ++i) head = (head << 8) | static_cast<unsigned char>(name[i]);
    }
    // The high bits of the product depend on every input bit: use those.
    return (head ^ std::rotl(tail, 29) ^ n) * 0x9E3779B97F4A7C15ull;
}

/// 64-bit hash of every byte of `name`, keyed by `seed`: slower than
/// `hash_name` for long names but with no blind spot, so a caller who picks
/// `seed` at random cannot be fed names built to collide. A multiply-xorshift
/// per 8 bytes, then the finaliser of SplitMix64.
constexpr std::uint64_t hash_whole_name(std::string_view name, std::uint64_t seed) noexcept {
    const std::size_t n = name.size();
    std::uint64_t h = seed ^ (n * 0x9E3779B97F4A7C15ull);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        h = (h ^ load8(name.data() + i)) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
    }
    std::uint64_t tail = 0;
    for (; i < n; ++i) tail = (tail << 8) | static_cast<unsigned char>(name[i]);
    h = (h ^ tail) * 0x94D049BB133111EBull;
    h ^= h >> 30;
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 31);
}

/// A 2048-bit filter over name hashes: "certainly new" in a few
/// instructions for the usual few dozen names (30 names give a false "maybe"
/// about once in five requests); "maybe seen" sends the caller to an exact
/// check. Lives on the stack; never allocates. (One bit per name measured
/// faster than two: the second read-modify-write costs more than the rare
/// false "maybe" it saves.)
class name_filter {
public:
    /// Records `hash`; returns true if its bit was already set (a duplicate
    /// is possible, not certain).
    bool test_and_set(std::uint64_t hash) noexcept {
        const auto index = static_cast<unsigned>(hash >> 53);  // the top 11 bits
        std::uint64_t& word = words_[index >> 6];
        const std::uint64_t bit = std::uint64_t{1} << (index & 63);
        const bool seen = (word & bit) != 0;
        word |= bit;
        return seen;
    }

private:
    std::array<std::uint64_t, 32> words_{};
};

/// Table size (a power of two, at least twice `names`) for `names` entries.
constexpr std::size_t name_table_size(std::size_t names) noexcept {
    return std::bit_ceil(names * 2 < 16 ? std::size_t{16} : names * 2);
}

/// An open-addressing set of names, stored as indexes (plus one; 0 = empty)
/// into a caller's sequence. Sized once by the caller; never allocates.
/// Linear in the number of names whatever their count (the encoder takes any
/// number of headers).
///
/// A slot's bits above those the indexes need hold bits of the name's hash:
/// a probe that meets another name compares those first, so it reads
/// neither the caller's sequence nor the name's bytes unless the hashes
/// agree there too (what keeps a table of thousands of names fast once it
/// outgrows the caches).
class name_table {
public:
    /// `slots` must have `name_table_size(names)` zeroed elements; at most
    /// `names` (below 2^31) names are inserted, with indexes below `names`.
    name_table(std::span<std::uint32_t> slots, std::size_t names) noexcept
        : slots_(slots),
          mask_(slots.size() - 1),
          index_mask_(static_cast<std::uint32_t>((std::uint64_t{1} << std::bit_width(names)) - 1)) {}

    /// Looks `name` up; if absent, records it as `index` and returns -1,
    /// otherwise returns the index recorded for it. `name_at(i)` must return
    /// the name recorded as index i. Hashes with `hash_name`.
    template <class NameAt>
    std::ptrdiff_t insert(std::string_view name, std::uint32_t index, NameAt&& name_at) noexcept {
        return insert(name, hash_name(name), index, name_at);
    }

    /// The same with the caller's `hash` of `name` (every name of one table
    /// hashed the same way).
    template <class NameAt>
    std::ptrdiff_t insert(std::string_view name, std::uint64_t hash, std::uint32_t index, NameAt&& name_at) noexcept {
        std::size_t slot = static_cast<std::size_t>(hash >> 32) & mask_;
        const std::uint32_t tag = static_cast<std::uint32_t>(hash) & ~index_mask_;
        while (slots_[slot] != 0) {
            const std::uint32_t entry = slots_[slot];
            if ((entry & ~index_mask_) == tag) {
                const std::uint32_t other = (entry & index_mask_) - 1;
                if (name_at(other) == name) return static_cast<std::ptrdiff_t>(other);
            }
            slot = (slot + 1) & mask_;
        }
        slots_[slot] = tag | (index + 1);
        return -1;
    }

private:
    std::span<std::uint32_t> slots_;
    std::size_t mask_;
    std::uint32_t index_mask_;  // the low bits: index + 1
};

}  // namespace scgi::detail
