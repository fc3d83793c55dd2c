// Locale-free ASCII helpers shared by the codec. Not part of the public API.
#pragma once

#include <cstddef>
#include <charconv>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace scgi::detail {

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

constexpr char to_upper(char c) noexcept {
    return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

constexpr char to_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

/// ASCII case-insensitive equality; other bytes compare exactly.
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (to_lower(a[i]) != to_lower(b[i])) return false;
    }
    return true;
}

/// RFC 9110 optional whitespace (OWS): a space or a horizontal tab.
constexpr bool is_blank(char c) noexcept { return c == ' ' || c == '\t'; }

/// `s` without the spaces and tabs at either end: an HTTP field value
/// without the OWS around it (RFC 9110 §5.5).
constexpr std::string_view trim_blanks(std::string_view s) noexcept {
    while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
    return s;
}

/// The value of a hexadecimal digit, or -1 if `c` is not one.
constexpr int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/// RFC 9110 `tchar`: the bytes allowed in an HTTP header name.
constexpr bool is_token_char(char c) noexcept {
    if (c >= '0' && c <= '9') return true;
    if (c >= 'a' && c <= 'z') return true;
    if (c >= 'A' && c <= 'Z') return true;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*':
    case '+': case '-': case '.': case '^': case '_': case '`': case '|': case '~':
        return true;
    default:
        return false;
    }
}

/// True if `s` is a non-empty HTTP token.
constexpr bool is_token(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (char c : s) {
        if (!is_token_char(c)) return false;
    }
    return true;
}

/// Parses all of `s` as a decimal number into `out` (std::from_chars):
/// digits only, no sign, space or prefix. Returns 0 on success, 1 if `s` is
/// empty or holds a non-digit anywhere, 2 if it is all digits but the value
/// does not fit `Unsigned`. A non-digit wins over overflow, so
/// `99999999999999999999x` is "not digits", whatever its length. `out` is
/// written only on success. The project's one decimal parser.
template <class Unsigned>
int parse_decimal(std::string_view s, Unsigned& out) noexcept {
    static_assert(std::is_unsigned_v<Unsigned>, "parse_decimal reads unsigned numbers");
    Unsigned value{};
    const char* const last = s.data() + s.size();
    const auto [end, ec] = std::from_chars(s.data(), last, value);
    if (s.empty() || end != last || ec == std::errc::invalid_argument) return 1;
    if (ec == std::errc::result_out_of_range) return 2;
    out = value;
    return 0;
}

}  // namespace scgi::detail
