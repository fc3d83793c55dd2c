// A stream adapter that keeps a copy of every byte read through it, so that
// scgi-call can print a response head exactly as the server sent it while the
// library's async_read_response_head parses it.
#pragma once

#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/bind_executor.hpp>
#include <asio/buffer.hpp>

#include <cstddef>
#include <string>
#include <system_error>
#include <utility>

namespace scgi::tools {

/// Forwards `async_read_some` to `next` and appends what each read returned
/// to `record`. Only the read side: the library's read operations need
/// nothing else. One buffer per read (what they pass).
template <class Stream>
class recording_stream {
public:
    /// The executor of the wrapped stream.
    using executor_type = typename Stream::executor_type;

    /// `next` and `record` must outlive the adapter's operations.
    recording_stream(Stream& next, std::string& record) noexcept : next_(next), record_(record) {}

    executor_type get_executor() noexcept { return next_.get_executor(); }

    /// As `next.async_read_some(buffer, token)`; completes on the handler's
    /// associated executor, as the wrapped stream's operation would.
    template <class ReadToken>
    auto async_read_some(asio::mutable_buffer buffer, ReadToken&& token) {
        return asio::async_initiate<ReadToken, void(std::error_code, std::size_t)>(
            [this](auto handler, asio::mutable_buffer into) {
                auto executor = asio::get_associated_executor(handler, next_.get_executor());
                next_.async_read_some(
                    into, asio::bind_executor(executor, [this, into, handler = std::move(handler)](
                                                            std::error_code ec, std::size_t n) mutable {
                        record_.append(static_cast<const char*>(into.data()), n);
                        std::move(handler)(ec, n);
                    }));
            },
            token, buffer);
    }

private:
    Stream& next_;
    std::string& record_;
};

}  // namespace scgi::tools
