/// @file
/// Writing an SCGI request to a stream (the client side).
#pragma once

#include <scgi/asio/detail/compose.hpp>
#include <scgi/encode_request.hpp>
#include <scgi/error.hpp>
#include <scgi/header.hpp>

#include <asio/async_result.hpp>
#include <asio/buffer.hpp>
#include <asio/compose.hpp>
#include <asio/write.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace scgi {
namespace detail {

template <class Stream>
struct write_request_op {
    write_request_op(Stream& s, std::string_view b) noexcept : stream(s), body(b) {}

    Stream& stream;
    std::string head;       // the encoded netstring, owned by the operation
    std::string_view body;  // the caller's bytes
    std::error_code encode_error;
    op_state state = op_state::starting;

    template <class Self>
    void operator()(Self& self, std::error_code ec = {}, std::size_t written = 0) {
        switch (state) {
        case op_state::starting:
            if (encode_error) {
                // Nothing to write; post first: never complete inside the
                // initiating call.
                state = op_state::completing;
                return detail::resume_from_stream_executor(stream, std::move(self));
            }
            state = op_state::reading;  // here: writing
            return asio::async_write(
                stream, std::array<asio::const_buffer, 2>{asio::buffer(head), asio::buffer(body)},
                std::move(self));
        case op_state::completing:
            return self.complete(encode_error, std::size_t{0});
        case op_state::reading:
            return self.complete(ec, written);
        }
    }
};

}  // namespace detail

/// Encodes a request with `headers` (see `scgi::encode_request`: it adds
/// CONTENT_LENGTH and SCGI itself) and writes it to `stream`, followed by
/// `body_prefix` — the whole body, or its first bytes when `body_length` says
/// more follows (the caller then writes the rest with `asio::async_write`).
///
/// `headers` are encoded before this returns, so they need not outlive the
/// call; `body_prefix` must stay valid until completion.
/// Preconditions: `body_prefix.size() <= body_length`.
///
/// Completion signature: `void(std::error_code, std::size_t bytes_written)`.
/// An encoder error (`nul_in_name`, `duplicate_header`, ...;
/// `ec == scgi::condition::invalid_argument`) writes nothing; otherwise the
/// stream's error, if any. Never completes inside the initiating call.
/// Cancellation: that of `asio::async_write` on `stream`.
template <class AsyncWriteStream, class CompletionToken>
auto async_write_request(AsyncWriteStream& stream, std::span<const header> headers,
                         std::uint64_t body_length, std::string_view body_prefix,
                         CompletionToken&& token) {
    detail::write_request_op<AsyncWriteStream> op(stream, body_prefix);
    op.encode_error = body_prefix.size() > body_length ? make_error_code(error::content_length_mismatch)
                                                       : encode_request(headers, body_length, op.head);
    return asio::async_compose<CompletionToken, void(std::error_code, std::size_t)>(std::move(op), token,
                                                                                     stream);
}

/// Writes a whole request: `headers` and all of `body`.
/// Equivalent to `async_write_request(stream, headers, body.size(), body, token)`.
template <class AsyncWriteStream, class CompletionToken>
auto async_write_request(AsyncWriteStream& stream, std::span<const header> headers,
                         std::string_view body, CompletionToken&& token) {
    return async_write_request(stream, headers, body.size(), body, std::forward<CompletionToken>(token));
}

}  // namespace scgi
