/// @file
/// Reading an SCGI request from a stream: the head, then the body in pieces.
#pragma once

#include <scgi/asio/detail/compose.hpp>
#include <scgi/asio/detail/read_head_op.hpp>
#include <scgi/asio/read_buffer.hpp>
#include <scgi/error.hpp>
#include <scgi/request_parser.hpp>

#include <asio/async_result.hpp>
#include <asio/compose.hpp>
#include <asio/error.hpp>

#include <cstddef>
#include <string_view>
#include <system_error>
#include <utility>

namespace scgi {
namespace detail {

template <class Stream>
struct read_body_some_op {
    read_body_some_op(Stream& s, read_buffer& b, request_parser& p) noexcept : stream(s), buffer(b), parser(p) {}

    Stream& stream;
    read_buffer& buffer;
    request_parser& parser;
    op_state state = op_state::starting;
    std::error_code result;
    std::string_view piece;

    template <class Self>
    void operator()(Self& self, std::error_code read_error = {}, std::size_t received = 0) {
        switch (state) {
        case op_state::completing:
            return self.complete(result, piece);
        case op_state::reading:
            if (read_error) {
                std::error_code ec = read_error;
                if (read_error == asio::error::eof) parser.put_eof(ec);
                return self.complete(ec, std::string_view{});
            }
            buffer.commit(received);
            break;
        case op_state::starting:
            break;
        }
        if (!parser.is_done() && buffer.empty()) {
            state = op_state::reading;
            return stream.async_read_some(buffer.prepare(), std::move(self));
        }
        std::error_code ec;
        if (!parser.is_done()) {
            buffer.consume(parser.put(buffer.data(), ec));
            if (!ec) piece = parser.body_piece();
        }
        // The bytes stay where they are until the next read into the buffer.
        if (state == op_state::starting) {
            state = op_state::completing;
            result = ec;
            return detail::resume_from_stream_executor(stream, std::move(self));
        }
        self.complete(ec, piece);
    }
};

}  // namespace detail

/// Reads from `stream` into `buffer` and feeds `parser` until the request head
/// is parsed and valid.
///
/// Starts with the bytes already in `buffer` (so a connection's buffer can be
/// handed from one operation to the next) and leaves any bytes after the head
/// (the start of the body) in it. `parser` must be fresh or `reset()`.
///
/// Completion signature: `void(std::error_code)`. No error: `parser.head()`
/// is ready. `scgi::error` values name a broken protocol rule or a limit
/// (`ec == scgi::condition::limit_exceeded`); `error::partial_request` if the
/// peer closed before the head was complete; otherwise the stream's error.
/// Never completes inside the initiating call.
///
/// Cancellation: that of `stream.async_read_some` (for Asio sockets:
/// terminal, partial and total), with `asio::error::operation_aborted`; the
/// request cannot be resumed after it.
template <class AsyncReadStream, class CompletionToken>
auto async_read_request_head(AsyncReadStream& stream, read_buffer& buffer, request_parser& parser,
                             CompletionToken&& token) {
    return asio::async_compose<CompletionToken, void(std::error_code)>(
        detail::read_head_op<AsyncReadStream, request_parser>(stream, buffer, parser), token, stream);
}

/// Reads the next piece of the request body: the bytes already in `buffer`
/// first, else one read from `stream`. Precondition: `parser.is_head_done()`.
///
/// Completion signature: `void(std::error_code, std::string_view piece)`.
/// - no error, non-empty `piece`: body bytes (never past CONTENT_LENGTH), a
///   view into `buffer` valid until the next operation reads into it;
/// - no error, empty `piece`: the body is complete (`parser.is_done()`);
/// - `error::partial_request`: the peer closed before CONTENT_LENGTH bytes;
///   otherwise the stream's error.
/// Never completes inside the initiating call. Cancellation: as
/// `async_read_request_head`.
template <class AsyncReadStream, class CompletionToken>
auto async_read_body_some(AsyncReadStream& stream, read_buffer& buffer, request_parser& parser,
                          CompletionToken&& token) {
    return asio::async_compose<CompletionToken, void(std::error_code, std::string_view)>(
        detail::read_body_some_op<AsyncReadStream>(stream, buffer, parser), token, stream);
}

}  // namespace scgi
