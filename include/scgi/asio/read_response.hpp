/// @file
/// Reading a CGI response from an SCGI server (the client side): the head,
/// then the body in pieces until the server closes the connection.
#pragma once

#include <scgi/asio/detail/compose.hpp>
#include <scgi/asio/detail/read_head_op.hpp>
#include <scgi/asio/read_buffer.hpp>
#include <scgi/error.hpp>
#include <scgi/response_parser.hpp>

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
struct read_response_body_some_op {
    read_response_body_some_op(Stream& s, read_buffer& b) noexcept : stream(s), buffer(b) {}

    Stream& stream;
    read_buffer& buffer;
    op_state state = op_state::starting;
    std::string_view piece;

    template <class Self>
    void operator()(Self& self, std::error_code read_error = {}, std::size_t received = 0) {
        switch (state) {
        case op_state::completing:
            return self.complete(std::error_code{}, piece);
        case op_state::reading:
            if (read_error == asio::error::eof) return self.complete(std::error_code{}, std::string_view{});
            if (read_error) return self.complete(read_error, std::string_view{});
            buffer.commit(received);
            piece = buffer.data();
            buffer.consume(piece.size());
            return self.complete(std::error_code{}, piece);
        case op_state::starting:
            break;
        }
        if (buffer.empty()) {
            state = op_state::reading;
            return stream.async_read_some(buffer.prepare(), std::move(self));
        }
        piece = buffer.data();
        buffer.consume(piece.size());
        state = op_state::completing;
        detail::resume_from_stream_executor(stream, std::move(self));
    }
};

}  // namespace detail

/// Reads from `stream` into `buffer` and feeds `parser` until the CGI
/// response head (status, headers, empty line) is parsed. Starts with the
/// bytes already in `buffer`; leaves the bytes after the head (the start of
/// the body) in it. `parser` must be fresh or `reset()`.
///
/// Completion signature: `void(std::error_code)`. No error: `parser.head()`
/// is ready. `scgi::error` values name what was malformed
/// (`response_head_too_large` past the parser's head limit);
/// `error::partial_response` if the server closed before the head was
/// complete; otherwise the stream's error. Never completes inside the
/// initiating call. Cancellation: terminal, through each
/// `stream.async_read_some`, and also when it arrives between two reads.
template <class AsyncReadStream, class CompletionToken>
auto async_read_response_head(AsyncReadStream& stream, read_buffer& buffer, response_parser& parser,
                              CompletionToken&& token) {
    return asio::async_compose<CompletionToken, void(std::error_code)>(
        detail::read_head_op<AsyncReadStream, response_parser>(stream, buffer, parser), token, stream);
}

/// Reads the next piece of a response body: the bytes already in `buffer`
/// first, else one read from `stream`. An SCGI response ends when the server
/// closes the connection.
///
/// Completion signature: `void(std::error_code, std::string_view piece)`.
/// No error and a non-empty `piece`: body bytes, a view into `buffer` valid
/// until the next operation reads into it; no error and an empty `piece`: the
/// server closed the connection, the body is complete; otherwise the
/// stream's error. (A caller that got a Content-Length header can check the
/// total against it.) Never completes inside the initiating call.
/// Cancellation: that of `stream.async_read_some`.
template <class AsyncReadStream, class CompletionToken>
auto async_read_response_body_some(AsyncReadStream& stream, read_buffer& buffer, CompletionToken&& token) {
    return asio::async_compose<CompletionToken, void(std::error_code, std::string_view)>(
        detail::read_response_body_some_op<AsyncReadStream>(stream, buffer), token, stream);
}

}  // namespace scgi
