// scgi::request inside a server handler, over real sockets.
#include <scgi/asio/server.hpp>

#include <gtest/gtest.h>

#include "server_harness.hpp"

#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <sys/socket.h>

namespace {

using namespace std::chrono_literals;
using namespace scgi::test;

TEST(Request, StreamedBodyArrivesInPieces) {
    running_server s;
    const auto where = s.listen_unix();
    s.server->start();
    peer p(where);
    const std::string body(100000, 'x');
    const std::string request = post("/read-then-answer", body);
    // The head, then the body in 10 slices, each sent only once the handler
    // has read everything before it: a server that held the body back until
    // it was whole would never let the handler see the first slice alone.
    const std::size_t head = request.size() - body.size();
    ASSERT_TRUE(p.send(std::string_view(request).substr(0, head)));
    for (std::size_t at = head; at < request.size(); at += 10000) {
        ASSERT_TRUE(p.send(std::string_view(request).substr(at, 10000)));
        const std::uint64_t sent = at + 10000 - head;
        ASSERT_TRUE(eventually([&] { return s.app.bytes_read >= sent; })) << "the handler has not read byte " << sent;
    }
    const std::string response = p.receive_all();
    EXPECT_EQ(status_of(response), 200);
    EXPECT_EQ(body_of(response), "read 100000");
    const std::vector<std::size_t> pieces = s.app.pieces();
    EXPECT_GE(pieces.size(), 10u);
    for (const std::size_t size : pieces) EXPECT_LE(size, 10000u);
}

TEST(Request, HandlerReadingAnIdleBodyGetsTheBodyTimeout) {
    scgi::server_options options;
    options.body_timeout = 200ms;
    running_server s(options);
    const auto where = s.listen_unix();
    s.server->start();
    peer p(where);
    const std::string request = post("/read-then-answer", std::string(100, 'b'));
    ASSERT_TRUE(p.send(std::string_view(request).substr(0, request.size() - 50)));  // half the body
    // The handler's read ends with the error, and the handler answers with it.
    const std::string response = p.receive_all();
    EXPECT_EQ(status_of(response), 422);
    EXPECT_EQ(body_of(response), scgi::make_error_code(scgi::error::body_timeout).message());
    EXPECT_EQ(s.app.bytes_read, 50u);
}

// read_body refuses a body over its limit before reading a byte of it, and
// the handler can still answer; discard_body leaves nothing to read.
TEST(Request, ReadBodyRefusesOverItsLimitAndDiscardBodyDropsTheRest) {
    running_server s({}, [](scgi::request& req, scgi::response_writer& res) -> asio::awaitable<void> {
        auto [too_large, nothing] = co_await req.read_body(4);
        std::string answer = too_large.message() + "|" + std::to_string(req.body_remaining()) + "|";
        const std::error_code discarded = co_await req.discard_body();
        answer += discarded.message() + "|" + std::to_string(req.body_remaining());
        const scgi::response text = scgi::response::text(200, answer);
        const std::error_code sent = co_await res.send(text);
        EXPECT_FALSE(sent) << sent.message();
    });
    const auto where = s.listen_tcp();
    s.server->start();
    const std::string response = round_trip(where, post("/", std::string(100, 'b')));
    EXPECT_EQ(status_of(response), 200);
    EXPECT_EQ(body_of(response), scgi::make_error_code(scgi::error::body_too_large).message() + "|100|" +
                                     std::error_code().message() + "|0");
}

// The head is the parsed request: method, path, query and HTTP headers.
TEST(Request, HeadIsTheParsedRequest) {
    running_server s({}, [](scgi::request& req, scgi::response_writer& res) -> asio::awaitable<void> {
        const std::string answer = std::string(req.head().method()) + " " + std::string(req.head().path()) + " " +
                                   std::string(req.head().query()) + " " +
                                   std::string(req.head().http_header("X-Test").value_or("none")) + " " +
                                   std::to_string(req.content_length());
        const scgi::response text = scgi::response::text(200, answer);
        const std::error_code sent = co_await res.send(text);
        EXPECT_FALSE(sent) << sent.message();
    });
    const auto where = s.listen_unix();
    s.server->start();
    const std::string response = round_trip(where, request_bytes({{"REQUEST_METHOD", "PUT"},
                                                                  {"REQUEST_URI", "/a/b?c=d"},
                                                                  {"HTTP_X_TEST", "yes"}},
                                                                 "abc"));
    EXPECT_EQ(body_of(response), "PUT /a/b c=d yes 3");
}

}  // namespace
