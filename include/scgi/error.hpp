/// @file
/// Error codes of the SCGI codec, their category ("scgi") and coarse conditions.
#pragma once

#include <system_error>
#include <type_traits>

namespace scgi {

/// Every way the codec can refuse input.
///
/// Values start at 1 and are append-only: a value never changes meaning or
/// number between releases. Each value's `message()` names the rule that was
/// broken. `error::need_more` is the only resumable outcome: feed more bytes
/// and call again. Every other value is final for the message being parsed
/// (the parser stays in the error state until `reset()`).
enum class error {
    /// Not a failure: the input so far is a valid prefix; feed more bytes.
    need_more = 1,

    // --- netstring framing of the header block -------------------------------
    /// The request does not start with a decimal digit (`<len>` is missing).
    length_not_digit,
    /// `<len>` has more than one digit and starts with `0`.
    length_leading_zero,
    /// `<len>` exceeds `limits::max_header_block_bytes`, the largest header
    /// block the parser can represent (reported where it also exceeds the
    /// configured limit, which cannot be larger).
    length_overflow,
    /// `<len>` is followed by a byte other than a digit or `:`.
    missing_colon,
    /// The byte at the declared end of the header block is not `,`.
    missing_comma,

    // --- header block contents ------------------------------------------------
    /// The last byte of the header block is not NUL: a string runs past the
    /// declared end.
    header_unterminated,
    /// The header block holds an odd number of strings (a name without value).
    odd_string_count,
    /// A header name is the empty string.
    empty_name,
    /// A header name appears twice and the duplicate policy is `reject`.
    duplicate_header,
    /// No CONTENT_LENGTH header (and it is not allowed to be missing).
    content_length_missing,
    /// CONTENT_LENGTH is present but is not the first header.
    content_length_not_first,
    /// CONTENT_LENGTH's value is empty or holds a byte that is not a digit.
    content_length_invalid,
    /// CONTENT_LENGTH's value does not fit in 64 bits.
    content_length_overflow,
    /// CONTENT_LENGTH appears more than once: refused under every policy,
    /// because two lengths are a request-smuggling vector.
    content_length_duplicate,
    /// No SCGI header (nginx sends it only with `include scgi_params;`).
    scgi_header_missing,
    /// The SCGI header's value is not exactly `1`.
    scgi_header_invalid,

    // --- limits ---------------------------------------------------------------
    /// The declared header block is longer than `limits::header_block_bytes`.
    header_block_too_large,
    /// More headers than `limits::header_count`.
    too_many_headers,
    /// CONTENT_LENGTH is larger than `limits::body_bytes`.
    body_too_large,

    // --- message boundaries ---------------------------------------------------
    /// Bytes arrived after the end of the request body. SCGI carries exactly
    /// one request per connection, so they can belong to no request.
    trailing_data,
    /// The input ended (`put_eof`) before the request was complete.
    partial_request,

    // --- building requests and responses (the caller's input, not a peer's) --
    /// A header name given to the encoder contains a NUL byte.
    nul_in_name,
    /// A header value given to the encoder contains a NUL byte.
    nul_in_value,
    /// A CONTENT_LENGTH given to the encoder differs from the body length;
    /// or a server handler wrote more body than its response head's
    /// Content-Length (`response_writer::write`), or gave a head whose
    /// Content-Length is no one decimal length (`response_writer::write_head`).
    content_length_mismatch,
    /// A response header name given to the builder is empty or not an HTTP
    /// token.
    invalid_header_name,
    /// A response header value or reason phrase given to the builder contains
    /// CR, LF or NUL (response splitting).
    invalid_header_value,
    /// A status code given to the builder is outside 100..999.
    invalid_status,

    // --- parsing CGI responses (a peer's bytes) ----------------------------------
    /// The response head is longer than the parser's head limit.
    response_head_too_large,
    /// A first line `HTTP/...` that is not `HTTP/1.x NNN [reason]`, or a
    /// `Status:` header whose value is not `NNN [reason]`.
    bad_status_line,
    /// A response header line has no `:`.
    bad_header_line,
    /// A received response header name is empty or not an HTTP token.
    bad_header_name,
    /// A received response header value contains NUL or a CR not followed by LF.
    bad_header_value,
    /// A response header line starts with a space or tab (obsolete folding).
    obsolete_line_folding,
    /// The input ended before the blank line that closes the response head.
    partial_response,

    // --- URI helpers --------------------------------------------------------
    /// `%` not followed by two hexadecimal digits.
    bad_percent_encoding,

    // --- endpoints and listening sockets (Asio layer, caller's input) -------
    /// The endpoint text is empty.
    endpoint_empty,
    /// A TCP endpoint without `:port` (and no `/` to make it a Unix path).
    endpoint_missing_port,
    /// The port is not a decimal number from 0 to 65535.
    endpoint_invalid_port,
    /// The host is empty or holds a character no host name has, or a `[` has
    /// no matching `]`, or text follows `]` other than `:port`.
    endpoint_invalid_host,
    /// `unix:` with an empty path, or a path holding a NUL byte.
    endpoint_invalid_path,
    /// The Unix socket path does not fit in `sockaddr_un` (107 bytes on Linux).
    endpoint_path_too_long,
    /// Another process is listening on the Unix socket path.
    unix_socket_in_use,
    /// The Unix socket path exists and is not a socket: it is left alone.
    unix_path_not_socket,
    /// LISTEN_FDS / LISTEN_PID (systemd socket activation) are malformed, or
    /// a passed descriptor is not a listening stream socket.
    socket_activation_invalid,

    // --- timeouts (Asio layer) ------------------------------------------------
    /// The request head did not arrive within the head timeout.
    head_timeout,
    /// No body bytes arrived within the body inactivity timeout.
    body_timeout,
    /// A write did not complete within the write timeout.
    write_timeout,
    /// The connection was not established within the connect timeout.
    connect_timeout,

    // --- server resources (Asio layer) ------------------------------------------
    /// The response was started while more of the request body was unread
    /// than the server may spool (`spool_options::max_bytes`).
    spool_limit_exceeded,

    // --- listening sockets, continued (caller's input) --------------------------
    /// `listen_options::unix_socket_group` names no group on this system.
    unix_socket_group_unknown,

    // --- header block contents, continued ---------------------------------------
    /// CONTENT_LENGTH differs from HTTP_CONTENT_LENGTH, the HTTP Content-Length
    /// the front end forwarded: the body that follows is not CONTENT_LENGTH
    /// bytes long. nginx does this with `scgi_request_buffering off` (see
    /// `parser_options::body_length_from_http_content_length`).
    content_length_disagrees,

    // --- timeouts of the client (Asio layer) ------------------------------------
    /// The response head did not arrive within `client_options::response_head_timeout`.
    response_head_timeout,
    /// No response body bytes arrived within `client_options::body_timeout`.
    response_body_timeout,

    // --- peer filters (Asio layer, caller's input) -------------------------------
    /// An address prefix (`peer_filter`) is not an IPv4 or IPv6 address in
    /// numeric form, optionally followed by `/LENGTH`.
    address_prefix_invalid,
    /// The `/LENGTH` of an address prefix is not a decimal number from 0 to
    /// 32 (IPv4) or 0 to 128 (IPv6).
    address_prefix_length_invalid,
    /// An address prefix has bits set past its length (`10.0.0.1/8`): what
    /// was meant, the network or the one address, is ambiguous.
    address_prefix_host_bits_set,
};

/// Coarse groups of `error` values, for callers that branch on the kind of
/// failure rather than on the exact rule (`ec == scgi::condition::limit_exceeded`).
enum class condition {
    /// `error::need_more`: not a failure, feed more input.
    need_more = 1,
    /// A configured limit was exceeded (header block, header count, body,
    /// response head). A server answers these with 413 or 431.
    limit_exceeded,
    /// The peer's bytes break the protocol (framing, header rules, message
    /// boundaries, malformed response or URI). A server answers with 400.
    protocol_violation,
    /// The caller asked the encoder or response builder for something that
    /// cannot be expressed (NUL in a header, bad status, ...), or an endpoint
    /// or listening socket the caller named is unusable.
    invalid_argument,
    /// An Asio-layer timeout expired (head, body, write, connect; the
    /// client's response head and response body).
    timed_out,
};

namespace detail {
// The singleton behind error_category(), constant-initialised in error.cpp;
// a reference so the header needs no definition of the category class.
extern const std::error_category& error_category_instance;
}  // namespace detail

/// The category of `scgi::error`, named "scgi". A singleton. Inline (one
/// load): parsers report `need_more` on nearly every call.
inline const std::error_category& error_category() noexcept { return detail::error_category_instance; }

/// The category of `scgi::condition`, named "scgi.condition". A singleton.
const std::error_category& condition_category() noexcept;

/// Makes `std::error_code ec = scgi::error::x;` work (found by ADL).
inline std::error_code make_error_code(error e) noexcept {
    return {static_cast<int>(e), error_category()};
}

/// Makes `ec == scgi::condition::x` work (found by ADL).
std::error_condition make_error_condition(condition c) noexcept;

}  // namespace scgi

/// Makes `scgi::error` values convert to `std::error_code` and compare with one.
template <>
struct std::is_error_code_enum<scgi::error> : std::true_type {};

/// Makes `scgi::condition` values convert to `std::error_condition`, so that
/// `ec == scgi::condition::x` compares by condition.
template <>
struct std::is_error_condition_enum<scgi::condition> : std::true_type {};
