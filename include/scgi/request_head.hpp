/// @file
/// The parsed header block of one SCGI request, with the CGI accessors.
#pragma once

#include <scgi/detail/header_entry.hpp>
#include <scgi/detail/indexed_iterator.hpp>
#include <scgi/header.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace scgi {

class request_parser;

/// The headers of one SCGI request, in the order received (after the
/// duplicate policy), owning their bytes.
///
/// Produced by `request_parser`; copy or move it to keep it beyond the
/// parser's next `reset()`. Every `std::string_view` it returns points into
/// its own storage and stays valid until the head is destroyed, assigned to,
/// or its parser is reset or fed a new request. Moving a head does not move its
/// bytes: views taken before the move stay valid and refer to the new owner.
///
/// Names are compared byte for byte (CGI meta-variable names are upper case);
/// `http_header()` is the case-insensitive lookup by HTTP header name.
class request_head {
public:
    /// Random-access iterator yielding `header` values that point into the head.
    using iterator = detail::indexed_iterator<request_head, header>;

    /// An empty head: no headers, content length 0.
    request_head() = default;

    /// Number of headers.
    std::size_t size() const noexcept { return entries_.size(); }

    /// True if there are no headers.
    bool empty() const noexcept { return entries_.empty(); }

    /// The header at `index`, in received order. Precondition: `index < size()`.
    header operator[](std::size_t index) const noexcept;

    /// The first header, in received order.
    iterator begin() const noexcept { return {this, 0}; }
    /// Past the last header.
    iterator end() const noexcept { return {this, size()}; }

    /// The value of the header named exactly `name`, if present.
    std::optional<std::string_view> find(std::string_view name) const noexcept;

    /// The value of the header named exactly `name`, or `fallback`.
    std::string_view value_or(std::string_view name,
                              std::string_view fallback = {}) const noexcept;

    /// The body length the request declared (CONTENT_LENGTH), or 0 when the
    /// header was absent and the parser was told to allow that.
    std::uint64_t content_length() const noexcept { return content_length_; }

    /// REQUEST_METHOD, e.g. "GET"; empty if absent.
    std::string_view method() const noexcept;

    /// REQUEST_URI as the front end sent it (raw, percent-encoded, with the
    /// query string); empty if absent.
    std::string_view uri() const noexcept;

    /// The path part of REQUEST_URI: everything before the first `?` or `#`,
    /// still percent-encoded (decode with `percent_decode`); empty if
    /// REQUEST_URI is absent.
    std::string_view path() const noexcept;

    /// The part of `path()` below `mount`, the prefix under which the front
    /// end routes requests to this application (nginx's `location /app/`):
    /// what CGI calls PATH_INFO, for front ends that send none. `mount` is
    /// matched whole segments, with or without its trailing `/`: below
    /// `/app` (or `/app/`), `/app/users/7` is `/users/7`, `/app/` is `/`,
    /// `/app` is empty, and `/application` is not below it (nullopt). A
    /// `mount` of `/` or empty leaves the path as it is. Compared as raw
    /// bytes, before percent-decoding, as `path()` is.
    std::optional<std::string_view> path_below(std::string_view mount) const noexcept;

    /// The raw query string: QUERY_STRING if present, else the part of
    /// REQUEST_URI between `?` and `#`; empty if neither. Parse it with
    /// `query_params` / `find_query_param`.
    std::string_view query() const noexcept;

    /// CONTENT_TYPE; empty if absent (nginx sends it empty on a GET).
    std::string_view content_type() const noexcept;

    /// The value of an HTTP request header by its HTTP name, found under its
    /// CGI name: `Content-Type` and `Content-Length` as CONTENT_TYPE and
    /// CONTENT_LENGTH, any other as `HTTP_` + the name upper-cased with `-`
    /// turned into `_` (`X-Forwarded-For` -> HTTP_X_FORWARDED_FOR). The HTTP
    /// name is matched case-insensitively; nothing is allocated.
    std::optional<std::string_view> http_header(std::string_view http_name) const noexcept;

private:
    friend class request_parser;

    using entry = detail::header_entry;

    std::string_view name_of(const entry& e) const noexcept { return e.name(storage_.data()); }
    std::string_view value_of(const entry& e) const noexcept { return e.value(storage_.data()); }

    std::vector<char> storage_;    // the header block bytes, plus scan padding
    std::vector<entry> entries_;   // one per header kept
    std::uint64_t content_length_ = 0;
};

}  // namespace scgi
