#include "exchange.hpp"

#include "recording_stream.hpp"
#include "visible.hpp"

#include "common/response_length.hpp"

#include <scgi/asio/read_buffer.hpp>
#include <scgi/asio/read_response.hpp>
#include <scgi/asio/write_request.hpp>
#include <scgi/detail/ascii.hpp>
#include <scgi/encode_request.hpp>
#include <scgi/error.hpp>
#include <scgi/response_parser.hpp>

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

namespace scgi::tools {
namespace {

constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

// Body bytes read from the source per socket write: large enough that a
// 64 MiB body costs few system calls, small enough to stay in cache.
constexpr std::size_t body_chunk_size = 256 * 1024;

// Bytes of the response shown by -v when its head does not parse.
constexpr std::size_t shown_malformed_bytes = 1024;

void print_lines(const char* prefix, const std::vector<std::string>& lines) {
    for (const std::string& line : lines) std::fprintf(stderr, "%s%s\n", prefix, line.c_str());
}

std::string seconds_text(std::chrono::milliseconds ms) {
    char text[32];
    std::snprintf(text, sizeof text, "%g s", static_cast<double>(ms.count()) / 1000.0);
    return text;
}

class exchange {
public:
    explicit exchange(const exchange_settings& settings)
        : s_(settings), socket_(io_), deadline_(io_), body_(*settings.body) {
        request_size_ = body_.size();
        if (s_.output != output_mode::raw) {
            std::error_code ignored;  // the caller has checked that the headers encode
            request_size_ += encoded_size(s_.headers, body_.size(), ignored);
        }
    }

private:
    // A coroutine's completion handler: an exception that escaped it ends
    // the exchange as an internal error, not as a silent success.
    auto report_exception() {
        return [this](std::exception_ptr failure) {
            if (!failure) return;
            try {
                std::rethrow_exception(failure);
            } catch (const std::exception& e) {
                finish(exit_status::internal, e.what());
            } catch (...) {
                finish(exit_status::internal, "unknown exception");
            }
        };
    }

public:
    exchange_result run() {
        if (s_.timeout) {
            deadline_.expires_after(*s_.timeout);
            deadline_.async_wait([this](std::error_code ec) {
                if (ec) return;  // cancelled: the exchange ended first
                finish(exit_status::timeout, "timed out after " + seconds_text(*s_.timeout) + " " + doing());
            });
        }
        asio::co_spawn(io_, converse(), report_exception());
        io_.run();
        close_output();
        return result_;
    }

private:
    using socket_type = asio::generic::stream_protocol::socket;

    // The first outcome wins (a timeout over the aborted operations it
    // causes, a local read error over the response it cuts short); it ends
    // the exchange: the socket closes and any operation still in flight
    // completes with operation_aborted.
    void finish(exit_status status, std::string message) {
        if (finished_) return;
        finished_ = true;
        result_ = {status, std::move(message)};
        std::error_code ignored;
        socket_.close(ignored);
        deadline_.cancel();
    }

    // What the exchange was doing, for a timeout's message.
    std::string doing() const {
        if (!connected_) return "connecting";
        std::string what = receiving_body_ ? "reading the response body" : "waiting for the response head";
        if (!sent_) {
            what += " (" + std::to_string(bytes_sent_) + " of " + std::to_string(request_size_) +
                    " request bytes sent)";
        }
        return what;
    }

    asio::awaitable<void> converse() {
        if (s_.verbose) std::fprintf(stderr, "* connecting to %s\n", s_.target.to_string().c_str());
        auto [ec, chosen] = co_await asio::async_connect(socket_, s_.addresses, use_tuple);
        if (finished_) co_return;
        if (ec) co_return finish(exit_status::connect, "cannot connect: " + ec.message());
        connected_ = true;
        if (s_.verbose) {
            std::fprintf(stderr, "* connected\n");
            print_request();
        }
        asio::co_spawn(io_, send(), report_exception());
        co_await receive();
    }

    // -v: the request head as sent, a variable a line; for --raw, the head
    // as far as it looks like one.
    void print_request() {
        std::string start;
        if (s_.output == output_mode::raw) {
            // Enough for a head at the parsers' default limit (64 KiB).
            start.resize(static_cast<std::size_t>(std::min<std::uint64_t>(body_.size(), 64 * 1024 + 32)));
            std::error_code ec;  // a read error shows later, when sending
            start.resize(body_.read_at(0, start, ec));
        } else if (const auto ec = encode_request(s_.headers, body_.size(), start)) {
            return;  // the sender reports it
        }
        const head_lines head = describe_request_head(start);
        print_lines("> ", head.lines);
        const std::uint64_t rest = request_size_ - head.size;
        if (rest != 0) {
            std::fprintf(stderr, "> [%llu %s bytes from %s]\n", static_cast<unsigned long long>(rest),
                         s_.output == output_mode::raw ? "more" : "body", body_.name().c_str());
        }
    }

    // The next piece of the body (or raw request) at `offset`: a view of
    // bytes in memory, or read into `chunk`. Empty on a read error, which
    // ends the exchange.
    std::string_view next_piece(std::uint64_t offset, std::vector<char>& chunk) {
        if (body_.bytes().size() == body_.size()) return body_.bytes().substr(static_cast<std::size_t>(offset));
        std::error_code ec;
        const std::size_t n = body_.read_at(offset, chunk, ec);
        if (ec) finish(exit_status::read_error, "reading " + body_.name() + ": " + ec.message());
        return {chunk.data(), n};
    }

    // Writes the request: the head and the body, or the raw bytes. Runs
    // beside receive(): a network error here only stops the sending (the
    // server may have answered, and may have closed because it did).
    asio::awaitable<void> send() {
        std::vector<char> chunk(std::min<std::uint64_t>(body_chunk_size, std::max<std::uint64_t>(body_.size(), 1)));
        std::uint64_t offset = 0;
        std::string_view piece = next_piece(0, chunk);
        if (finished_) co_return;
        std::error_code ec;
        if (s_.output == output_mode::raw) {
            std::tie(ec, std::ignore) = co_await asio::async_write(socket_, asio::buffer(piece), use_tuple);
        } else {
            std::tie(ec, std::ignore) =
                co_await async_write_request(socket_, s_.headers, body_.size(), piece, use_tuple);
        }
        offset += piece.size();
        while (!ec && !finished_ && offset < body_.size()) {
            bytes_sent_ = request_size_ - (body_.size() - offset);
            piece = next_piece(offset, chunk);
            if (finished_) co_return;
            std::tie(ec, std::ignore) = co_await asio::async_write(socket_, asio::buffer(piece), use_tuple);
            offset += piece.size();
        }
        if (ec) {
            send_error_ = ec;
            if (s_.verbose && !finished_) {
                std::fprintf(stderr, "* sending the request failed: %s\n", ec.message().c_str());
            }
            co_return;
        }
        bytes_sent_ = request_size_;
        sent_ = true;
    }

    asio::awaitable<void> receive() {
        recording_stream<socket_type> recorder(socket_, received_);
        auto [ec] = co_await async_read_response_head(recorder, buffer_, parser_, use_tuple);
        if (finished_) co_return;
        if (ec) co_return co_await head_failed(ec);
        const std::size_t head_size = received_.size() - buffer_.data().size();
        const response_head& head = parser_.head();
        if (s_.verbose) {
            std::string parsed;
            head.serialize(parsed);
            for (std::size_t at = 0; at < parsed.size();) {
                const std::size_t end = parsed.find("\r\n", at);
                std::fprintf(stderr, "< %s\n", visible(std::string_view(parsed).substr(at, end - at)).c_str());
                at = end + 2;
            }
        }
        length_rule_ = body_length_of(head, s_.method);
        if (length_rule_.malformed) {
            co_return finish(exit_status::bad_response, "malformed response head: Content-Length '" +
                                                            visible(*head.find("Content-Length")) +
                                                            "' is not a number");
        }
        if (s_.fail_on_http_error && head.status() >= 400) {
            co_return finish(exit_status::http_error, "the server answered " + std::to_string(head.status()) + " " +
                                                          std::string(head.reason()));
        }
        if (s_.output != output_mode::body && !write_out(std::string_view(received_).substr(0, head_size))) co_return;
        if (s_.output == output_mode::head_only) co_return finish(exit_status::ok, {});
        std::string().swap(received_);

        receiving_body_ = true;
        std::uint64_t total = 0;
        for (;;) {
            auto [read_error, piece] = co_await async_read_response_body_some(socket_, buffer_, use_tuple);
            if (finished_) co_return;
            if (read_error) {
                co_return finish(exit_status::network, "the connection failed after " + std::to_string(total) +
                                                           " body bytes: " + read_error.message());
            }
            if (piece.empty()) break;
            total += piece.size();
            if (!write_out(piece)) co_return;
        }
        if (s_.verbose) std::fprintf(stderr, "* %llu body bytes, then the server closed the connection\n",
                                     static_cast<unsigned long long>(total));
        check_length(total);
    }

    // The response head did not come whole: say why. A raw exchange still
    // shows everything the server sent, to the end.
    asio::awaitable<void> head_failed(std::error_code ec) {
        if (s_.verbose && !received_.empty()) {
            std::fprintf(stderr, "< %s%s\n",
                         visible(std::string_view(received_).substr(0, shown_malformed_bytes)).c_str(),
                         received_.size() > shown_malformed_bytes ? "..." : "");
        }
        exit_status status = exit_status::bad_response;
        std::string message;
        if (ec == error::partial_response && received_.empty()) {
            status = exit_status::empty_reply;
            message = "the server closed the connection without answering";
            if (send_error_) message += " (sending the request: " + send_error_.message() + ")";
        } else if (ec == error::partial_response) {
            message = "the server closed the connection within the response head, after " +
                      std::to_string(received_.size()) + " bytes";
        } else if (ec.category() == error_category()) {
            message = "malformed response head: " + ec.message();
        } else {
            status = exit_status::network;
            message = "the connection failed before the response head was complete: " + ec.message();
        }
        if (s_.output == output_mode::raw && !received_.empty()) {
            if (!write_out(received_)) co_return;
            buffer_.clear();  // those bytes are in received_, written just now
            for (;;) {
                auto [read_error, piece] = co_await async_read_response_body_some(socket_, buffer_, use_tuple);
                if (finished_) co_return;
                if (read_error || piece.empty()) break;
                if (!write_out(piece)) co_return;
            }
        }
        finish(status, std::move(message));
    }

    // An SCGI response ends when the connection does, so a Content-Length
    // is the only sign of a body cut short (or overlong).
    void check_length(std::uint64_t total) {
        if (!length_rule_.expected || *length_rule_.expected == total) return finish(exit_status::ok, {});
        finish(exit_status::length_mismatch, "the response body has " + std::to_string(total) +
                                                 " bytes, its Content-Length says " +
                                                 std::to_string(*length_rule_.expected));
    }

    std::string_view output_name() const {
        return output_is_stdout() ? std::string_view("stdout") : std::string_view(s_.output_path);
    }
    bool output_is_stdout() const { return s_.output_path.empty() || s_.output_path == "-"; }

    // Opens the output on first use; false (and the exchange ended) if it
    // cannot be. A regular file never blocks a write for long; anything else
    // (a pipe, a terminal, a socket) is polled when there is a timeout.
    bool open_output() {
        if (output_fd_ >= 0) return true;
        output_fd_ = output_is_stdout()
                         ? STDOUT_FILENO
                         : ::open(s_.output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (output_fd_ < 0) {
            const std::error_code ec(errno, std::system_category());
            finish(exit_status::write_error, "cannot open " + s_.output_path + ": " + ec.message());
            return false;
        }
        struct stat st {};
        output_may_block_ = ::fstat(output_fd_, &st) != 0 || !S_ISREG(st.st_mode);
        return true;
    }

    // At the end: a successful exchange that wrote nothing still creates
    // its -o file (an empty body is a body); the file is closed, and a
    // failure to close it (a full disk found late) is the exchange's.
    void close_output() {
        if (result_.status == exit_status::ok && !output_is_stdout() && output_fd_ < 0) open_output();
        if (output_fd_ < 0 || output_fd_ == STDOUT_FILENO) return;
        if (::close(output_fd_) != 0 && result_.status == exit_status::ok) {
            const std::error_code ec(errno, std::system_category());
            result_ = {exit_status::write_error, "writing " + s_.output_path + ": " + ec.message()};
        }
        output_fd_ = -1;
    }

    // Waits until the output takes bytes or the timeout passes; false (and
    // the exchange ended) if it passed or the wait failed.
    bool wait_for_output() {
        for (;;) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline_.expiry() -
                                                                          asio::steady_timer::clock_type::now());
            pollfd p{output_fd_, POLLOUT, 0};
            const int n = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
            if (n > 0) return true;
            if (n < 0 && errno == EINTR) continue;
            if (n == 0) {
                finish(exit_status::timeout, "timed out after " + seconds_text(*s_.timeout) + " writing " +
                                                 std::string(output_name()) + " (its reader is not reading)");
            } else {
                const std::error_code ec(errno, std::system_category());
                finish(exit_status::write_error, "writing " + std::string(output_name()) + ": " + ec.message());
            }
            return false;
        }
    }

    // Writes `bytes` to the output whole; false (and the exchange ended)
    // on an error. Blocking: the output is a terminal, a pipe or a file, and
    // a reader that stalls should stall the download too; but with a
    // timeout, an output that may block is written only when poll(2) says
    // it takes bytes, at most PIPE_BUF at a time (what a pipe that polls
    // writable is sure to take without blocking), so the timeout holds.
    bool write_out(std::string_view bytes) {
        if (!open_output()) return false;
        const bool bounded = s_.timeout && output_may_block_;
        while (!bytes.empty()) {
            if (bounded && !wait_for_output()) return false;
            const std::size_t size = bounded ? std::min<std::size_t>(bytes.size(), PIPE_BUF) : bytes.size();
            const ssize_t n = ::write(output_fd_, bytes.data(), size);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                const std::error_code ec(errno, std::system_category());
                finish(exit_status::write_error, "writing " + std::string(output_name()) + ": " + ec.message());
                return false;
            }
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    const exchange_settings& s_;
    asio::io_context io_{1};
    socket_type socket_;
    asio::steady_timer deadline_;
    const body_source& body_;
    read_buffer buffer_;
    response_parser parser_;
    std::string received_;  // the bytes read while the head was parsed
    exchange_result result_;
    bool finished_ = false;
    bool connected_ = false;
    bool receiving_body_ = false;
    bool sent_ = false;
    std::uint64_t request_size_ = 0;
    std::uint64_t bytes_sent_ = 0;
    std::error_code send_error_;
    body_length_rule length_rule_;
    int output_fd_ = -1;             // opened by the first write_out
    bool output_may_block_ = false;  // not a regular file
};

}  // namespace

exchange_result run_exchange(const exchange_settings& settings) { return exchange(settings).run(); }

}  // namespace scgi::tools
