// scgi::response_writer, and how the server sends response bytes: in one
// system call when the socket takes them, else waiting under write_timeout.
#include <scgi/asio/response_writer.hpp>

#include "server/connection_slot.hpp"
#include "server/log_line.hpp"

#include <scgi/detail/ascii.hpp>

#include <asio/write.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace scgi {
namespace detail {

bool write_all_now(connection_slot& c, std::array<asio::const_buffer, 2>& buffers, std::error_code& ec) noexcept {
    if (asio::buffer_size(buffers) == 0) return true;
    const std::size_t written = c.conn.write_some(buffers, ec);
    if (ec == asio::error::would_block) {
        ec.clear();
    } else if (ec) {
        return true;
    }
    if (written >= buffers[0].size()) {
        buffers = {buffers[1] + (written - buffers[0].size()), asio::const_buffer{}};
    } else {
        buffers[0] += written;
    }
    return asio::buffer_size(buffers) == 0;
}

asio::awaitable<std::error_code> write_all_rest(connection_slot& c, std::array<asio::const_buffer, 2> buffers) {
    c.arm(c.options.write_timeout);
    auto [ec, n] = co_await asio::async_write(c.conn, buffers, use_tuple);
    c.disarm();
    (void)n;
    co_return c.timeout_or(ec, error::write_timeout);
}

}  // namespace detail

bool response_writer::head_written() const noexcept { return slot_->response.head_written; }

namespace {

// The body length `head` declares, for the writer to hold the handler to:
// its Content-Length if that is a number, else no limit.
std::uint64_t declared_length(const response_head& head) noexcept {
    std::uint64_t length = 0;
    const auto text = head.find("Content-Length");
    if (!text || detail::parse_decimal(*text, length) != 0) return detail::response_state::no_declared_length;
    return length;
}

// Marks the head written and held back; its bytes go to the returned string.
std::string& begin_head(detail::response_state& r) {
    if (r.head_written) throw std::logic_error("scgi::response_writer: write_head called twice");
    r.head_written = true;
    r.head_pending = true;
    r.out.clear();
    return r.out;
}

}  // namespace

void response_writer::write_head(const response_head& head) {
    head.serialize(begin_head(slot_->response));
    slot_->response.body_allowance = declared_length(head);
}

asio::awaitable<io_result> response_writer::write(std::string_view body_piece) {
    detail::connection_slot& c = *slot_;
    detail::response_state& r = c.response;
    if (!r.head_written) throw std::logic_error("scgi::response_writer: write before write_head");
    if (r.write_error) co_return r.write_error;
    if (r.nothing_sent() && c.must_receive_body_first()) {
        if (const auto ec = co_await detail::hold_body_for_response(c)) {
            r.write_error = ec;
            co_return ec;
        }
    }
    // Bytes past the declared Content-Length are never sent: the front end
    // would read them as garbage, or as the start of another response.
    const bool past_declared_length = body_piece.size() > r.body_allowance;
    if (past_declared_length) body_piece = body_piece.substr(0, static_cast<std::size_t>(r.body_allowance));
    if (r.body_allowance != detail::response_state::no_declared_length) r.body_allowance -= body_piece.size();
    std::array<asio::const_buffer, 2> buffers{asio::buffer(body_piece), asio::const_buffer{}};
    if (r.head_pending) {
        buffers = {asio::buffer(r.out), asio::buffer(body_piece)};
        r.head_pending = false;
    }
    std::error_code ec;
    if (!detail::write_all_now(c, buffers, ec)) ec = co_await detail::write_all_rest(c, buffers);
    if (!ec && past_declared_length) {
        ec = error::content_length_mismatch;
        detail::log_line(c.options, log_level::error,
                         "handler wrote more body than its Content-Length on " +
                             std::string(c.request.parser.head().method()) + " " +
                             std::string(c.request.parser.head().uri()) + ": the rest was not sent");
    }
    r.write_error = ec;
    co_return ec;
}

asio::awaitable<io_result> response_writer::finish() {
    if (!slot_->response.head_written) throw std::logic_error("scgi::response_writer: finish before write_head");
    co_return co_await write({});
}

asio::awaitable<io_result> response_writer::send(const response& whole) {
    detail::response_state& r = slot_->response;
    std::string& out = begin_head(r);
    if (whole.head.find("Content-Length")) {
        whole.head.serialize(out);
        r.body_allowance = declared_length(whole.head);
    } else {
        whole.head.serialize(out, whole.body.size());
        r.body_allowance = whole.body.size();
    }
    co_return co_await write(whole.body);
}

}  // namespace scgi
