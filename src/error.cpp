#include <scgi/error.hpp>

#include <string>

namespace scgi {
namespace {

// The one place that names every rule. Messages say what was wrong in the
// terms of the protocol, so a log line is enough to find the broken rule.
const char* describe(error e) noexcept {
    switch (e) {
    case error::need_more:
        return "need more input";
    case error::length_not_digit:
        return "netstring length must start with a decimal digit";
    case error::length_leading_zero:
        return "netstring length has a leading zero";
    case error::length_overflow:
        return "netstring length overflows the largest representable header block";
    case error::missing_colon:
        return "netstring length is not followed by ':'";
    case error::missing_comma:
        return "header block is not followed by ',' at its declared length";
    case error::header_unterminated:
        return "header string runs past the declared end of the header block "
               "(the block must end with a NUL)";
    case error::odd_string_count:
        return "header block has a name without a value (odd number of strings)";
    case error::empty_name:
        return "header name is empty";
    case error::duplicate_header:
        return "header name appears more than once";
    case error::content_length_missing:
        return "CONTENT_LENGTH header is missing";
    case error::content_length_not_first:
        return "CONTENT_LENGTH is not the first header";
    case error::content_length_invalid:
        return "CONTENT_LENGTH is not a non-empty run of decimal digits";
    case error::content_length_overflow:
        return "CONTENT_LENGTH does not fit in 64 bits";
    case error::content_length_duplicate:
        return "CONTENT_LENGTH appears more than once (request smuggling risk)";
    case error::scgi_header_missing:
        return "SCGI header is missing (nginx sends it only with "
               "'include scgi_params;' next to scgi_pass)";
    case error::scgi_header_invalid:
        return "SCGI header value is not \"1\"";
    case error::header_block_too_large:
        return "header block exceeds the header block size limit";
    case error::too_many_headers:
        return "header count exceeds the header count limit";
    case error::body_too_large:
        return "CONTENT_LENGTH exceeds the body size limit";
    case error::trailing_data:
        return "bytes after the end of the request body "
               "(SCGI carries one request per connection)";
    case error::partial_request:
        return "input ended before the request was complete";
    case error::nul_in_name:
        return "header name contains a NUL byte";
    case error::nul_in_value:
        return "header value contains a NUL byte";
    case error::content_length_mismatch:
        return "CONTENT_LENGTH header differs from the body length";
    case error::invalid_header_name:
        return "response header name is empty or not an HTTP token";
    case error::invalid_header_value:
        return "response header value or reason phrase contains CR, LF or NUL";
    case error::invalid_status:
        return "status code is not in 100..999";
    case error::response_head_too_large:
        return "response head exceeds the head size limit";
    case error::bad_status_line:
        return "status line is not 'HTTP/1.x NNN reason' or Status value is "
               "not 'NNN reason'";
    case error::bad_header_line:
        return "response header line has no ':'";
    case error::bad_header_name:
        return "received response header name is empty or not an HTTP token";
    case error::bad_header_value:
        return "received response header value contains NUL or a CR not "
               "followed by LF";
    case error::obsolete_line_folding:
        return "response header line starts with whitespace (obsolete line "
               "folding)";
    case error::partial_response:
        return "input ended before the end of the response head";
    case error::bad_percent_encoding:
        return "'%' is not followed by two hexadecimal digits";
    case error::endpoint_empty:
        return "endpoint is empty";
    case error::endpoint_missing_port:
        return "endpoint has no ':port' (write host:port, [v6]:port, unix:/path, "
               "or a path containing '/')";
    case error::endpoint_invalid_port:
        return "endpoint port is not a decimal number from 0 to 65535";
    case error::endpoint_invalid_host:
        return "endpoint host is empty, holds a character no host name has, or its '[...]' "
               "brackets are malformed";
    case error::endpoint_invalid_path:
        return "Unix socket path is empty or holds a NUL byte";
    case error::endpoint_path_too_long:
        return "Unix socket path is too long for sockaddr_un (at most 107 bytes)";
    case error::unix_socket_in_use:
        return "another process is listening on the Unix socket path";
    case error::unix_path_not_socket:
        return "the Unix socket path exists and is not a socket (left untouched)";
    case error::socket_activation_invalid:
        return "LISTEN_FDS/LISTEN_PID are malformed or a passed descriptor is "
               "not a listening stream socket";
    case error::head_timeout:
        return "request head did not arrive within the head timeout";
    case error::body_timeout:
        return "no request body bytes arrived within the body timeout";
    case error::write_timeout:
        return "write did not complete within the write timeout";
    case error::connect_timeout:
        return "connection was not established within the connect timeout";
    case error::content_length_disagrees:
        return "CONTENT_LENGTH differs from the forwarded HTTP Content-Length (HTTP_CONTENT_LENGTH); "
               "nginx sends this with 'scgi_request_buffering off'";
    case error::unix_socket_group_unknown:
        return "the group for the Unix socket file (listen_options::unix_socket_group) does not exist";
    case error::response_head_timeout:
        return "response head did not arrive within the response head timeout";
    case error::response_body_timeout:
        return "no response body bytes arrived within the body timeout";
    case error::spool_limit_exceeded:
        return "request body is larger than the server may hold while the response waits for it "
               "(spool_options::max_bytes)";
    case error::address_prefix_invalid:
        return "address prefix is not a numeric IPv4 or IPv6 address with an optional /LENGTH";
    case error::address_prefix_length_invalid:
        return "address prefix length is not a decimal number from 0 to 32 (IPv4) or 128 (IPv6)";
    case error::address_prefix_host_bits_set:
        return "address prefix has bits set past its length (write the network, e.g. 10.0.0.0/8)";
    }
    return "unknown scgi error";
}

class error_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "scgi"; }

    std::string message(int value) const override {
        return describe(static_cast<error>(value));
    }

    std::error_condition default_error_condition(int value) const noexcept override {
        switch (static_cast<error>(value)) {
        case error::need_more:
            return condition::need_more;
        case error::header_block_too_large:
        case error::too_many_headers:
        case error::body_too_large:
        case error::response_head_too_large:
        case error::spool_limit_exceeded:
            return condition::limit_exceeded;
        case error::nul_in_name:
        case error::nul_in_value:
        case error::content_length_mismatch:
        case error::invalid_header_name:
        case error::invalid_header_value:
        case error::invalid_status:
        case error::endpoint_empty:
        case error::endpoint_missing_port:
        case error::endpoint_invalid_port:
        case error::endpoint_invalid_host:
        case error::endpoint_invalid_path:
        case error::endpoint_path_too_long:
        case error::unix_socket_in_use:
        case error::unix_path_not_socket:
        case error::socket_activation_invalid:
        case error::unix_socket_group_unknown:
        case error::address_prefix_invalid:
        case error::address_prefix_length_invalid:
        case error::address_prefix_host_bits_set:
            return condition::invalid_argument;
        case error::head_timeout:
        case error::body_timeout:
        case error::write_timeout:
        case error::connect_timeout:
        case error::response_head_timeout:
        case error::response_body_timeout:
            return condition::timed_out;
        case error::content_length_disagrees:
            return condition::protocol_violation;
        default:
            break;
        }
        if (value >= static_cast<int>(error::need_more) &&
            value <= static_cast<int>(error::bad_percent_encoding)) {
            return condition::protocol_violation;
        }
        return std::error_condition(value, *this);
    }
};

class condition_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "scgi.condition"; }

    std::string message(int value) const override {
        switch (static_cast<condition>(value)) {
        case condition::need_more:
            return "need more input";
        case condition::limit_exceeded:
            return "a configured limit was exceeded";
        case condition::protocol_violation:
            return "the input violates the protocol";
        case condition::invalid_argument:
            return "the caller's input cannot be encoded or used";
        case condition::timed_out:
            return "a timeout expired";
        }
        return "unknown scgi condition";
    }
};

// Constant-initialised, so error_category() needs no thread-safe static
// guard: it runs on every parser call that returns need_more.
constinit const error_category_impl error_instance{};
constinit const condition_category_impl condition_instance{};

}  // namespace

namespace detail {
constinit const std::error_category& error_category_instance = error_instance;
}  // namespace detail

const std::error_category& condition_category() noexcept { return condition_instance; }

std::error_condition make_error_condition(condition c) noexcept {
    return {static_cast<int>(c), condition_category()};
}

}  // namespace scgi
