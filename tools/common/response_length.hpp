// The length a response's body must have, which both tools check: an SCGI
// response ends when the connection does, so a Content-Length header is the
// only sign of a body cut short or overlong.
#pragma once

#include <scgi/response_head.hpp>

#include <cstdint>
#include <optional>
#include <string_view>

namespace scgi::tools {

/// What a response head says about its body's length.
struct body_length_rule {
    /// The body must have exactly this many bytes; none: any length (no
    /// Content-Length, or a response that has no body whatever its
    /// Content-Length says).
    std::optional<std::uint64_t> expected;
    /// The Content-Length is not a decimal number that fits 64 bits, or it
    /// is stated more than once with different values: the response is
    /// malformed (detail::declared_content_length, as the server reads it).
    bool malformed = false;
};

/// The rule for a response with `head` to a request of `method`. A response
/// to HEAD, an informational (1xx), 204 or 304 response describes in its
/// Content-Length a body it does not send (RFC 9110, 8.6), so its length is
/// not checked; its Content-Length must still be a number.
body_length_rule body_length_of(const response_head& head, std::string_view method);

}  // namespace scgi::tools
