/// @file
/// Incremental, sans-I/O parser for the head of a CGI response (the client side).
#pragma once

#include <scgi/error.hpp>
#include <scgi/response_head.hpp>

#include <cstddef>
#include <string_view>
#include <system_error>

namespace scgi {

/// Parses the head of the CGI response an SCGI server sends back, from bytes
/// fed in any slices. The body is everything after the head until the server
/// closes the connection (a `Content-Length` header, if any, is information
/// for the caller, not framing), so the parser stops at the end of the head.
///
/// Accepted forms, as front ends accept them:
/// - a first line `HTTP/1.x NNN [reason]` (nginx accepts it; Apache does not);
/// - a `Status: NNN [reason]` header (the CGI form; it overrides a status
///   line, and is not kept among the headers);
/// - `Location` without a status means 302; otherwise the default is 200;
/// - lines ending in CRLF or in a bare LF; the head ends at an empty line.
///
/// Header names must be HTTP tokens; values are trimmed of spaces and tabs
/// and may hold any byte but NUL and a CR not followed by LF. Folded lines
/// (starting with whitespace) are refused.
///
/// Guarantees, for every split of the same input: the same head and outcome;
/// a strict prefix of a valid head yields only `error::need_more`; nothing
/// past the input's end is read. Not thread-safe.
class response_parser {
public:
    /// Default head limit: 64 KiB, like the request header block.
    static constexpr std::size_t default_head_limit = 64 * 1024;

    /// A parser that refuses heads longer than `head_limit` bytes (counting
    /// every byte through the closing empty line).
    explicit response_parser(std::size_t head_limit = default_head_limit) noexcept
        : head_limit_(head_limit) {}

    /// Consumes a prefix of `input` and returns its length.
    /// - `error::need_more`: all of `input` was consumed; the head goes on.
    /// - no error: `is_head_done()`; consumption stopped right after the empty
    ///   line, the rest of `input` is body.
    /// - any other error (`response_head_too_large`, `bad_status_line`,
    ///   `bad_header_line`, `bad_header_name`, `bad_header_value`,
    ///   `obsolete_line_folding`): final until `reset()`; later calls return
    ///   it again and consume nothing. `response_head_too_large` is reported
    ///   as soon as the limit is passed, with consumption stopped at the limit;
    ///   the others once the head is complete.
    /// Once the head is done, further calls consume nothing and succeed.
    std::size_t put(std::string_view input, std::error_code& ec);

    /// The input has ended: `error::partial_response` unless the head is done
    /// (or the stored error if the parser failed).
    void put_eof(std::error_code& ec);

    /// True once the head has been parsed and validated.
    bool is_head_done() const noexcept { return state_ == state::done; }

    /// The parsed head. Precondition: `is_head_done()`. Valid until `reset()`,
    /// `release_head()` or destruction.
    const response_head& head() const noexcept { return head_; }

    /// Moves the head out; the parser then needs `reset()`.
    response_head release_head() noexcept;

    /// Prepares for a new response, keeping allocated storage.
    void reset() noexcept;

private:
    enum class state : unsigned char { line_start, line_start_cr, mid_line, done, failed };

    std::size_t fail(error e, std::size_t consumed, std::error_code& ec) noexcept;
    std::optional<error> parse_head();

    response_head head_;
    std::size_t head_limit_;
    state state_ = state::line_start;
    error error_ = error::need_more;
};

}  // namespace scgi
