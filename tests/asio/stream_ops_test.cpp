// The composed operations over real sockets (a Unix socket pair and TCP on
// 127.0.0.1), with each completion-token style: callbacks, futures and
// coroutines.
#include <scgi/asio/read_request.hpp>
#include <scgi/asio/read_response.hpp>
#include <scgi/asio/write_request.hpp>
#include <scgi/response_head.hpp>

#include <asio/bind_executor.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/connect_pair.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/read.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>
#include <asio/write.hpp>

#include <gtest/gtest.h>

#include "run_until.hpp"

#include <chrono>
#include <cstring>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using scgi::test::run_until;
using namespace std::string_literals;
using unix_socket = asio::local::stream_protocol::socket;

const std::vector<scgi::header> client_headers{
    {"REQUEST_METHOD", "POST"}, {"REQUEST_URI", "/deepthought"}, {"CONTENT_TYPE", "text/plain"}};
const std::string question = "What is the answer to life?";

struct socket_pair {
    asio::io_context io;
    unix_socket client{io};
    unix_socket server{io};
    socket_pair() { asio::local::connect_pair(client, server); }
};

// Reads a request head and then its body to the end with plain callbacks,
// recording what happened.
struct callback_reader {
    callback_reader(unix_socket& s, scgi::read_buffer& b, scgi::request_parser& p) : socket(s), buffer(b), parser(p) {}

    unix_socket& socket;
    scgi::read_buffer& buffer;
    scgi::request_parser& parser;
    std::error_code head_error;
    std::error_code body_error;
    std::string body;
    bool head_read = false;
    bool done = false;

    void start() {
        scgi::async_read_request_head(socket, buffer, parser, [this](std::error_code ec) {
            head_read = true;
            head_error = ec;
            if (ec) {
                done = true;
                return;
            }
            read_body();
        });
    }

    void read_body() {
        scgi::async_read_body_some(socket, buffer, parser, [this](std::error_code ec, std::string_view piece) {
            if (ec || piece.empty()) {
                body_error = ec;
                done = true;
                return;
            }
            body += piece;
            read_body();
        });
    }
};

TEST(StreamOps, CallbacksRequestRoundTrip) {
    socket_pair p;
    bool wrote = false;
    scgi::async_write_request(p.client, client_headers, question, [&](std::error_code ec, std::size_t n) {
        EXPECT_FALSE(ec) << ec.message();
        EXPECT_GT(n, question.size());
        wrote = true;
    });
    EXPECT_FALSE(wrote) << "completed inside the initiating call";

    scgi::read_buffer buffer;
    scgi::request_parser parser;
    callback_reader reader(p.server, buffer, parser);
    reader.start();
    EXPECT_FALSE(reader.head_read) << "completed inside the initiating call";
    run_until(p.io, reader.done);
    EXPECT_FALSE(reader.head_error) << reader.head_error.message();
    EXPECT_FALSE(reader.body_error) << reader.body_error.message();
    EXPECT_TRUE(wrote);
    EXPECT_EQ(parser.head().method(), "POST");
    EXPECT_EQ(parser.head().uri(), "/deepthought");
    EXPECT_EQ(parser.head().content_length(), question.size());
    EXPECT_EQ(reader.body, question);
    EXPECT_TRUE(parser.is_done());
}

TEST(StreamOps, FuturesRequestRoundTrip) {
    socket_pair p;
    auto guard = asio::make_work_guard(p.io);
    std::thread runner([&] { p.io.run_for(20s); });
    auto written = scgi::async_write_request(p.client, client_headers, question, asio::use_future);
    scgi::read_buffer buffer;
    scgi::request_parser parser;
    auto head = scgi::async_read_request_head(p.server, buffer, parser, asio::use_future);
    ASSERT_EQ(head.wait_for(10s), std::future_status::ready);
    EXPECT_NO_THROW(head.get());
    std::string body;
    for (int i = 0; i < 100; ++i) {
        auto piece = scgi::async_read_body_some(p.server, buffer, parser, asio::use_future);
        ASSERT_EQ(piece.wait_for(10s), std::future_status::ready);
        const std::string_view bytes = piece.get();
        if (bytes.empty()) break;
        body += bytes;
    }
    ASSERT_EQ(written.wait_for(10s), std::future_status::ready);
    EXPECT_GT(written.get(), question.size());
    EXPECT_EQ(body, question);
    guard.reset();
    p.io.stop();
    runner.join();
}

TEST(StreamOps, FutureReportsErrorsAsSystemError) {
    socket_pair p;
    auto guard = asio::make_work_guard(p.io);
    std::thread runner([&] { p.io.run_for(20s); });
    asio::write(p.client, asio::buffer("05:x"s));
    scgi::read_buffer buffer;
    scgi::request_parser parser;
    auto head = scgi::async_read_request_head(p.server, buffer, parser, asio::use_future);
    ASSERT_EQ(head.wait_for(10s), std::future_status::ready);
    try {
        head.get();
        ADD_FAILURE() << "no error";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), scgi::error::length_leading_zero);
    }
    guard.reset();
    p.io.stop();
    runner.join();
}

// Coroutines, over TCP: a server coroutine answers one request, a client
// coroutine sends it and reads the response.
TEST(StreamOps, CoroutinesOverTcp) {
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    const auto port = acceptor.local_endpoint().port();
    constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);
    std::string received_body;
    std::string response_body;
    int status = 0;
    bool server_done = false;
    bool client_done = false;

    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        auto [accept_error, socket] = co_await acceptor.async_accept(as_tuple);
        EXPECT_FALSE(accept_error);
        scgi::read_buffer buffer;
        scgi::request_parser parser;
        auto [ec] = co_await scgi::async_read_request_head(socket, buffer, parser, as_tuple);
        EXPECT_FALSE(ec) << ec.message();
        for (;;) {
            auto [body_error, piece] = co_await scgi::async_read_body_some(socket, buffer, parser, as_tuple);
            EXPECT_FALSE(body_error) << body_error.message();
            if (body_error || piece.empty()) break;
            received_body += piece;
        }
        scgi::response_head head;
        head.set_status(200);
        head.add("Content-Type", "text/plain");
        head.add_content_length(2);
        std::string out;
        head.serialize(out);
        out += "42";
        co_await asio::async_write(socket, asio::buffer(out), as_tuple);
        server_done = true;
    }, asio::detached);

    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        asio::ip::tcp::socket socket(io);
        auto [connect_error] = co_await socket.async_connect({asio::ip::make_address("127.0.0.1"), port}, as_tuple);
        EXPECT_FALSE(connect_error);
        auto [write_error, n] = co_await scgi::async_write_request(socket, client_headers, question, as_tuple);
        EXPECT_FALSE(write_error);
        scgi::read_buffer buffer;
        scgi::response_parser parser;
        auto [ec] = co_await scgi::async_read_response_head(socket, buffer, parser, as_tuple);
        EXPECT_FALSE(ec) << ec.message();
        status = parser.head().status();
        for (;;) {
            auto [body_error, piece] = co_await scgi::async_read_response_body_some(socket, buffer, as_tuple);
            EXPECT_FALSE(body_error);
            if (body_error || piece.empty()) break;
            response_body += piece;
        }
        client_done = true;
    }, asio::detached);

    bool both = false;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!both && std::chrono::steady_clock::now() < deadline) {
        io.run_for(50ms);
        both = server_done && client_done;
    }
    ASSERT_TRUE(both);
    EXPECT_EQ(received_body, question);
    EXPECT_EQ(status, 200);
    EXPECT_EQ(response_body, "42");
}

// One byte per write from the peer: the head and the body still come out whole.
TEST(StreamOps, RequestArrivingOneByteAtATime) {
    socket_pair p;
    std::string request;
    ASSERT_FALSE(scgi::encode_request(client_headers, question.size(), request));
    request += question;
    std::thread writer([&, fd = p.client.native_handle()] {
        for (char c : request) {
            if (::write(fd, &c, 1) != 1) return;
            std::this_thread::sleep_for(100us);
        }
    });
    scgi::read_buffer buffer;
    scgi::request_parser parser;
    callback_reader reader(p.server, buffer, parser);
    reader.start();
    run_until(p.io, reader.done);
    writer.join();
    EXPECT_FALSE(reader.body_error) << reader.body_error.message();
    EXPECT_EQ(parser.head().uri(), "/deepthought");
    EXPECT_EQ(reader.body, question);
}

// Reads a request head from what the peer already sent; returns the outcome.
std::error_code read_head_outcome(socket_pair& p) {
    scgi::read_buffer buffer;
    scgi::request_parser parser;
    std::error_code result;
    bool done = false;
    scgi::async_read_request_head(p.server, buffer, parser, [&](std::error_code ec) {
        result = ec;
        done = true;
    });
    run_until(p.io, done);
    return result;
}

TEST(StreamOps, PeerClosingMidHeadIsPartialRequest) {
    socket_pair p;
    asio::write(p.client, asio::buffer("70:CONTENT_LENGTH"s));
    p.client.close();
    EXPECT_EQ(read_head_outcome(p), scgi::error::partial_request);
}

TEST(StreamOps, PeerClosingMidBodyIsPartialRequest) {
    socket_pair p;
    std::string request;
    ASSERT_FALSE(scgi::encode_request(client_headers, 100, request));
    request += "only some of the body";
    asio::write(p.client, asio::buffer(request));
    p.client.close();
    scgi::read_buffer buffer;
    scgi::request_parser parser;
    callback_reader reader(p.server, buffer, parser);
    reader.start();
    run_until(p.io, reader.done);
    EXPECT_FALSE(reader.head_error);
    EXPECT_EQ(reader.body_error, scgi::error::partial_request);
    EXPECT_EQ(reader.body, "only some of the body");
}

TEST(StreamOps, MalformedHeadIsReportedWithoutReadingFurther) {
    socket_pair p;
    asio::write(p.client, asio::buffer("12:CONTENT_LENGTH\0000\0X"s));  // length says 12, more follows
    EXPECT_EQ(read_head_outcome(p), scgi::error::missing_comma);
}

TEST(StreamOps, HeadAlreadyBufferedCompletesAfterTheInitiatingCall) {
    socket_pair p;
    std::string request;
    ASSERT_FALSE(scgi::encode_request(client_headers, 0, request));
    scgi::read_buffer buffer;
    const auto space = buffer.prepare();
    ASSERT_GE(space.size(), request.size());
    std::memcpy(space.data(), request.data(), request.size());
    buffer.commit(request.size());
    scgi::request_parser parser;
    bool done = false;
    scgi::async_read_request_head(p.server, buffer, parser, [&](std::error_code ec) {
        EXPECT_FALSE(ec);
        done = true;
    });
    EXPECT_FALSE(done);
    run_until(p.io, done);
    // The body is empty: the next body read says "complete" without reading.
    bool body_done = false;
    scgi::async_read_body_some(p.server, buffer, parser, [&](std::error_code ec, std::string_view piece) {
        EXPECT_FALSE(ec);
        EXPECT_TRUE(piece.empty());
        body_done = true;
    });
    EXPECT_FALSE(body_done);
    run_until(p.io, body_done);
}

// An operation that finishes without I/O completes the way Asio's own
// operations do: through the stream's executor first, then the handler's
// executor (here a second io_context). Regression: it posted itself straight
// to the handler's executor, which for use_future is a system thread: the
// operation then outlived the stream's io_context there.
TEST(StreamOps, ImmediateCompletionsGoThroughTheStreamsExecutor) {
    socket_pair p;
    asio::io_context handler_context;
    int delivered = 0;
    const auto expect_delivery_through_both_executors = [&](const char* what) {
        handler_context.restart();
        handler_context.poll();
        EXPECT_EQ(delivered, 0) << what << ": completed without the stream's executor";
        p.io.restart();
        p.io.poll();
        EXPECT_EQ(delivered, 0) << what << ": handler ran outside its own executor";
        handler_context.restart();
        handler_context.run_for(3s);
        EXPECT_EQ(delivered, 1) << what << ": handler not delivered through its own executor";
        p.io.poll();
        EXPECT_TRUE(p.io.stopped()) << what << ": the operation still holds work on the stream's io_context";
        delivered = 0;
    };
    const auto on_handler_context = [&](auto handler) { return asio::bind_executor(handler_context, handler); };

    std::string request;
    ASSERT_FALSE(scgi::encode_request(client_headers, 3, request));
    request += "abc";
    scgi::read_buffer buffer;
    std::memcpy(buffer.prepare().data(), request.data(), request.size());
    buffer.commit(request.size());
    scgi::request_parser parser;
    scgi::async_read_request_head(p.server, buffer, parser, on_handler_context([&](std::error_code ec) {
        EXPECT_FALSE(ec);
        ++delivered;
    }));
    expect_delivery_through_both_executors("request head");
    scgi::async_read_body_some(p.server, buffer, parser,
                               on_handler_context([&](std::error_code ec, std::string_view piece) {
                                   EXPECT_FALSE(ec);
                                   EXPECT_EQ(piece, "abc");
                                   ++delivered;
                               }));
    expect_delivery_through_both_executors("request body");

    const std::string response = "Status: 200 OK\r\n\r\nbody";
    scgi::read_buffer response_buffer;
    std::memcpy(response_buffer.prepare().data(), response.data(), response.size());
    response_buffer.commit(response.size());
    scgi::response_parser response_parser;
    scgi::async_read_response_head(p.client, response_buffer, response_parser,
                                   on_handler_context([&](std::error_code ec) {
                                       EXPECT_FALSE(ec);
                                       ++delivered;
                                   }));
    expect_delivery_through_both_executors("response head");
    scgi::async_read_response_body_some(p.client, response_buffer,
                                        on_handler_context([&](std::error_code ec, std::string_view piece) {
                                            EXPECT_FALSE(ec);
                                            EXPECT_EQ(piece, "body");
                                            ++delivered;
                                        }));
    expect_delivery_through_both_executors("response body");

    const std::vector<scgi::header> duplicate{{"A", "1"}, {"A", "2"}};
    scgi::async_write_request(p.client, duplicate, "", on_handler_context([&](std::error_code ec, std::size_t) {
                                  EXPECT_EQ(ec, scgi::error::duplicate_header);
                                  ++delivered;
                              }));
    expect_delivery_through_both_executors("request write with an encoder error");
}

TEST(StreamOps, EncoderErrorsWriteNothing) {
    socket_pair p;
    const std::vector<scgi::header> bad{{"A", "1"}, {"A", "2"}};
    std::error_code result;
    std::size_t written = 99;
    bool done = false;
    scgi::async_write_request(p.client, bad, "", [&](std::error_code ec, std::size_t n) {
        result = ec;
        written = n;
        done = true;
    });
    EXPECT_FALSE(done);
    run_until(p.io, done);
    EXPECT_EQ(result, scgi::error::duplicate_header);
    EXPECT_EQ(written, 0u);
    // The prefix may not be longer than the declared body.
    done = false;
    scgi::async_write_request(p.client, client_headers, 2, "abc", [&](std::error_code ec, std::size_t) {
        result = ec;
        done = true;
    });
    run_until(p.io, done);
    EXPECT_EQ(result, scgi::error::content_length_mismatch);
    EXPECT_EQ(p.server.available(), 0u);
}

TEST(StreamOps, StreamedRequestBody) {
    socket_pair p;
    const std::string first = "first half, ";
    const std::string second = "second half";
    bool wrote_head = false;
    scgi::async_write_request(p.client, client_headers, first.size() + second.size(), first,
                              [&](std::error_code ec, std::size_t) {
                                  EXPECT_FALSE(ec);
                                  asio::async_write(p.client, asio::buffer(second),
                                                    [&](std::error_code e, std::size_t) {
                                                        EXPECT_FALSE(e);
                                                        wrote_head = true;
                                                    });
                              });
    scgi::read_buffer buffer;
    scgi::request_parser parser;
    callback_reader reader(p.server, buffer, parser);
    reader.start();
    run_until(p.io, reader.done);
    EXPECT_TRUE(wrote_head);
    EXPECT_FALSE(reader.body_error);
    EXPECT_EQ(reader.body, first + second);
}

// Reads a response head from what `bytes` (then, if `close`, the end of
// input) gives the server side of a fresh socket pair; the result.
std::error_code response_head_result(std::string_view bytes, bool close) {
    socket_pair p;
    asio::write(p.client, asio::buffer(bytes));
    if (close) p.client.close();
    scgi::read_buffer buffer;
    scgi::response_parser parser;
    std::error_code result;
    bool done = false;
    scgi::async_read_response_head(p.server, buffer, parser, [&](std::error_code ec) {
        result = ec;
        done = true;
    });
    run_until(p.io, done);
    return result;
}

TEST(StreamOps, ResponseErrors) {
    EXPECT_EQ(response_head_result("Status: 200 OK\r\nContent-", true), scgi::error::partial_response);
    EXPECT_EQ(response_head_result("Status: abc\r\n\r\n", false), scgi::condition::protocol_violation);
}

TEST(StreamOps, ReadErrorsOtherThanEofPassThrough) {
    socket_pair p;
    scgi::read_buffer buffer;
    scgi::request_parser parser;
    std::error_code result;
    bool done = false;
    scgi::async_read_request_head(p.server, buffer, parser, [&](std::error_code ec) {
        result = ec;
        done = true;
    });
    p.io.poll();
    p.server.cancel();
    run_until(p.io, done);
    EXPECT_EQ(result, asio::error::operation_aborted);
}

}  // namespace
