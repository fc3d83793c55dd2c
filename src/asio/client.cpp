#include <scgi/asio/client.hpp>

#include <scgi/asio/read_response.hpp>
#include <scgi/asio/write_request.hpp>
#include <scgi/error.hpp>

#include <asio/connect.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <string>
#include <utility>
#include <vector>

namespace scgi {
namespace {

constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

}  // namespace

client::client(asio::any_io_executor executor, endpoint target, client_options options)
    : target_(std::move(target)),
      options_(options),
      socket_(executor),
      resolver_(executor),
      timer_(executor),
      buffer_(options.read_buffer_size),
      parser_(options.response_head_limit) {}

client::~client() {
    // A timer wakeup already queued must not touch this object.
    ++timer_state_->generation;
}

// One timer for whichever operation is in flight. On expiry it cancels the
// socket and the resolver, and the operation reports the timeout.
void client::arm(std::chrono::milliseconds timeout) {
    timer_state_->timed_out = false;
    timer_.expires_after(timeout);
    watch(++timer_state_->generation);
}

void client::watch(std::uint64_t generation) {
    timer_.async_wait([this, state = timer_state_, generation](std::error_code ec) {
        // Cancelled, a later operation's turn, or the client is gone.
        if (ec || generation != state->generation) return;
        state->timed_out = true;
        std::error_code ignored;
        socket_.cancel(ignored);
        resolver_.cancel();
        // A composed operation may have finished one step before the cancel
        // and started the next: keep cancelling until it is disarmed.
        timer_.expires_after(std::chrono::milliseconds(10));
        watch(generation);
    });
}

void client::disarm() noexcept {
    ++timer_state_->generation;
    timer_.cancel();
}

// Records `ec` as the client's failure, reporting a cancellation caused by
// the timer as `timeout_error`.
std::error_code client::fail(std::error_code ec, error timeout_error) noexcept {
    if (!ec) return ec;
    if (timer_state_->timed_out && (ec == asio::error::operation_aborted || ec == asio::error::host_not_found)) {
        ec = timeout_error;
    }
    failure_ = ec;
    return ec;
}

asio::awaitable<std::error_code> client::connect() {
    if (failure_) co_return failure_;
    if (socket_.is_open()) co_return std::error_code{};
    std::vector<asio::generic::stream_protocol::endpoint> candidates;
    arm(options_.connect_timeout);
    if (const auto invalid = target_.validate()) {
        disarm();
        co_return fail(invalid, error::connect_timeout);
    }
    if (target_.type() == endpoint::kind::unix_socket) {
        candidates.emplace_back(asio::local::stream_protocol::endpoint(target_.path()));
    } else {
        // numeric_service, and no AI_ADDRCONFIG: "[::1]" must resolve on a
        // machine without a global IPv6 address.
        auto [ec, results] = co_await resolver_.async_resolve(
            target_.host(), std::to_string(target_.port()), asio::ip::resolver_base::numeric_service, use_tuple);
        if (ec) {
            disarm();
            co_return fail(ec, error::connect_timeout);
        }
        for (const auto& entry : results) candidates.emplace_back(entry.endpoint());
    }
    auto [ec, chosen] = co_await asio::async_connect(socket_, candidates, use_tuple);
    disarm();
    (void)chosen;
    co_return fail(ec, error::connect_timeout);
}

asio::awaitable<std::error_code> client::write_request(std::span<const header> headers, std::uint64_t body_length,
                                                       std::string_view body_prefix) {
    if (auto ec = co_await connect()) co_return ec;
    arm(options_.io_timeout);
    auto [ec, n] = co_await async_write_request(socket_, headers, body_length, body_prefix, use_tuple);
    disarm();
    (void)n;
    if (!ec) body_left_ = body_length - body_prefix.size();
    co_return fail(ec, error::write_timeout);
}

asio::awaitable<std::error_code> client::write_body(std::string_view piece) {
    if (failure_) co_return failure_;
    if (piece.size() > body_left_) co_return fail(error::content_length_mismatch, error::write_timeout);
    arm(options_.io_timeout);
    auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(piece), use_tuple);
    disarm();
    body_left_ -= n;
    co_return fail(ec, error::write_timeout);
}

asio::awaitable<std::error_code> client::read_response_head() {
    if (failure_) co_return failure_;
    arm(options_.io_timeout);
    auto [ec] = co_await async_read_response_head(socket_, buffer_, parser_, use_tuple);
    disarm();
    co_return fail(ec, error::body_timeout);
}

asio::awaitable<std::tuple<std::error_code, std::string_view>> client::read_body_some() {
    if (failure_) co_return std::tuple<std::error_code, std::string_view>{failure_, {}};
    arm(options_.io_timeout);
    auto [ec, piece] = co_await async_read_response_body_some(socket_, buffer_, use_tuple);
    disarm();
    co_return std::tuple<std::error_code, std::string_view>{fail(ec, error::body_timeout), piece};
}

asio::awaitable<std::tuple<std::error_code, std::string>> client::read_body(std::size_t limit) {
    std::string body;
    for (;;) {
        auto [ec, piece] = co_await read_body_some();
        if (ec) co_return std::tuple<std::error_code, std::string>{ec, std::string()};
        if (piece.empty()) break;
        if (piece.size() > limit - body.size()) {
            co_return std::tuple<std::error_code, std::string>{fail(error::body_too_large, error::body_timeout),
                                                               std::string()};
        }
        body += piece;
    }
    co_return std::tuple<std::error_code, std::string>{std::error_code{}, std::move(body)};
}

asio::awaitable<std::tuple<std::error_code, int, std::string>> client::call(std::span<const header> headers,
                                                                            std::string_view body,
                                                                            std::size_t body_limit) {
    using result = std::tuple<std::error_code, int, std::string>;
    if (auto ec = co_await write_request(headers, body.size(), body)) co_return result{ec, 0, {}};
    if (auto ec = co_await read_response_head()) co_return result{ec, 0, {}};
    auto [ec, bytes] = co_await read_body(body_limit);
    close();
    co_return result{ec, head().status(), std::move(bytes)};
}

void client::close() noexcept {
    std::error_code ignored;
    socket_.close(ignored);
}

}  // namespace scgi
