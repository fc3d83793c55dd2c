// Where one header's name and value lie inside a head's storage. Offsets
// rather than views keep the owning head safely copyable and movable.
// Not part of the public API.
#pragma once

#include <scgi/header.hpp>

#include <cstdint>
#include <string_view>

namespace scgi::detail {

struct header_entry {
    std::uint32_t name_offset;
    std::uint32_t name_size;
    std::uint32_t value_offset;
    std::uint32_t value_size;

    std::string_view name(const char* storage) const noexcept {
        return {storage + name_offset, name_size};
    }
    std::string_view value(const char* storage) const noexcept {
        return {storage + value_offset, value_size};
    }
    header view(const char* storage) const noexcept { return {name(storage), value(storage)}; }
};

}  // namespace scgi::detail
