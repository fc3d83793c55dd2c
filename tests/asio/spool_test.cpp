// The rule "no response byte before the whole request body" and the body
// spool behind it (server_options::receive_body_before_response,
// spool_options), over real sockets: peers that behave like nginx (stop
// sending once the response starts) and like Apache (send everything, then
// read), handlers that answer before reading, limits, file errors and peers
// that leave while the spool fills.
#include <scgi/asio/server.hpp>

#include <gtest/gtest.h>

#include "server_harness.hpp"
#include "temp_dir.hpp"

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <sys/socket.h>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;
using namespace scgi::test;

// Bytes that repeat with no small period, so a misplaced piece shows.
std::string pattern(std::size_t size) {
    std::string out(size, '\0');
    for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>((i * 131 + i / 7919) & 0xff);
    return out;
}

bool is_empty_directory(const std::string& path) { return std::filesystem::is_empty(path); }

class Spool : public ::testing::TestWithParam<bool> {
protected:
    scgi::endpoint listen(running_server& s) { return GetParam() ? s.listen_unix() : s.listen_tcp(); }
};

INSTANTIATE_TEST_SUITE_P(BothTransports, Spool, ::testing::Bool(),
                         [](const auto& param_info) { return param_info.param ? "unix" : "tcp"; });

// Apache's way: the whole request first, then the response. Without the rule
// the streaming echo fills the socket buffers both ways and both sides wait
// (the send times out after 10 s).
TEST_P(Spool, ClientThatSendsEverythingBeforeReadingGetsTheWholeEcho) {
    running_server s;
    const auto where = listen(s);
    s.server->start();
    const std::string body = pattern(3 * 1024 * 1024);
    peer p(where);
    ASSERT_TRUE(p.send(post("/echo", body)));
    p.shutdown_send();
    const std::string response = p.receive_all();
    EXPECT_EQ(status_of(response), 200);
    EXPECT_TRUE(body_of(response) == body) << body_of(response).size() << " of " << body.size() << " bytes back";
}

// nginx's way: it stops sending the body as soon as response bytes arrive.
// The body goes in pieces with a pause after each; any response byte before
// the last piece is a failure (and nginx would never send the rest).
TEST_P(Spool, NoResponseByteLeavesBeforeTheLastBodyByte) {
    running_server s;
    const auto where = listen(s);
    s.server->start();
    const std::string body = pattern(1024 * 1024);
    const std::string request = post("/echo", body);
    peer p(where);
    constexpr std::size_t pieces = 32;
    const std::size_t piece = request.size() / pieces + 1;
    bool answered_early = false;
    for (std::size_t at = 0; at < request.size() && !answered_early; at += piece) {
        ASSERT_TRUE(p.send(std::string_view(request).substr(at, piece)));
        std::this_thread::sleep_for(5ms);
        answered_early = at + piece < request.size() && p.readable();
    }
    EXPECT_FALSE(answered_early) << "response bytes arrived before the whole body was sent";
    const std::string response = p.receive_all();
    EXPECT_EQ(status_of(response), 200);
    EXPECT_TRUE(body_of(response) == body);
}

// A handler that answers before reading anything still gets every body byte
// afterwards, in order, from the spool (memory, then its file).
TEST_P(Spool, HandlerAnsweringBeforeReadingGetsTheBodyAfterwards) {
    scgi::server_options options;
    options.spool.memory_bytes = 10000;  // most of the body goes to the file
    running_server s(options);
    const auto where = listen(s);
    s.server->start();
    const std::string body = pattern(2 * 1024 * 1024 + 17);
    peer p(where);
    ASSERT_TRUE(p.send(post("/answer-first", body)));
    const std::string response = p.receive_all();
    EXPECT_EQ(status_of(response), 200);
    EXPECT_EQ(body_of(response), "answered first");
    const auto bodies = s.app.bodies_read();
    ASSERT_EQ(bodies.size(), 1u);
    EXPECT_TRUE(bodies[0] == body) << bodies[0].size() << " of " << body.size() << " bytes read";
}

// spool.max_bytes is inclusive: a body of exactly that many unread bytes is
// spooled, one more is refused before anything is received.
TEST(SpoolLimits, MaxBytesIsInclusiveAndBeyondItTheServerAnswers413) {
    scgi::server_options options;
    options.spool.max_bytes = 100'000;
    running_server s(options);
    const auto where = s.listen_tcp();
    s.server->start();
    const std::string at_limit = round_trip(where, post("/answer-first", pattern(100'000)));
    EXPECT_EQ(status_of(at_limit), 200);
    EXPECT_EQ(body_of(at_limit), "answered first");

    peer p(where);
    std::thread sender([&] { (void)p.send(post("/answer-first", pattern(100'001))); });
    const std::string over = p.receive_all();
    sender.join();
    EXPECT_EQ(status_of(over), 413);
    EXPECT_NE(body_of(over).find("spool_options::max_bytes"), std::string::npos) << body_of(over);
    EXPECT_TRUE(s.log.contains("413 Content Too Large: the response started with 100001 body bytes unread, "
                               "more than spool.max_bytes (100000)"));
    // The handler learnt of it: its send returned the refusal.
    ASSERT_TRUE(eventually([&] { return !s.app.errors_written().empty(); }));
    EXPECT_EQ(s.app.errors_written()[0], scgi::error::spool_limit_exceeded) << s.app.errors_written()[0].message();
    EXPECT_EQ(body_of(round_trip(where, post("/echo", "still serving"))), "still serving");
}

// The spool's file cannot be created: 500 (the disk is the server's
// problem, not the peer's), with a log line naming the cause.
TEST(SpoolLimits, FileThatCannotBeCreatedAnswers500) {
    temp_dir dir;
    scgi::server_options options;
    options.spool.memory_bytes = 32 * 1024;
    options.spool.directory = dir.file("no-such-directory");
    running_server s(options);
    const auto where = s.listen_unix();
    s.server->start();
    const std::string response = round_trip(where, post("/echo", pattern(256 * 1024)));
    EXPECT_EQ(status_of(response), 500);
    EXPECT_TRUE(s.log.contains("cannot spool the request body: No such file or directory"));
    // A body whose unread part fits in memory needs no file.
    const std::string small = pattern(30 * 1024);
    EXPECT_TRUE(body_of(round_trip(where, post("/echo", small))) == small);
}

// discard_body() reads the body without keeping it: no spool is needed for
// the answer that follows (max_bytes 0 would refuse any spooling).
TEST(SpoolLimits, DiscardedBodyNeedsNoSpool) {
    scgi::server_options options;
    options.spool.max_bytes = 0;
    running_server s(options);
    const auto where = s.listen_tcp();
    s.server->start();
    peer p(where);
    ASSERT_TRUE(p.send(post("/discard", pattern(1024 * 1024))));
    const std::string response = p.receive_all();
    EXPECT_EQ(status_of(response), 403);
    EXPECT_EQ(body_of(response), "refused; unread 0");
}

// A handler that writes only a head leaves it to the server's finish() to
// send it, which is then what waits for the body: a refusal there must
// still be answered (413 for too large, 500 when the spool fails).
TEST(SpoolLimits, RefusalWhenTheServerSendsAHeldBackHeadIsAnswered) {
    temp_dir dir;
    scgi::server_options options;
    options.spool.max_bytes = 100'000;
    options.spool.memory_bytes = 1024;
    running_server s(options);
    const auto where = s.listen_tcp();
    s.server->start();
    peer p(where);
    std::thread sender([&] { (void)p.send(post("/head-only", pattern(200'000))); });
    const std::string too_large = p.receive_all();
    sender.join();
    EXPECT_EQ(status_of(too_large), 413) << too_large.substr(0, 60);

    scgi::server_options broken = options;
    broken.spool.directory = dir.file("no-such-directory");
    running_server t(broken);
    const auto other = t.listen_tcp();
    t.server->start();
    EXPECT_EQ(status_of(round_trip(other, post("/head-only", pattern(50'000)))), 500);
}

// When the spool's file fails, the handler's reads after the spooled bytes
// return that error: the body never silently loses its middle.
TEST(SpoolLimits, ReadsAfterASpoolFailureReturnItsError) {
    temp_dir dir;
    scgi::server_options options;
    options.spool.memory_bytes = 1024;
    options.spool.directory = dir.file("no-such-directory");
    running_server s(options);
    const auto where = s.listen_unix();
    s.server->start();
    const std::string body = pattern(300'000);
    EXPECT_EQ(status_of(round_trip(where, post("/answer-first", body))), 500);
    ASSERT_TRUE(eventually([&] { return !s.app.errors_read().empty(); }));
    EXPECT_EQ(s.app.errors_read()[0], std::errc::no_such_file_or_directory) << s.app.errors_read()[0].message();
    const std::string got = s.app.bodies_read()[0];
    EXPECT_LT(got.size(), body.size());
    EXPECT_TRUE(got == body.substr(0, got.size())) << "what was read is not a prefix of the body";
}

// Bytes after the body, met while the response waits for it, are dropped
// as the drain after an answer drops them: the answer still goes out.
TEST(SpoolLimits, BytesAfterTheBodyDuringTheWaitAreDropped) {
    running_server s;
    const auto where = s.listen_tcp();
    s.server->start();
    const std::string body = pattern(300'000);
    const std::string response = round_trip(where, post("/answer-first", body) + "JUNK");
    EXPECT_EQ(status_of(response), 200);
    EXPECT_EQ(body_of(response), "answered first");
    ASSERT_TRUE(eventually([&] { return !s.app.bodies_read().empty(); }));
    EXPECT_TRUE(s.app.bodies_read()[0] == body);
    EXPECT_FALSE(s.app.errors_read()[0]) << s.app.errors_read()[0].message();
}

// A body that arrived whole with the head needs no spool, whatever its limit.
TEST(SpoolLimits, BodyAlreadyReceivedNeedsNoSpool) {
    scgi::server_options options;
    options.spool.max_bytes = 0;
    running_server s(options);
    const auto where = s.listen_unix();
    s.server->start();
    const std::string response = round_trip(where, post("/answer-first", "ten bytes!"));
    EXPECT_EQ(status_of(response), 200);
    ASSERT_TRUE(eventually([&] { return !s.app.bodies_read().empty(); }));
    EXPECT_EQ(s.app.bodies_read()[0], "ten bytes!");
}

// A handler whose body read failed answers at once with its own response:
// the body is not coming, so nothing waits for it a second time.
TEST(SpoolLimits, AnswerAfterAFailedBodyReadDoesNotWaitForTheBody) {
    scgi::server_options options;
    options.body_timeout = std::chrono::milliseconds(300);
    running_server s(options);
    const auto where = s.listen_tcp();
    s.server->start();
    peer p(where);
    const std::string request = post("/read-then-answer", pattern(100'000));
    ASSERT_TRUE(p.send(std::string_view(request).substr(0, request.size() / 2)));
    const std::string response = p.receive_all();
    EXPECT_EQ(status_of(response), 422) << response.substr(0, 80);
    EXPECT_EQ(body_of(response), "no request body bytes arrived within the body timeout");
}

// A peer that leaves while the spool fills: the file is closed (it never had
// a name, so nothing is left in the directory) and the slot serves on.
void peer_leaves_mid_spool(bool unix_socket, bool with_reset) {
    temp_dir dir;
    const std::string spool_dir = dir.file("spool");
    std::filesystem::create_directory(spool_dir);
    scgi::server_options options;
    options.spool.memory_bytes = 4096;
    options.spool.directory = spool_dir;
    running_server s(options);
    const auto where = unix_socket ? s.listen_unix() : s.listen_tcp();
    s.server->start();
    const std::string request = post("/answer-first", pattern(8 * 1024 * 1024));
    {
        peer p(where);
        ASSERT_TRUE(p.send(std::string_view(request).substr(0, 1024 * 1024)));
        ASSERT_TRUE(eventually([&] { return !open_files_under(spool_dir).empty(); }))
            << "no spool file was opened under " << spool_dir;
        EXPECT_TRUE(is_empty_directory(spool_dir)) << "the spool file has a name";
        if (with_reset) {
            const linger abortive{1, 0};
            ASSERT_EQ(::setsockopt(p.native_handle(), SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive), 0);
        }
    }  // closed here
    EXPECT_TRUE(eventually([&] { return open_files_under(spool_dir).empty(); })) << "the spool file stayed open";
    EXPECT_TRUE(is_empty_directory(spool_dir));
    EXPECT_TRUE(eventually([&] { return s.server->active_connections() == 0; }));
    EXPECT_EQ(body_of(round_trip(where, post("/echo", "next"))), "next");
}

TEST_P(Spool, PeerClosingWhileTheSpoolFillsLeavesNothingBehind) { peer_leaves_mid_spool(GetParam(), false); }

TEST_P(Spool, PeerResettingWhileTheSpoolFillsLeavesNothingBehind) { peer_leaves_mid_spool(GetParam(), true); }

// Turned off, the rule no longer holds the response: a streaming handler
// answers while the body still arrives (for peers that read while they write).
TEST(SpoolLimits, FullDuplexOptionAnswersWhileTheBodyArrives) {
    scgi::server_options options;
    options.receive_body_before_response = false;
    running_server s(options);
    const auto where = s.listen_tcp();
    s.server->start();
    const std::string body = pattern(1024 * 1024);
    const std::string request = post("/echo", body);
    peer p(where);
    const std::size_t first = request.size() - body.size() + 64 * 1024;
    ASSERT_TRUE(p.send(std::string_view(request).substr(0, first)));
    EXPECT_TRUE(eventually([&] { return p.readable(); })) << "no response byte while the body was incomplete";
    std::string response;
    std::thread reader([&] { response = p.receive_all(); });
    EXPECT_TRUE(p.send(std::string_view(request).substr(first)));
    reader.join();
    EXPECT_EQ(status_of(response), 200);
    EXPECT_TRUE(body_of(response) == body);
}

}  // namespace
