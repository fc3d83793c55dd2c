// scgi::response_writer, and how the server sends response bytes: in one
// system call when the socket takes them, else waiting under write_timeout.
#include <scgi/asio/response_writer.hpp>

#include "server/connection_slot.hpp"

#include <scgi/detail/ascii.hpp>
#include <scgi/detail/content_length.hpp>

#include <asio/write.hpp>

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
    const std::size_t unsent = asio::buffer_size(buffers);
    auto [write_error, written] = co_await asio::async_write(c.conn, buffers, use_tuple);
    c.disarm();
    const std::error_code ec = c.timeout_or(write_error, error::write_timeout);
    const std::size_t left = unsent - written;  // a named copy: lambdas cannot capture bindings in C++20
    if (ec == error::write_timeout) {
        c.log(log_event::write_timeout, log_level::warning, [&](auto& line) {
            line << "write timeout: " << ec << " (" << left << " of " << unsent << " byte(s) unsent)";
        });
    }
    co_return ec;
}

}  // namespace detail

bool response_writer::head_written() const noexcept { return slot_->response.head_written; }

namespace {

// Marks the head written and held back; its bytes go to the returned string.
std::string& begin_head(detail::response_state& r) {
    if (r.head_written) throw std::logic_error("scgi::response_writer: write_head called twice");
    r.head_written = true;
    r.head_pending = true;
    r.out.clear();
    return r.out;
}

// Sets the body limit `head` declares. A Content-Length that declares none
// to rely on refuses the response: nothing of it is sent, the handler's
// writes return content_length_mismatch, and the server answers 500 once the
// handler returns. Logged once.
void limit_body(detail::connection_slot& c, const response_head& head) {
    detail::response_state& r = c.response;
    std::optional<std::uint64_t> declared;
    const char* const problem = detail::declared_content_length(head, declared);
    if (problem == nullptr) {
        r.body_allowed = declared.value_or(detail::response_state::no_body_limit);
        return;
    }
    r.write_error = error::content_length_mismatch;
    r.refusal_status = 500;
    const request_head& req = c.request.parser.head();
    c.log(detail::log_event::handler_failed, log_level::error, [&](auto& line) {
        line << "handler's response Content-Length " << problem << " on " << req.method() << " " << req.uri()
             << ": the response is not sent, 500 instead";
    });
}

}  // namespace

void response_writer::write_head(const response_head& head) {
    head.serialize(begin_head(slot_->response));
    limit_body(*slot_, head);
}

asio::awaitable<io_result> response_writer::write(std::string_view body_piece) {
    detail::connection_slot& c = *slot_;
    detail::response_state& r = c.response;
    if (!r.head_written) throw std::logic_error("scgi::response_writer: write before write_head");
    if (r.write_error) co_return r.write_error;
    // Bytes past the declared Content-Length are not sent: the front end
    // would take them for the start of something else (an HTTP front end
    // could pass them on to its client as a second response).
    const bool overrun = body_piece.size() > r.body_allowed;
    if (overrun) {
        // Logged once: the write fails, and so does every later one.
        const request_head& req = c.request.parser.head();
        c.log(detail::log_event::handler_failed, log_level::error, [&](auto& line) {
            line << "handler wrote more than its Content-Length on " << req.method() << " " << req.uri()
                 << ": the excess is not sent";
        });
        body_piece = body_piece.substr(0, static_cast<std::size_t>(r.body_allowed));
    }
    if (r.body_allowed != detail::response_state::no_body_limit) r.body_allowed -= body_piece.size();
    if (r.nothing_sent() && c.must_receive_body_first()) {
        if (const auto ec = co_await detail::hold_body_for_response(c)) {
            r.write_error = ec;
            co_return ec;
        }
    }
    std::array<asio::const_buffer, 2> buffers{asio::buffer(body_piece), asio::const_buffer{}};
    if (r.head_pending) {
        buffers = {asio::buffer(r.out), asio::buffer(body_piece)};
        r.head_pending = false;
    }
    std::error_code ec;
    if (!detail::write_all_now(c, buffers, ec)) ec = co_await detail::write_all_rest(c, buffers);
    // Like a failed write, an overrun is repeated by every later write and
    // by finish(): the response is broken, whatever the socket says.
    if (!ec && overrun) ec = error::content_length_mismatch;
    r.write_error = ec;
    co_return ec;
}

asio::awaitable<io_result> response_writer::finish() {
    if (!slot_->response.head_written) throw std::logic_error("scgi::response_writer: finish before write_head");
    co_return co_await write({});
}

asio::awaitable<io_result> response_writer::send(const response& whole) {
    std::string& out = begin_head(slot_->response);
    if (whole.head.find("Content-Length")) {
        whole.head.serialize(out);
        limit_body(*slot_, whole.head);
    } else {
        whole.head.serialize(out, whole.body.size());
        slot_->response.body_allowed = whole.body.size();  // the length send() declared
    }
    co_return co_await write(whole.body);
}

}  // namespace scgi
