/// @file
/// A complete response, for handlers that build the whole answer at once,
/// and the helpers for redirects and file hand-offs.
#pragma once

#include <scgi/response_head.hpp>

#include <string>
#include <string_view>

namespace scgi {

/// A whole CGI response: head and body. `response_writer::send` writes it;
/// handlers of the simple form return one.
///
/// The factories throw `std::invalid_argument` for a value a header cannot
/// carry (CR, LF or NUL), as `response_head::add` does: building such a
/// header is a bug in the handler, and the server turns the exception into a
/// 500 and a log line. For a value from the request (a redirect target taken
/// from the query, say), build the head with the `std::error_code&` form of
/// `response_head::add` and answer the error yourself.
struct response {
    /// Status and header lines.
    response_head head;
    /// The body bytes, sent as they are after the head.
    std::string body;

    /// `status` with `body` of `content_type` and a Content-Length.
    static response text(int status, std::string body,
                         std::string_view content_type = "text/plain; charset=utf-8");

    /// A redirect (default 302 Found) to `location`, with a short text body.
    static response redirect(std::string_view location, int status = 302);

    /// Asks nginx to serve `internal_uri` itself (`X-Accel-Redirect`): the
    /// backend authorises, nginx sends the file from an `internal` location.
    static response nginx_file(std::string_view internal_uri);

    /// Asks Apache (mod_xsendfile) or lighttpd (`x-sendfile` enabled) to send
    /// the file at `path` (`X-Sendfile`).
    static response sendfile(std::string_view path);
};

}  // namespace scgi
