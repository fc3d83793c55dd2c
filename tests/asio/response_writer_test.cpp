// scgi::response_writer (and scgi::response through send) inside a server
// handler, over real sockets.
#include <scgi/asio/server.hpp>

#include <gtest/gtest.h>

#include "server_harness.hpp"

#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <future>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include <sys/socket.h>

namespace {

using namespace std::chrono_literals;
using namespace scgi::test;

TEST(ResponseWriter, HandlerThrowingAfterItsHeadStillGets500) {
    running_server s;
    const auto where = s.listen_tcp();
    s.server->start();
    // The head was only held back: the front end gets a proper 500.
    EXPECT_EQ(status_of(round_trip(where, post("/throw-after-head", ""))), 500);
    // Part of the body went out: the connection ends with a reset, not a
    // clean close that would pass a truncated answer for a complete one.
    peer p(where);
    ASSERT_TRUE(p.send(post("/throw-after-body", "")));
    int end = 0;
    const std::string partial = p.receive_all(end);
    EXPECT_EQ(body_of(partial), "partial");
    EXPECT_EQ(end, ECONNRESET) << std::strerror(end);
    EXPECT_TRUE(s.log.contains("handler failure mid-body"));
}

TEST(ResponseWriter, SimpleHandlerForm) {
    scgi::server_options options;
    options.handle_signals = false;
    options.log = {};
    scgi::server server(
        [](scgi::request& req) -> asio::awaitable<scgi::response> {
            if (req.head().path() == "/go") co_return scgi::response::redirect("/there");
            co_return scgi::response::text(200, "hi " + std::string(req.head().method()));
        },
        options);
    const auto where = server.listen(scgi::endpoint::parse("127.0.0.1:0"));
    server.start();
    const std::string hi = round_trip(where, post("/", ""));
    EXPECT_EQ(status_of(hi), 200);
    EXPECT_NE(hi.find("Content-Length: 7\r\n"), std::string::npos);
    EXPECT_EQ(body_of(hi), "hi POST");
    const std::string go = round_trip(where, post("/go", ""));
    EXPECT_EQ(status_of(go), 302);
    EXPECT_NE(go.find("Location: /there\r\n"), std::string::npos);
    server.stop();
    server.wait();
}

TEST(ResponseWriter, PeerThatDoesNotReadTheResponseIsCutAtTheWriteTimeout) {
    scgi::server_options options;
    options.write_timeout = 200ms;
    std::atomic<bool> write_failed{false};
    std::atomic<int> written_pieces{0};
    std::error_code write_error;
    running_server s(options, [&](scgi::request&, scgi::response_writer& res) -> asio::awaitable<void> {
        // Far more than the socket buffers hold: a write must wait for the
        // peer, who never reads.
        const std::string piece(64 * 1024, 'w');
        res.write_head(scgi::response_head{});
        for (int i = 0; i < 1024; ++i) {
            // A named result, not a co_await inside the condition (g++ 12).
            const std::error_code ec = co_await res.write(piece);
            if (ec) {
                write_error = ec;
                write_failed = true;
                co_return;
            }
            written_pieces = i + 1;
        }
        const std::error_code finished = co_await res.finish();
        EXPECT_FALSE(finished) << finished.message();
    });
    const auto where = s.listen_tcp();
    s.server->start();
    peer p(where);
    ASSERT_TRUE(p.send(post("/big", "")));
    ASSERT_TRUE(eventually([&] { return write_failed.load(); })) << "the write never timed out";
    EXPECT_EQ(write_error, scgi::error::write_timeout) << write_error.message();
    EXPECT_GT(written_pieces, 0) << "the socket took nothing: not a write that waited";
    EXPECT_LT(written_pieces, 1024);
    EXPECT_TRUE(eventually([&] { return s.server->active_connections() == 0; }));
}

TEST(ResponseWriter, PeerClosingMidRequestAndMidResponse) {
    running_server s;
    const auto where = s.listen_unix();
    s.server->start();
    {
        peer p(where);
        ASSERT_TRUE(p.send(post("/echo", "abcdef").substr(0, 20)));
    }  // closed mid-head
    {
        peer p(where);
        const std::string request = post("/echo", std::string(1000, 'z'));
        ASSERT_TRUE(p.send(std::string_view(request).substr(0, request.size() - 500)));
    }  // closed mid-body
    {
        // A large response the peer stops reading and closes: the handler's
        // write fails cleanly (no SIGPIPE: the test process would die).
        peer p(where);
        const std::string request = post("/echo", std::string(4 * 1024 * 1024, 'r'));
        std::thread sender([&] { (void)p.send(request); });
        EXPECT_EQ(p.receive(1000).size(), 1000u);
        p.shutdown_both();
        sender.join();
    }
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (s.server->active_connections() != 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_EQ(s.server->active_connections(), 0u);
    EXPECT_EQ(body_of(round_trip(where, post("/echo", "alive"))), "alive");
}

// Out of order is a bug in the handler: it throws std::logic_error, which the
// server turns into a 500 and a log line naming the mistake.
TEST(ResponseWriter, CallsOutOfOrderThrowAndTheServerAnswers500) {
    struct mistake {
        const char* path;
        const char* logged;
    };
    running_server s({}, [](scgi::request& req, scgi::response_writer& res) -> asio::awaitable<void> {
        if (req.head().path() == "/twice") {
            res.write_head(scgi::response_head{});
            res.write_head(scgi::response_head{});
        } else if (req.head().path() == "/write-first") {
            (void)co_await res.write("x");
        } else {
            (void)co_await res.finish();
        }
    });
    const auto where = s.listen_tcp();
    s.server->start();
    for (const mistake m : {mistake{"/twice", "write_head called twice"},
                            mistake{"/write-first", "write before write_head"},
                            mistake{"/finish-first", "finish before write_head"}}) {
        EXPECT_EQ(status_of(round_trip(where, post(m.path, ""))), 500) << m.path;
        EXPECT_TRUE(s.log.contains(m.logged)) << m.path;
    }
}

// send adds a Content-Length when the head has none, once, before the blank
// line; a head that states one is sent as it is.
TEST(ResponseWriter, SendAddsContentLengthOnlyWhenTheHeadHasNone) {
    running_server s({}, [](scgi::request& req, scgi::response_writer& res) -> asio::awaitable<void> {
        scgi::response whole;
        whole.head.add("X-First", "1");
        if (req.head().path() == "/stated") whole.head.add("Content-Length", "5");
        whole.body = "hello";
        const std::error_code sent = co_await res.send(whole);
        EXPECT_FALSE(sent) << sent.message();
    });
    const auto where = s.listen_unix();
    s.server->start();
    EXPECT_EQ(round_trip(where, post("/added", "")), "Status: 200 OK\r\nX-First: 1\r\nContent-Length: 5\r\n\r\nhello");
    EXPECT_EQ(round_trip(where, post("/stated", "")), "Status: 200 OK\r\nX-First: 1\r\nContent-Length: 5\r\n\r\nhello");
}

// A handler that writes past its declared Content-Length: the front end gets
// exactly the declared bytes (never the start of something it would read as
// another response), the crossing write and every later one report
// content_length_mismatch, and the connection ends cleanly. Found by
// server_connection_fuzz (fuzz/regressions/server_connection_fuzz/).
TEST(ResponseWriter, NothingPastTheDeclaredContentLength) {
    // One promise per request: nothing the server thread touches is
    // reassigned by the test thread.
    std::promise<std::vector<std::error_code>> written, sent;
    running_server s({}, [&written, &sent](scgi::request& req,
                                           scgi::response_writer& res) -> asio::awaitable<void> {
        std::vector<std::error_code> results;
        if (req.head().path() == "/send") {
            scgi::response whole;
            whole.head.add("Content-Length", "3");
            whole.body = "hello";
            results.push_back(co_await res.send(whole));
            sent.set_value(results);
        } else {
            scgi::response_head head;
            head.add_content_length(7);
            res.write_head(head);
            results.push_back(co_await res.write("hello"));
            results.push_back(co_await res.write(" world"));
            results.push_back(co_await res.write("!"));
            results.push_back(co_await res.write(""));  // nothing past the length, and still failed
            results.push_back(co_await res.finish());
            written.set_value(results);
        }
    });
    const auto where = s.listen_unix();
    s.server->start();
    EXPECT_EQ(round_trip(where, post("/write", "")), "Status: 200 OK\r\nContent-Length: 7\r\n\r\nhello w");
    auto write_results = written.get_future();
    ASSERT_EQ(write_results.wait_for(10s), std::future_status::ready);
    const std::vector<std::error_code> expected{{},
                                                scgi::error::content_length_mismatch,
                                                scgi::error::content_length_mismatch,
                                                scgi::error::content_length_mismatch,
                                                scgi::error::content_length_mismatch};
    EXPECT_EQ(write_results.get(), expected);
    EXPECT_TRUE(s.log.contains("wrote more than its Content-Length"));

    EXPECT_EQ(round_trip(where, post("/send", "")), "Status: 200 OK\r\nContent-Length: 3\r\n\r\nhel");
    auto send_results = sent.get_future();
    ASSERT_EQ(send_results.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(send_results.get(), std::vector<std::error_code>{scgi::error::content_length_mismatch});
    s.stop_and_wait();  // every line is in: one per response, however many writes failed
    EXPECT_EQ(s.log.count("wrote more than its Content-Length"), 2u);
}

// Content-Length lines a handler's head may hold, and what the front end
// gets when the handler then writes "hello world": a value is decimal
// digits with optional spaces and tabs around them (RFC 9110's OWS), and
// repeats, as lines or as a comma-separated list, must all be equal (RFC
// 9110 §8.6). Any other head declares no length the front end and the
// writer would agree on: it is not sent, the handler's writes fail, and the
// front end gets a 500 instead of a body whose end it would have to guess.
struct length_case {
    std::vector<scgi::header> lines;
    bool refused;  // else the front end gets "hello", the first 5 bytes
};

scgi::header cl(std::string_view value) { return {"Content-Length", value}; }

const std::vector<length_case>& length_cases() {
    static const std::vector<length_case> cases{
        {{cl("5")}, false},
        {{cl(" 5")}, false},
        {{cl("5 \t")}, false},
        {{cl("\t 5  ")}, false},
        {{cl("5"), cl("5")}, false},
        {{cl("5"), {"content-LENGTH", " 5 "}}, false},
        {{cl("5, 5")}, false},
        {{cl("5 ,\t5"), cl("5")}, false},
        {{cl("5"), cl("7")}, true},
        {{cl("7"), cl("5")}, true},
        {{cl("5"), {"content-length", "7"}}, true},
        {{cl("5, 7")}, true},
        {{cl("5"), cl("abc")}, true},
        {{cl("abc")}, true},
        {{cl("")}, true},
        {{cl(" \t ")}, true},
        {{cl("5x")}, true},
        {{cl("5 5")}, true},
        {{cl("+5")}, true},
        {{cl("-1")}, true},
        {{cl("0x5")}, true},
        {{cl("5,")}, true},
        {{cl(",5")}, true},
        {{cl("5,,5")}, true},
        {{cl("18446744073709551616")}, true},  // 2^64
    };
    return cases;
}

TEST(ResponseWriter, ContentLengthIsOneDecimalValueOrTheResponseIsRefused) {
    std::mutex mutex;
    std::map<std::string, std::vector<std::error_code>> results;  // by path
    scgi::server_options options;
    options.log_limits.lines_per_interval = 0;  // every refusal's line, to count them
    running_server s(options, [&](scgi::request& req, scgi::response_writer& res) -> asio::awaitable<void> {
        const std::string path(req.head().path());
        const length_case& c = length_cases().at(std::stoul(path.substr(path.rfind('/') + 1)));
        std::vector<std::error_code> got;
        if (path.starts_with("/send/")) {
            scgi::response whole;
            for (const scgi::header h : c.lines) whole.head.add(h.name, h.value);
            whole.body = "hello world";
            got.push_back(co_await res.send(whole));
        } else {
            scgi::response_head head;
            for (const scgi::header h : c.lines) head.add(h.name, h.value);
            res.write_head(head);
            got.push_back(co_await res.write("hello"));
            got.push_back(co_await res.write(" world"));
            got.push_back(co_await res.finish());
        }
        std::lock_guard lock(mutex);
        results[path] = got;
    });
    const auto where = s.listen_unix();
    s.server->start();
    std::size_t refusals = 0;
    for (std::size_t i = 0; i < length_cases().size(); ++i) {
        const length_case& c = length_cases()[i];
        std::string lines;
        for (const scgi::header h : c.lines) lines += std::string(h.name) + ": " + std::string(h.value) + "|";
        for (const std::string& path : {"/write/" + std::to_string(i), "/send/" + std::to_string(i)}) {
            const std::string response = round_trip(where, post(path, ""));
            if (c.refused) {
                ++refusals;
                EXPECT_EQ(status_of(response), 500) << path << " " << lines << "\n" << response;
                EXPECT_EQ(response.find("hello"), std::string::npos) << path << " " << lines;
            } else {
                EXPECT_EQ(status_of(response), 200) << path << " " << lines << "\n" << response;
                EXPECT_EQ(body_of(response), "hello") << path << " " << lines;
            }
        }
    }
    s.stop_and_wait();
    const std::error_code mismatch = scgi::error::content_length_mismatch;
    for (std::size_t i = 0; i < length_cases().size(); ++i) {
        const bool refused = length_cases()[i].refused;
        const std::vector<std::error_code> written{refused ? mismatch : std::error_code{}, mismatch, mismatch};
        EXPECT_EQ(results["/write/" + std::to_string(i)], written) << i;
        EXPECT_EQ(results["/send/" + std::to_string(i)], std::vector<std::error_code>{mismatch}) << i;
    }
    EXPECT_EQ(s.log.count("handler's response Content-Length"), refusals);
    EXPECT_TRUE(s.log.contains_now("handler's response Content-Length is stated more than once with different "
                                   "values on POST /write/8: the response is not sent, 500 instead"));
    EXPECT_TRUE(s.log.contains_now("handler's response Content-Length is not a decimal number of at most 64 bits "
                                   "on POST /send/13: the response is not sent, 500 instead"));
}

// After a failed write every later one returns the same error and sends
// nothing: the front end that went away is reported, not written to again.
TEST(ResponseWriter, AfterAFailureLaterWritesReturnTheSameError) {
    std::promise<std::pair<std::error_code, std::error_code>> outcome;
    running_server s({}, [&outcome](scgi::request&, scgi::response_writer& res) -> asio::awaitable<void> {
        res.write_head(scgi::response_head{});
        const std::string chunk(64 * 1024, 'w');
        std::error_code first;
        for (int i = 0; i < 10000 && !first; ++i) first = co_await res.write(chunk);
        const std::error_code again = co_await res.write("more");
        outcome.set_value({first, again});
    });
    const auto where = s.listen_tcp();
    s.server->start();
    {
        peer p(where);
        ASSERT_TRUE(p.send(post("/", "")));
    }  // gone without reading
    auto result = outcome.get_future();
    ASSERT_EQ(result.wait_for(10s), std::future_status::ready);
    const auto [first, again] = result.get();
    EXPECT_TRUE(first == asio::error::broken_pipe || first == asio::error::connection_reset) << first.message();
    EXPECT_EQ(again, first);
}

}  // namespace
