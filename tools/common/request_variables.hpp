// The SCGI variables of a tool's request, built from `request_options` the
// way nginx builds them from an HTTP request and Debian's stock scgi_params.
#pragma once

#include "common/request_options.hpp"

#include <scgi/header.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace scgi::tools {

/// One SCGI variable, owning its bytes.
struct variable {
    /// The name (`REQUEST_METHOD`, `HTTP_X_FOO`).
    std::string name;
    /// The value; may be empty.
    std::string value;

    /// Same name and value.
    friend bool operator==(const variable&, const variable&) = default;
};

/// The variables of one request, in the order they are sent, without
/// CONTENT_LENGTH and SCGI (`scgi::encode_request` writes those two first).
///
/// `build` starts from what nginx 1.22 with Debian's `/etc/nginx/scgi_params`
/// sends for a request of URI from a client that sent only a Host header
/// (docs/nginx.md, "What the application sees"), in nginx's order:
///
/// | variable        | default                                                 |
/// | --------------- | ------------------------------------------------------- |
/// | REQUEST_METHOD  | `-X`, else GET, or POST with a body                     |
/// | REQUEST_URI     | URI as given                                            |
/// | QUERY_STRING    | URI after the first `?`, else empty                     |
/// | CONTENT_TYPE    | empty (sent anyway, as nginx does)                      |
/// | DOCUMENT_URI    | URI's path, percent-decoded (raw if that fails or yields a NUL) |
/// | DOCUMENT_ROOT   | `/var/www/html` (Debian's default site)                 |
/// | SERVER_PROTOCOL | `HTTP/1.1`                                              |
/// | REQUEST_SCHEME  | `http` (so HTTPS, sent only `if_not_empty`, is absent)  |
/// | REMOTE_ADDR     | `127.0.0.1`                                             |
/// | REMOTE_PORT     | `0` (no HTTP client exists; `-e` sets one)              |
/// | SERVER_PORT     | `80`                                                    |
/// | SERVER_NAME     | `localhost`                                             |
/// | HTTP_HOST       | `localhost` (Debian's `$host`)                          |
///
/// then the HTTP headers, as nginx forwards them:
/// - with a body, the Content-Length and Content-Type an HTTP client such as
///   curl sends: HTTP_CONTENT_LENGTH = the body's length, and CONTENT_TYPE =
///   HTTP_CONTENT_TYPE = `application/x-www-form-urlencoded` (curl's default
///   for `-d`);
/// - each `-H 'Name: value'`: HTTP_ + the name in upper case with `-` as `_`.
///   `Content-Type` sets CONTENT_TYPE in its place as well; `Host` sets
///   HTTP_HOST to the host in lower case without the port (nginx's `$host`);
///   `Content-Length` goes only to HTTP_CONTENT_LENGTH (CONTENT_LENGTH stays
///   the body's real length: a server may refuse the difference, as
///   asio-scgi's does). A name given twice is joined with `, ` (`; ` for
///   Cookie), as nginx 1.23 and later do. A `-H` for a variable already
///   there (a default, or an earlier `-H`) replaces its value in place;
///   `Name:` removes it.
///
/// and last each `-e NAME=VALUE`: replaces NAME's value in place, or is
/// appended; `-e NAME` removes NAME.
class request_variables {
public:
    /// The variables for `options` and a body of `body_length` bytes, or no
    /// body option at all (empty optional: GET, no HTTP_CONTENT_LENGTH).
    /// Throws std::invalid_argument, with the reason, for a `-H` or `-e`
    /// argument that `add_request_options` would have refused.
    static request_variables build(const request_options& options, std::optional<std::uint64_t> body_length);

    /// The variables in order.
    const std::vector<variable>& list() const noexcept { return list_; }

    /// The value of `name`, if present.
    std::optional<std::string_view> find(std::string_view name) const noexcept;

    /// Views of `list()` for `scgi::encode_request` and the Asio layer's
    /// writers; valid while this object lives and is not modified.
    std::vector<header> headers() const;

    /// Appends the encoded request head (`scgi::encode_request`) for a body
    /// of `body_length` bytes to `out`; its errors (none for a list `build`
    /// made, whose names are non-empty, unique and free of NUL).
    std::error_code encode(std::uint64_t body_length, std::string& out) const;

    /// Sets `name` to `value`: in place if present, else at the end.
    void set(std::string_view name, std::string_view value);

    /// Removes `name`, if present.
    void remove(std::string_view name);

private:
    std::vector<variable>::iterator position(std::string_view name) noexcept;

    std::vector<variable> list_;
};

/// The CGI name nginx gives the HTTP header `name`: HTTP_ + `name` in upper
/// case, `-` as `_` (`X-Foo` → `HTTP_X_FOO`).
std::string http_variable_name(std::string_view name);

}  // namespace scgi::tools
