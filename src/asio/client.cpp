#include <scgi/asio/client.hpp>

#include <scgi/encode_request.hpp>
#include <scgi/detail/content_length.hpp>
#include <scgi/error.hpp>

#include <asio/local/stream_protocol.hpp>

#include <optional>
#include <utility>

namespace scgi {
namespace detail {

struct io_deadline::shared_state {
    std::uint64_t generation = 0;  // bumped by disarm() and the destructor
    bool expired = false;
    bool aborted = false;
    asio::cancellation_signal signal;
};

io_deadline::io_deadline(const asio::any_io_executor& executor)
    : timer_(executor), state_(std::make_shared<shared_state>()) {}

io_deadline::~io_deadline() {
    // A wakeup already queued must not cancel anything.
    ++state_->generation;
}

void io_deadline::begin() noexcept {
    state_->expired = false;
    state_->aborted = false;
}

void io_deadline::arm(std::chrono::milliseconds timeout) {
    timer_.expires_after(timeout);
    timer_.async_wait([state = state_, generation = ++state_->generation](std::error_code ec) {
        // Cancelled, re-armed or disarmed since, or the client is gone.
        if (ec || generation != state->generation) return;
        state->expired = true;
        state->signal.emit(asio::cancellation_type::terminal);
    });
}

void io_deadline::disarm() noexcept {
    ++state_->generation;
    timer_.cancel();
}

void io_deadline::cancel() noexcept {
    state_->aborted = true;
    state_->signal.emit(asio::cancellation_type::terminal);
}

bool io_deadline::expired() const noexcept { return state_->expired; }

bool io_deadline::aborted() const noexcept { return state_->aborted; }

asio::cancellation_slot io_deadline::slot() noexcept { return state_->signal.slot(); }

}  // namespace detail

client::client(executor_type executor, endpoint target, client_options options)
    : target_(std::move(target)),
      options_(options),
      socket_(executor),
      resolver_(executor),
      read_deadline_(executor),
      write_deadline_(executor),
      call_event_(executor),
      buffer_(options.read_buffer_size),
      parser_(options.response_head_limit) {}

client::~client() = default;

client::executor_type client::get_executor() noexcept { return socket_.get_executor(); }

std::error_code client::prepare_request(std::span<const header> headers, std::uint64_t body_length,
                                        std::string_view body_prefix) {
    if (failure_) return failure_;
    head_written_ = 0;
    body_left_ = body_length;
    request_head_.clear();
    if (body_prefix.size() > body_length) {
        failure_ = error::content_length_mismatch;
    } else {
        failure_ = encode_request(headers, body_length, request_head_);
    }
    return failure_;
}

std::error_code client::prepare_body(std::string_view piece) noexcept {
    if (!failure_ && piece.size() > body_left_) failure_ = error::content_length_mismatch;
    return failure_;
}

// A Unix target is its one candidate; a TCP target is resolved by the caller.
std::error_code client::unix_or_validate(std::vector<asio::generic::stream_protocol::endpoint>& candidates) {
    if (const auto invalid = target_.validate()) return invalid;
    if (target_.type() == endpoint::kind::unix_socket) {
        candidates.emplace_back(asio::local::stream_protocol::endpoint(target_.path()));
    }
    return {};
}

// Ends an operation of `deadline`'s direction: a cancellation the deadline's
// timer caused is `timeout`; an error is the client's failure from now on.
std::error_code client::finish(std::error_code ec, detail::io_deadline& deadline, error timeout) noexcept {
    deadline.disarm();
    if (ec == asio::error::operation_aborted && deadline.expired()) ec = timeout;
    if (ec) failure_ = ec;
    return ec;
}

// async_call's write has ended. Before the response head has arrived, a
// stalled write fails the call (the backend neither reads nor answers); any
// other end of the write starts the head timeout. After the head, the read
// decides alone: a backend may answer in full without reading the body.
void client::on_call_write_done(std::error_code ec) {
    call_writing_ = false;
    call_write_error_ = ec;
    if (reading_head_) {
        if (ec == error::write_timeout) {
            read_cancelled_by_write_ = true;
            read_deadline_.cancel();
        } else {
            read_deadline_.arm(options_.response_head_timeout);
        }
    }
    if (call_waiting_) call_event_.cancel();
}

bool client::body_is_declared_length(std::size_t received) const noexcept {
    std::optional<std::uint64_t> declared;
    return detail::declared_content_length(head(), declared) == nullptr && declared && *declared == received;
}

void client::close() noexcept {
    std::error_code ignored;
    socket_.close(ignored);
}

}  // namespace scgi
