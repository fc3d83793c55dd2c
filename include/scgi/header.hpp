/// @file
/// A header as a (name, value) pair of views.
#pragma once

#include <string_view>

namespace scgi {

/// One SCGI header: a name and a value, both raw bytes (no encoding is
/// assumed). The views do not own their bytes; where a `header` comes from
/// says how long they stay valid.
struct header {
    /// The name: a CGI variable such as `REQUEST_METHOD` in a request, an
    /// HTTP header name such as `Content-Type` in a response.
    std::string_view name;
    /// The value; may be empty.
    std::string_view value;

    /// Equal names and equal values, compared byte for byte (not where the
    /// views point).
    friend bool operator==(const header&, const header&) = default;
};

}  // namespace scgi
