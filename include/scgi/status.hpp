/// @file
/// Standard HTTP reason phrases.
#pragma once

#include <string_view>

namespace scgi {

/// The standard reason phrase of an HTTP status code (RFC 9110 and the
/// registered extensions): 404 -> "Not Found"; "Unknown" for codes
/// without one. The view refers to static storage.
std::string_view reason_phrase(int status) noexcept;

}  // namespace scgi
