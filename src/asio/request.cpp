// scgi::request, and how the server receives a request body: in pieces for
// the handler, or whole into the spool before the response starts.
#include <scgi/asio/request.hpp>

#include "server/connection_slot.hpp"

#include <scgi/asio/read_request.hpp>

#include <algorithm>
#include <span>
#include <string>
#include <tuple>

namespace scgi {
namespace detail {
namespace {

// Feeds received body bytes to the parser, and its pieces to the spool if
// `keep`; bytes after the end of the body are dropped.
std::error_code take_body(request_state& r, std::string_view bytes, bool keep) {
    while (!bytes.empty() && !r.parser.is_done()) {
        std::error_code ec;
        bytes.remove_prefix(r.parser.put(bytes, ec));
        if (ec) return ec;
        if (!keep) continue;
        if (const auto failure = r.spool.append(r.parser.body_piece())) {
            r.spool_error = failure;
            return failure;
        }
    }
    return {};
}

}  // namespace

// `buffer` is read from but never into: the handler may be writing a piece
// that is a view into it. New bytes land in the spool's staging area instead.
asio::awaitable<std::error_code> receive_rest_of_body(connection_slot& c, bool keep) {
    request_state& r = c.request;
    if (r.parser.is_done()) co_return std::error_code{};
    if (keep) r.spool.reserve(r.parser.body_remaining());
    std::error_code ec = take_body(r, r.buffer.data(), keep);
    r.buffer.consume(r.buffer.data().size());
    while (!ec && !r.parser.is_done()) {
        const std::span<char> area = r.spool.staging(r.buffer.capacity());
        c.arm(c.options.body_timeout);
        auto [read_error, n] = co_await c.conn.async_read_some(asio::buffer(area.data(), area.size()), use_tuple);
        c.disarm();
        ec = c.timeout_or(read_error, error::body_timeout);
        if (ec == asio::error::eof) r.parser.put_eof(ec);  // partial_request: the body is short
        if (ec == error::body_timeout) {
            // Kept for the response: the server answers 408 instead
            // (hold_body_for_response), and this is its line.
            c.log(log_event::body_timeout, log_level::warning, [&](auto& line) {
                line << (keep ? "408 Request Timeout: " : "body timeout: ") << ec << " ("
                     << r.parser.body_remaining() << " body byte(s) unread)";
            });
        }
        if (ec) {
            r.body_failed = true;
            break;
        }
        ec = take_body(r, {area.data(), n}, keep);
    }
    co_return ec;
}

asio::awaitable<std::error_code> hold_body_for_response(connection_slot& c) {
    const std::uint64_t unread = c.request.parser.body_remaining();
    if (c.request.spool.size() + unread > c.options.spool.max_bytes) {
        c.response.refusal_status = 413;
        c.log(log_event::response_refused, log_level::warning, [&](auto& line) {
            line << "413 Content Too Large: the response started with " << unread
                 << " body bytes unread, more than spool.max_bytes (" << c.options.spool.max_bytes << ")";
        });
        co_return error::spool_limit_exceeded;
    }
    const std::error_code ec = co_await receive_rest_of_body(c, true);
    if (c.request.spool_error) {
        c.response.refusal_status = 500;
        c.log(log_event::spool_failed, log_level::error,
              [&](auto& line) { line << "cannot spool the request body: " << ec; });
    } else if (ec == error::body_timeout) {
        c.response.refusal_status = 408;  // logged by receive_rest_of_body
    }
    co_return ec;
}

}  // namespace detail

const request_head& request::head() const noexcept { return slot_->request.parser.head(); }

std::uint64_t request::body_remaining() const noexcept { return slot_->request.body_unread(); }

asio::awaitable<std::tuple<std::error_code, std::string_view>> request::read_body_some() {
    detail::connection_slot& c = *slot_;
    detail::request_state& r = c.request;
    using result = std::tuple<std::error_code, std::string_view>;
    // Bytes the response made the server receive first come back first.
    if (r.spool.unread() != 0) {
        std::error_code ec;
        const std::string_view piece = r.spool.next(r.buffer.capacity(), ec);
        co_return result{ec, piece};
    }
    // The rest of the body never reached the spool: never a silent gap.
    if (r.spool_error) co_return result{r.spool_error, std::string_view{}};
    if (r.parser.is_done()) co_return result{};
    // Bytes received with the head (or in the last read): no wait, no deadline.
    if (!r.buffer.empty()) {
        std::error_code ec;
        r.buffer.consume(r.parser.put(r.buffer.data(), ec));
        r.body_failed = r.body_failed || static_cast<bool>(ec);
        co_return result{ec, ec ? std::string_view{} : r.parser.body_piece()};
    }
    c.arm(c.options.body_timeout);
    auto [read_error, piece] = co_await async_read_body_some(c.conn, r.buffer, r.parser, detail::use_tuple);
    c.disarm();
    r.body_failed = r.body_failed || static_cast<bool>(read_error);
    const std::error_code ec = c.timeout_or(read_error, error::body_timeout);
    if (ec == error::body_timeout) {
        c.log(detail::log_event::body_timeout, log_level::warning, [&](auto& line) {
            line << "body timeout: " << ec << " (" << r.parser.body_remaining() << " body byte(s) unread)";
        });
    }
    co_return result{ec, piece};
}

asio::awaitable<std::tuple<std::error_code, std::string>> request::read_body(std::size_t limit) {
    std::string body;
    if (content_length() > limit) {
        co_return std::tuple<std::error_code, std::string>{error::body_too_large, std::move(body)};
    }
    // Grow with what arrives, not with what the peer declares.
    body.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(content_length(), 64 * 1024)));
    for (;;) {
        auto [ec, piece] = co_await read_body_some();
        if (ec) co_return std::tuple<std::error_code, std::string>{ec, std::string()};
        if (piece.empty()) break;
        body += piece;
    }
    co_return std::tuple<std::error_code, std::string>{std::error_code{}, std::move(body)};
}

asio::awaitable<io_result> request::discard_body() {
    slot_->request.spool.clear();
    co_return co_await detail::receive_rest_of_body(*slot_, false);
}

}  // namespace scgi
