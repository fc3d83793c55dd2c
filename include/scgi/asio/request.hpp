/// @file
/// The request a server handler receives: the head at once, the body as a
/// stream.
#pragma once

#include <scgi/asio/io_result.hpp>
#include <scgi/error.hpp>
#include <scgi/request_head.hpp>

#include <asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>

namespace scgi {
namespace detail {
struct connection_slot;
struct server_access;
}  // namespace detail

/// One SCGI request inside a `scgi::server` handler. The head is parsed and
/// valid before the handler runs; the body arrives as the handler reads it,
/// so a large upload never has to fit in memory.
///
/// Owned by the server; valid for the handler's run. Not thread-safe: use it
/// from the handler's coroutine only, one operation at a time, and never
/// while a `response_writer` operation of the same request is in progress
/// (not both branches of one `parallel_group` or `||`): a response write may
/// itself read the rest of the body.
class request {
public:
    /// The parsed header block: `method()`, `uri()`, `path()`, `query()`,
    /// `http_header(name)`, `find(name)`, iteration in received order.
    const request_head& head() const noexcept;

    /// CONTENT_LENGTH: the body's size in bytes.
    std::uint64_t content_length() const noexcept { return head().content_length(); }

    /// Body bytes not yet read (spooled or still on the socket).
    std::uint64_t body_remaining() const noexcept;

    /// Reads the next piece of the body (the tokio-scgi `BodyFragment`).
    /// Returns `{error, piece}`:
    /// - no error, non-empty piece: body bytes, valid until the next call on
    ///   this request (at most `server_options::read_buffer_size` bytes);
    /// - no error, empty piece: the body is complete;
    /// - `error::body_timeout`: no byte arrived within `body_timeout`;
    ///   `error::partial_request`: the front end closed early; otherwise the
    ///   socket's error. The connection is then unusable.
    ///
    /// Once the response has started, the whole body has been received (see
    /// `server_options::receive_body_before_response`): the pieces then come
    /// from the server's spool, in order, and the errors are those of its
    /// temporary file.
    [[nodiscard]] asio::awaitable<std::tuple<std::error_code, std::string_view>> read_body_some();

    /// Reads the whole body into a string, refusing with `error::body_too_large`
    /// before reading anything if CONTENT_LENGTH exceeds `limit`. Other errors
    /// as `read_body_some`.
    [[nodiscard]] asio::awaitable<std::tuple<std::error_code, std::string>> read_body(std::size_t limit);

    /// Reads the rest of the body and drops it, spooling nothing (and drops
    /// spooled bytes not read yet). For a handler that answers without the
    /// body, e.g. refusing an upload: its response then waits for no spool.
    /// Errors as `read_body_some`, as an `io_result` (see there for which
    /// compiler flags a dropped one); on success `body_remaining()` is 0.
    [[nodiscard]] asio::awaitable<io_result> discard_body();

private:
    friend struct detail::server_access;
    explicit request(detail::connection_slot& slot) noexcept : slot_(&slot) {}
    detail::connection_slot* slot_;
};

}  // namespace scgi
