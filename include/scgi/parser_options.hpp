/// @file
/// Limits plus the lenient switches of the request parser.
#pragma once

#include <scgi/limits.hpp>

namespace scgi {

/// What the request parser does when a header name appears more than once.
enum class duplicate_policy {
    /// Refuse the request with `error::duplicate_header` (the protocol's rule).
    reject,
    /// Keep the first occurrence, drop the later ones.
    first_wins,
    /// Keep the value of the last occurrence, at the position of the first.
    last_wins,
};

/// How strict the request parser is. The defaults follow the protocol exactly;
/// each switch relaxes one rule for a client known to break it.
///
/// Whatever the switches say, a duplicate CONTENT_LENGTH is refused
/// (`error::content_length_duplicate`): two lengths are a request-smuggling
/// vector.
struct parser_options {
    /// Size limits; see `scgi::limits` for the defaults.
    scgi::limits limits{};

    /// Accept a request without the `SCGI` header (nginx configured without
    /// `include scgi_params;`). A present SCGI header must still be `1`.
    bool allow_missing_scgi = false;

    /// Accept CONTENT_LENGTH anywhere in the header block, not only first
    /// (hand-written clients).
    bool allow_content_length_anywhere = false;

    /// Accept a request without CONTENT_LENGTH and treat its body as empty
    /// (lighttpd's authorizer mode omits it).
    bool allow_missing_content_length = false;

    /// Duplicate header names (Apache can send them in unusual configurations).
    duplicate_policy duplicates = duplicate_policy::reject;

    /// When CONTENT_LENGTH and HTTP_CONTENT_LENGTH (the HTTP Content-Length
    /// the front end forwarded, if all digits) differ, take the latter as the
    /// body's length instead of refusing the request with
    /// `error::content_length_disagrees`. For nginx with
    /// `scgi_request_buffering off`, which streams the body to the backend as
    /// it arrives: its CONTENT_LENGTH is only the part of the body it had
    /// read when it connected, and the whole body follows. With the switch,
    /// `request_head::content_length()` is the real length; the CONTENT_LENGTH
    /// header keeps nginx's value.
    bool body_length_from_http_content_length = false;
};

}  // namespace scgi
