/// @file
/// Percent-decoding of URI components and form data.
#pragma once

#include <string>
#include <string_view>
#include <system_error>

namespace scgi {

/// What `+` decodes to.
enum class plus_decoding {
    /// `+` stays `+` (paths: RFC 3986).
    keep,
    /// `+` becomes a space (query strings and form bodies:
    /// application/x-www-form-urlencoded).
    to_space,
};

/// Appends `input` to `out` with every `\%XY` (X, Y hexadecimal digits, either
/// case) replaced by the byte 0xXY. The result is raw bytes: `%00` yields a
/// NUL and no UTF-8 check is made.
///
/// Error: `error::bad_percent_encoding` if a `%` is not followed by two
/// hexadecimal digits; `out` is then left as it was.
[[nodiscard]] std::error_code percent_decode(std::string_view input, std::string& out,
                                             plus_decoding plus = plus_decoding::keep);

}  // namespace scgi
