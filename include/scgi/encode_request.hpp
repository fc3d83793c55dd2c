/// @file
/// Encoding an SCGI request head (the client side).
#pragma once

#include <scgi/header.hpp>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <system_error>

namespace scgi {

/// The exact number of bytes `encode_request` appends for these arguments,
/// or 0 with `ec` set to the error `encode_request` would return.
std::size_t encoded_size(std::span<const header> headers, std::uint64_t body_length,
                         std::error_code& ec);

/// Appends the head of an SCGI request — `<len>:<header block>,` — to `out`.
/// The caller sends exactly `body_length` body bytes after it.
///
/// The block starts with CONTENT_LENGTH (`body_length` in decimal) and
/// `SCGI` = `1`, then `headers` in order. A CONTENT_LENGTH or SCGI among
/// `headers` is not repeated: its value is checked instead and it is
/// emitted in the leading position.
///
/// Errors (`out` is left unchanged):
/// - `error::empty_name`: a name is empty;
/// - `error::nul_in_name` / `error::nul_in_value`: a NUL byte, which SCGI
///   cannot carry;
/// - `error::duplicate_header`: a name appears twice
///   (`error::content_length_duplicate` for CONTENT_LENGTH);
/// - `error::content_length_mismatch`: a CONTENT_LENGTH in `headers` that is
///   not `body_length` in decimal;
/// - `error::scgi_header_invalid`: an SCGI header whose value is not `1`.
///
/// Allocates only to grow `out`; reuse one string to encode without allocating.
std::error_code encode_request(std::span<const header> headers, std::uint64_t body_length,
                               std::string& out);

/// As above, for a braced list: `encode_request({{"REQUEST_METHOD", "GET"}}, 0, out)`.
inline std::error_code encode_request(std::initializer_list<header> headers,
                                      std::uint64_t body_length, std::string& out) {
    return encode_request(std::span<const header>(headers.begin(), headers.size()), body_length,
                          out);
}

}  // namespace scgi
