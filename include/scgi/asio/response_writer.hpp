/// @file
/// How a server handler answers: head, body pieces with backpressure, finish.
#pragma once

#include <scgi/asio/io_result.hpp>
#include <scgi/asio/response.hpp>
#include <scgi/error.hpp>
#include <scgi/response_head.hpp>

#include <asio/awaitable.hpp>

#include <string_view>
#include <system_error>

namespace scgi {
namespace detail {
struct connection_slot;
struct server_access;
}  // namespace detail

/// Writes one CGI response to the front end. The head is held back until the
/// first body piece or `finish()`, so a small response leaves in one write.
/// Each `write` completes when the socket has taken the bytes: a front end
/// that reads slowly slows the handler (backpressure), and one that stops
/// reading is dropped after `server_options::write_timeout`.
///
/// Errors are returned, never thrown, as an `io_result`: a `std::error_code`
/// that clang flags when a `co_await`'s result is dropped (g++ 12 cannot; see
/// `io_result`); the functions are `[[nodiscard]]`, so both compilers flag a
/// call that was never awaited. After an error, later calls return it again
/// and write nothing. A front end that closed mid-response shows up as the
/// socket's error (`broken_pipe`, `connection_reset`); SIGPIPE is never raised.
/// Calling out of order (`write` before `write_head`, `write_head` twice) is
/// a bug and throws `std::logic_error`.
///
/// Owned by the server; valid for the handler's run. Not thread-safe.
class response_writer {
public:
    /// Sets the head (status and headers; CGI `Status:` form), which is held
    /// back and leaves with the first `write` or `finish`: no I/O here, so
    /// nothing to wait for. Without a Content-Length the body runs until the
    /// connection closes. With one, the body is held to its length: each
    /// Content-Length value is decimal digits, with optional spaces and tabs
    /// around them (RFC 9110's OWS); a repeated Content-Length, as another
    /// line or in a comma-separated list (`5, 5`), is accepted if every value
    /// is the same (RFC 9110 §8.6). Any other Content-Length (not digits,
    /// more than 64 bits, values that differ) declares no length the front
    /// end could be relied on to read alike, so the response is refused:
    /// nothing of it is sent, `write`, `finish` and `send` return
    /// `error::content_length_mismatch`, a line is logged, and once the
    /// handler returns the server answers 500 in its place.
    void write_head(const response_head& head);

    /// Writes body bytes (with the head first if it is still held back).
    /// `error::write_timeout` if the socket did not take them in time.
    /// `error::content_length_mismatch` if the head declared a Content-Length
    /// and this piece would pass it: only the bytes up to that length are
    /// sent (the front end never sees more body than the head announced),
    /// the rest is dropped with a log line; later writes and `finish()` send
    /// nothing and return the same error.
    [[nodiscard]] asio::awaitable<io_result> write(std::string_view body_piece);

    /// Ends the response: sends a held-back head. The server closes the
    /// connection when the handler returns; calling `finish` is optional.
    [[nodiscard]] asio::awaitable<io_result> finish();

    /// Writes a whole response in one go, adding Content-Length if the head
    /// has none; one the head states is read as `write_head` reads it.
    [[nodiscard]] asio::awaitable<io_result> send(const response& whole);

    /// True once `write_head` (or `send`) was called.
    bool head_written() const noexcept;

private:
    friend struct detail::server_access;
    explicit response_writer(detail::connection_slot& slot) noexcept : slot_(&slot) {}
    detail::connection_slot* slot_;
};

}  // namespace scgi
