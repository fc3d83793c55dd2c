// The body length a response head declares, read one way for the server's
// response writer and for the tools that check responses.
#pragma once

#include <scgi/detail/ascii.hpp>
#include <scgi/header.hpp>
#include <scgi/response_head.hpp>

#include <cstdint>
#include <optional>
#include <string_view>

namespace scgi::detail {

/// The body length `head` declares, in `length` (empty without a
/// Content-Length), or why it declares none that can be relied on (and
/// `length` is left alone). Each Content-Length line, and each element of a
/// comma-separated list in one, must be decimal digits (spaces and tabs
/// around them are RFC 9110's OWS), and all must be equal (RFC 9110 §8.6:
/// repeats of one value are one length). Anything else would leave a reader
/// to guess where the body ends, and a guess that differs from the writer's
/// lets a body pass for a response.
inline const char* declared_content_length(const response_head& head, std::optional<std::uint64_t>& length) noexcept {
    constexpr std::string_view name = "Content-Length";
    std::optional<std::uint64_t> declared;
    const auto agrees = [&](std::uint64_t value) {
        const bool same = !declared || value == *declared;
        declared = value;
        return same;
    };
    for (const header h : head) {
        // (The exact spelling first: add_content_length's, the usual one.)
        if (h.name.size() != name.size() || (h.name != name && !iequals(h.name, name))) continue;
        std::uint64_t value = 0;
        // Digits alone, as add_content_length writes them: read at once.
        if (parse_decimal(h.value, value) == 0) {
            if (!agrees(value)) return "is stated more than once with different values";
            continue;
        }
        std::string_view list = h.value;
        for (;;) {
            const auto comma = list.find(',');
            if (parse_decimal(trim_blanks(list.substr(0, comma)), value) != 0) {
                return "is not a decimal number of at most 64 bits";
            }
            if (!agrees(value)) return "is stated more than once with different values";
            if (comma == std::string_view::npos) break;
            list.remove_prefix(comma + 1);
        }
    }
    length = declared;
    return nullptr;
}

}  // namespace scgi::detail
