// The composed operation behind async_read_request_head and
// async_read_response_head. Not part of the public API.
#pragma once

#include <scgi/asio/detail/compose.hpp>
#include <scgi/asio/read_buffer.hpp>
#include <scgi/error.hpp>

#include <asio/cancellation_type.hpp>
#include <asio/error.hpp>

#include <cstddef>
#include <system_error>
#include <utility>

namespace scgi::detail {

/// Feeds `buffer` to `parser` (a request_parser or a response_parser: both
/// take `put(bytes, ec)` and `put_eof(ec)`) until the head is done or fails,
/// reading from `stream` while the parser needs more. The peer closing first
/// is the parser's verdict on the end of input (`partial_request`,
/// `partial_response`); other read errors pass through.
template <class Stream, class Parser>
struct read_head_op {
    read_head_op(Stream& s, read_buffer& b, Parser& p) noexcept : stream(s), buffer(b), parser(p) {}

    Stream& stream;
    read_buffer& buffer;
    Parser& parser;
    op_state state = op_state::starting;
    std::error_code result;

    template <class Self>
    void operator()(Self& self, std::error_code read_error = {}, std::size_t received = 0) {
        switch (state) {
        case op_state::completing:
            return self.complete(result);
        case op_state::reading:
            if (read_error) {
                std::error_code ec = read_error;
                if (read_error == asio::error::eof) parser.put_eof(ec);
                return self.complete(ec);
            }
            buffer.commit(received);
            break;
        case op_state::starting:
            break;
        }
        std::error_code ec;
        buffer.consume(parser.put(buffer.data(), ec));
        if (ec == error::need_more) {
            // A cancellation that came between two reads found no read to
            // cancel: honour it here.
            if (state == op_state::reading && self.get_cancellation_state().cancelled() != asio::cancellation_type::none) {
                return self.complete(std::error_code(asio::error::operation_aborted));
            }
            state = op_state::reading;
            return stream.async_read_some(buffer.prepare(), std::move(self));
        }
        if (state == op_state::starting) {
            // Never complete inside the initiating call.
            state = op_state::completing;
            result = ec;
            return detail::resume_from_stream_executor(stream, std::move(self));
        }
        self.complete(ec);
    }
};

}  // namespace scgi::detail
