/// @file
/// HTTP status codes: their reason phrases, and the status that refuses a
/// request that failed.
#pragma once

#include <string_view>
#include <system_error>

namespace scgi {

/// The standard reason phrase of an HTTP status code (RFC 9110 and the
/// registered extensions): 404 -> "Not Found"; "Unknown" for codes
/// without one. The view refers to static storage.
std::string_view reason_phrase(int status) noexcept;

/// The HTTP status a server answers when reading a request failed with `ec`
/// (an error of `request_parser` or of a server reading the request), which
/// the front end passes on to its client; 0 when there is nobody to answer or
/// nothing to refuse:
/// - 408 Request Timeout: `error::head_timeout`, `error::body_timeout`;
/// - 413 Content Too Large: `error::body_too_large`,
///   `error::spool_limit_exceeded`;
/// - 431 Request Header Fields Too Large: the other limits
///   (`condition::limit_exceeded`: header block, header count);
/// - 400 Bad Request: a protocol violation (`condition::protocol_violation`:
///   framing, header rules, CONTENT_LENGTH, ...);
/// - 0: no error; `error::partial_request` (the peer closed before the whole
///   request: it is gone); a socket's error; anything else.
///
/// `scgi::server` refuses with it; a program driving `request_parser` itself
/// answers the same way with it.
int status_for(std::error_code ec) noexcept;

}  // namespace scgi
