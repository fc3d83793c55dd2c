// scgi::server over real sockets: TCP on 127.0.0.1 and Unix
// sockets in a fresh temporary directory. Peers are plain blocking POSIX
// sockets with receive/send timeouts, so every wait is bounded.
#include <scgi/asio/server.hpp>
#include <scgi/encode_request.hpp>

#include "vector_file.hpp"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <gtest/gtest.h>

#include "server_harness.hpp"
#include "temp_dir.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;
using namespace scgi::test;

// --- tests ---------------------------------------------------------------------------

class BothTransports : public ::testing::TestWithParam<bool> {};

TEST_P(BothTransports, EchoesBodiesOfEverySize) {
    running_server s;
    const auto where = GetParam() ? s.listen_unix() : s.listen_tcp();
    s.server->start();
    for (const std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{1024 * 1024}}) {
        std::string body(size, '\0');
        for (std::size_t i = 0; i < size; ++i) body[i] = static_cast<char>(i * 7 + 3);
        const std::string response = round_trip(where, post("/echo", body));
        EXPECT_EQ(status_of(response), 200) << size;
        EXPECT_TRUE(body_of(response) == body) << size << " bytes sent, " << body_of(response).size() << " back";
    }
}

INSTANTIATE_TEST_SUITE_P(Server, BothTransports, ::testing::Bool(),
                         [](const auto& param_info) { return param_info.param ? "unix" : "tcp"; });

TEST(Server, RequestArrivingOneByteAtATime) {
    running_server s;
    const auto where = s.listen_tcp();
    s.server->start();
    peer p(where);
    const std::string request = post("/echo", "byte by byte");
    for (const char c : request) {
        ASSERT_TRUE(p.send(std::string_view(&c, 1)));
        std::this_thread::sleep_for(200us);
    }
    const std::string response = p.receive_all();
    EXPECT_EQ(status_of(response), 200);
    EXPECT_EQ(body_of(response), "byte by byte");
}

TEST(Server, EveryMalformedVectorGetsAnErrorStatusAndTheServerGoesOn) {
    running_server s;
    const auto where = s.listen_tcp();
    s.server->start();
    namespace vectors = scgi::test::vectors;
    int checked = 0;
    for (const auto& path : vectors::list(vectors::kind::request)) {
        vectors::vector_file v;
        std::string problem;
        ASSERT_TRUE(vectors::load(path, vectors::kind::request, v, problem)) << problem;
        const scgi::parser_options defaults{};
        const bool default_options =
            !v.options.allow_missing_scgi && !v.options.allow_content_length_anywhere &&
            !v.options.allow_missing_content_length && v.options.duplicates == defaults.duplicates &&
            v.options.limits.header_block_bytes == defaults.limits.header_block_bytes &&
            v.options.limits.header_count == defaults.limits.header_count &&
            v.options.limits.body_bytes == defaults.limits.body_bytes;
        if (!default_options || v.expect != vectors::expectation::error) continue;
        if (v.expected_error == scgi::error::trailing_data) continue;  // the request itself is fine
        const int expected = v.expected_error == scgi::error::body_too_large        ? 413
                             : std::error_code(v.expected_error) == scgi::condition::limit_exceeded ? 431
                                                                                   : 400;
        const std::string response = round_trip(where, v.input);
        EXPECT_EQ(status_of(response), expected) << path.filename() << ": " << response;
        EXPECT_NE(body_of(response).find(std::error_code(v.expected_error).message()), std::string::npos)
            << path.filename() << ": the answer names the rule";
        ++checked;
    }
    EXPECT_GE(checked, 25);
    // Still serving.
    EXPECT_EQ(body_of(round_trip(where, post("/echo", "still here"))), "still here");
    EXPECT_TRUE(s.log.contains("400 Bad Request"));
}

TEST(Server, LimitsAnswer413And431) {
    scgi::server_options options;
    options.parser.limits.body_bytes = 10;
    options.parser.limits.header_count = 4;
    running_server s(options);
    const auto where = s.listen_tcp();
    s.server->start();
    EXPECT_EQ(status_of(round_trip(where, post("/echo", "0123456789"))), 200);
    EXPECT_EQ(status_of(round_trip(where, post("/echo", "0123456789A"))), 413);
    const std::string many = request_bytes(
        {{"REQUEST_METHOD", "POST"}, {"REQUEST_URI", "/echo"}, {"A", "1"}, {"B", "2"}}, "");
    EXPECT_EQ(status_of(round_trip(where, many)), 431);
}

// What nginx forwards for a browser request with 2,000 small headers: a
// 27 KB head, within the default 64 KiB byte limit and so served by default.
TEST(Server, ThousandsOfHeadersWithinTheByteLimitAreServedByDefault) {
    running_server s;
    const auto where = s.listen_unix();
    s.server->start();
    std::vector<std::string> names;
    for (int i = 0; i < 2000; ++i) names.push_back("HTTP_X_" + std::to_string(i));
    std::vector<scgi::header> headers{{"REQUEST_METHOD", "POST"}, {"REQUEST_URI", "/echo"}};
    for (const auto& name : names) headers.push_back({name, "1"});
    const std::string request = request_bytes(headers, "many headers");
    ASSERT_GT(request.size(), 26u * 1024u);
    const std::string response = round_trip(where, request);
    EXPECT_EQ(status_of(response), 200);
    EXPECT_EQ(body_of(response), "many headers");
}

// A rolling restart over SO_REUSEPORT loses the connections queued on the
// stopping process's listener unless the kernel migrates them: the server
// says so at start when it cannot.
TEST(Server, ReusePortWarnsWhenTheKernelWillNotMigrateQueuedConnections) {
    scgi::server_options options;
    options.listen.reuse_port = true;
    running_server s(options);
    (void)s.listen_tcp();
    s.server->start();
    std::ifstream setting("/proc/sys/net/ipv4/tcp_migrate_req");
    char value = '0';
    const bool migrates = static_cast<bool>(setting >> value) && value != '0';
    // After wait(), every line of the run has reached the hook.
    s.server->stop();
    s.server->wait();
    ASSERT_TRUE(s.log.contains_now("listening on"));
    EXPECT_EQ(s.log.contains_now("SO_REUSEPORT:"), !migrates);
    if (setting) {
        EXPECT_EQ(s.log.contains_now("net.ipv4.tcp_migrate_req is 0"), !migrates);
    }

    running_server unix_only(options);  // nothing to say for a Unix socket
    (void)unix_only.listen_unix();
    unix_only.server->start();
    unix_only.server->stop();
    unix_only.server->wait();
    ASSERT_TRUE(unix_only.log.contains_now("listening on"));
    EXPECT_FALSE(unix_only.log.contains_now("SO_REUSEPORT:"));
}

TEST(Server, HandlerThatThrowsGets500AndALogLine) {
    running_server s;
    const auto where = s.listen_tcp();
    s.server->start();
    const std::string response = round_trip(where, post("/throw", ""));
    EXPECT_EQ(status_of(response), 500);
    EXPECT_TRUE(s.log.contains("handler failure on purpose"));
    EXPECT_EQ(status_of(round_trip(where, post("/echo", "x"))), 200);
}

TEST(Server, StopBeforeRunReturnsAtOnce) {
    running_server s;
    const auto where = s.listen_unix();
    s.server->stop();
    auto running = std::async(std::launch::async, [&] { s.server->run(); });
    EXPECT_EQ(running.wait_for(5s), std::future_status::ready) << "run() did not return after stop()";
    EXPECT_FALSE(std::filesystem::exists(where.path()));
}

TEST(Server, EveryListenerServesAtMaxConnectionsOne) {
    scgi::server_options options;
    options.max_connections = 1;
    running_server s(options);
    const auto first = s.listen_tcp();
    const auto second = s.listen_unix();
    s.server->start();
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(body_of(round_trip(first, post("/echo", "one"))), "one");
        EXPECT_EQ(body_of(round_trip(second, post("/echo", "two"))), "two");
    }
}

TEST(Server, TricklingHeadIsCutAtTheHeadTimeout) {
    scgi::server_options options;
    options.head_timeout = 100ms;
    running_server s(options);
    const auto where = s.listen_tcp();
    s.server->start();
    // Several slow-header clients, one byte every millisecond, each for up
    // to 3 s: every one must be answered 408 and cut well before that.
    std::vector<std::thread> clients;
    std::atomic<int> cut{0};
    for (int c = 0; c < 4; ++c) {
        clients.emplace_back([&] {
            peer p(where);
            const auto started = std::chrono::steady_clock::now();
            if (!p.send("60000:")) return;
            while (std::chrono::steady_clock::now() - started < 3s && !p.readable()) {
                if (!p.send("x")) break;  // the server closed
                std::this_thread::sleep_for(1ms);
            }
            const auto answered = std::chrono::steady_clock::now() - started;
            // Cut at the head timeout (100 ms), where a server that did not
            // cut would let this client trickle on until its own 3 s; the
            // bound is loose for a loaded machine under sanitizers.
            if (status_of(p.receive(12)) == 408 && answered < 2500ms) ++cut;
        });
    }
    for (auto& t : clients) t.join();
    EXPECT_EQ(cut, 4);
}

TEST(Server, HandlerThatAnswersNothingGets500) {
    running_server s;
    const auto where = s.listen_tcp();
    s.server->start();
    EXPECT_EQ(status_of(round_trip(where, post("/silent", ""))), 500);
    EXPECT_TRUE(s.log.contains("without a response"));
}

TEST(Server, SlowHeadIsDroppedWith408) {
    scgi::server_options options;
    options.head_timeout = 200ms;
    running_server s(options);
    const auto where = s.listen_tcp();
    s.server->start();
    peer p(where);
    ASSERT_TRUE(p.send("70:CONTENT_LENGTH"));  // and then nothing
    const auto started = std::chrono::steady_clock::now();
    const std::string response = p.receive_all();
    const auto waited = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(status_of(response), 408);
    EXPECT_LT(waited, 5s);
    EXPECT_TRUE(s.log.contains("head timeout"));
}

TEST(Server, IdleBodyIsDropped) {
    scgi::server_options options;
    options.body_timeout = 200ms;
    running_server s(options);
    const auto where = s.listen_tcp();
    s.server->start();
    peer p(where);
    const std::string request = post("/echo", std::string(100, 'b'));
    ASSERT_TRUE(p.send(std::string_view(request).substr(0, request.size() - 50)));  // half the body
    const auto started = std::chrono::steady_clock::now();
    // Nothing of the echo leaves before the whole body: the server answers
    // the idle body itself.
    const std::string response = p.receive_all();
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
    EXPECT_EQ(status_of(response), 408);
    EXPECT_TRUE(s.log.contains("408 Request Timeout: no request body bytes arrived within the body timeout"));
    // The server is still fine.
    EXPECT_EQ(body_of(round_trip(where, post("/echo", "ok"))), "ok");
}

TEST(Server, ExecutorRunsTheProgramsOwnWorkOnTheServersThreads) {
    scgi::server_options options;
    options.threads = 2;
    std::mutex mutex;
    std::thread::id handler_thread;
    running_server s(options, [&](scgi::request&, scgi::response_writer& res) -> asio::awaitable<void> {
        {
            std::lock_guard lock(mutex);
            handler_thread = std::this_thread::get_id();
        }
        const scgi::response answer = scgi::response::text(200, "ok");
        const std::error_code sent = co_await res.send(answer);
        EXPECT_FALSE(sent) << sent.message();
    });
    const auto where = s.listen_unix();
    s.server->start();
    std::promise<std::thread::id> ran_on;
    asio::post(s.server->get_executor(), [&] { ran_on.set_value(std::this_thread::get_id()); });
    auto ran = ran_on.get_future();
    ASSERT_EQ(ran.wait_for(5s), std::future_status::ready);
    const std::thread::id work_thread = ran.get();
    EXPECT_NE(work_thread, std::this_thread::get_id());
    EXPECT_EQ(body_of(round_trip(where, post("/", ""))), "ok");
    // Both run on the server's threads, not on the caller's.
    std::lock_guard lock(mutex);
    EXPECT_NE(handler_thread, std::thread::id{});
    EXPECT_NE(handler_thread, std::this_thread::get_id());
}

TEST(Server, ThousandConcurrentConnections) {
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_cur < 2200) {
        limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, 4096);
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
    if (limit.rlim_cur < 2200) GTEST_SKIP() << "RLIMIT_NOFILE too low for 1000 connections";
    scgi::server_options options;
    options.max_connections = 1000;
    options.listen.backlog = 1024;
    running_server s(options);
    const auto where = s.listen_unix();
    s.server->start();
    std::vector<std::unique_ptr<peer>> peers;
    for (int i = 0; i < 1000; ++i) {
        peers.push_back(std::make_unique<peer>(where));
        ASSERT_TRUE(peers.back()->connected()) << i;
        // Half of each request now, the rest below: all 1000 are open at once.
        const std::string request = post("/echo", "connection " + std::to_string(i));
        ASSERT_TRUE(peers.back()->send(std::string_view(request).substr(0, 10)));
    }
    for (int i = 0; i < 1000; ++i) {
        const std::string request = post("/echo", "connection " + std::to_string(i));
        ASSERT_TRUE(peers[static_cast<std::size_t>(i)]->send(std::string_view(request).substr(10)));
    }
    int answered = 0;
    for (int i = 0; i < 1000; ++i) {
        const std::string response = peers[static_cast<std::size_t>(i)]->receive_all();
        answered += body_of(response) == "connection " + std::to_string(i);
    }
    EXPECT_EQ(answered, 1000);
    EXPECT_EQ(s.server->connections_accepted(), 1000u);
}

// The limit, the stop and its deadline with one thread and with three: on
// the io_uring engine three are three rings, each accepting and serving on
// its own thread (the .epoll twin: three threads sharing every connection).
class OneAndThreeThreads : public ::testing::TestWithParam<unsigned> {
protected:
    static scgi::server_options with_threads() {
        scgi::server_options options;
        options.threads = GetParam();
        return options;
    }
};

INSTANTIATE_TEST_SUITE_P(Server, OneAndThreeThreads, ::testing::Values(1u, 3u),
                         [](const ::testing::TestParamInfo<unsigned>& param_info) {
                             return std::to_string(param_info.param) + "_threads";
                         });

TEST_P(OneAndThreeThreads, BeyondMaxConnectionsNewOnesWait) {
    scgi::server_options options = with_threads();
    options.max_connections = 2;
    running_server s(options);
    s.app.wait_for = 300ms;
    const auto where = s.listen_tcp();
    s.server->start();
    const auto started = std::chrono::steady_clock::now();
    std::vector<std::thread> clients;
    std::atomic<int> ok{0};
    for (int i = 0; i < 4; ++i) {
        clients.emplace_back([&] { ok += body_of(round_trip(where, post("/wait", "w"))) == "w"; });
    }
    for (auto& t : clients) t.join();
    EXPECT_EQ(ok, 4);
    // Two at a time, 300 ms each: at least two rounds.
    EXPECT_GE(std::chrono::steady_clock::now() - started, 550ms);
}

TEST_P(OneAndThreeThreads, GracefulStopAnswersRequestsInFlight) {
    running_server s(with_threads());
    s.app.wait_for = 300ms;
    const auto where = s.listen_unix();
    s.server->start();
    std::vector<std::thread> clients;
    std::atomic<int> ok{0};
    for (int i = 0; i < 5; ++i) {
        clients.emplace_back([&] { ok += body_of(round_trip(where, post("/wait", "in flight"))) == "in flight"; });
    }
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (s.server->active_connections() < 5 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(5ms);
    }
    ASSERT_EQ(s.server->active_connections(), 5u);
    s.server->stop();
    for (auto& t : clients) t.join();
    s.server->wait();
    EXPECT_EQ(ok, 5);
    // Stopped: the socket file is gone and nothing listens.
    EXPECT_FALSE(std::filesystem::exists(where.path()));
}

TEST_P(OneAndThreeThreads, StopDeadlineClosesWhatIsLeft) {
    scgi::server_options options = with_threads();
    options.stop_timeout = 100ms;
    running_server s(options);
    s.app.wait_for = 10s;
    const auto where = s.listen_tcp();
    s.server->start();
    std::thread client([&] { (void)round_trip(where, post("/wait", "x")); });
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (s.server->active_connections() < 1 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(5ms);
    }
    const auto started = std::chrono::steady_clock::now();
    s.server->stop();
    s.server->wait();
    client.join();
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
    EXPECT_TRUE(s.log.contains("stop deadline passed"));
}

// A Unix stream socket bound to `path` (not listening yet).
int bound_unix_socket(const std::string& path) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    EXPECT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0) << path;
    return fd;
}

TEST(Server, SocketActivation) {
    // A listening socket at descriptor 3, as systemd passes it.
    temp_dir dir;
    const std::string path = dir.file("activated.sock");
    const int fd = bound_unix_socket(path);
    ASSERT_EQ(::listen(fd, 16), 0);
    int saved3 = -1;  // whatever was at 3, if anything
    if (fd != 3) {
        saved3 = ::fcntl(3, F_DUPFD_CLOEXEC, 100);
        ASSERT_EQ(::dup2(fd, 3), 3);
        ::close(fd);
    }
    ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
    ::setenv("LISTEN_FDS", "1", 1);
    {
        running_server s;
        EXPECT_EQ(s.server->adopt_activated_sockets(), 1u);
        EXPECT_EQ(::getenv("LISTEN_FDS"), nullptr);
        s.server->start();
        EXPECT_EQ(body_of(round_trip(scgi::endpoint::unix_socket(path), post("/echo", "activated"))), "activated");
    }
    // The server never removes a socket file it did not create.
    EXPECT_TRUE(std::filesystem::exists(path));
    if (saved3 >= 0) {
        ::dup2(saved3, 3);
        ::close(saved3);
    }
}

// TCP listeners get TCP_NODELAY, which accepted connections inherit: a
// streamed response's small pieces are not held back by Nagle's algorithm.
// Checked on the listener and on the connection the server accepted (found
// in this process's descriptors by its peer's port while a request waits).
TEST(Server, TcpListenersSetNoDelayForTheirConnections) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(fd, 16), 0);
    running_server s;
    s.app.wait_for = 1s;  // holds the connection open while it is looked for
    const scgi::endpoint where = s.server->adopt(fd);
    s.server->start();
    int value = 0;
    socklen_t length = sizeof value;
    ASSERT_EQ(::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &value, &length), 0);
    EXPECT_NE(value, 0);

    peer p(where);
    ASSERT_TRUE(p.send(post("/wait", "nagle")));
    const std::uint16_t client_port = p.local_port();
    ASSERT_NE(client_port, 0);
    // The server's end of that connection: a TCP socket whose peer is `p`.
    int accepted = -1;
    ASSERT_TRUE(eventually([&] {
        for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
            const int candidate = std::stoi(entry.path().filename().string());
            sockaddr_in peer_addr{};
            socklen_t size = sizeof peer_addr;
            if (candidate != p.native_handle() &&
                ::getpeername(candidate, reinterpret_cast<sockaddr*>(&peer_addr), &size) == 0 &&
                peer_addr.sin_family == AF_INET && ntohs(peer_addr.sin_port) == client_port) {
                accepted = candidate;
                return true;
            }
        }
        return false;
    })) << "no accepted socket with peer port " << client_port;
    value = 0;
    length = sizeof value;
    ASSERT_EQ(::getsockopt(accepted, IPPROTO_TCP, TCP_NODELAY, &value, &length), 0);
    EXPECT_NE(value, 0) << "the accepted connection has no TCP_NODELAY";
    EXPECT_EQ(body_of(p.receive_all()), "nagle");
}

// A head larger than the read buffer, sent whole with its body: the head is
// read in several pieces, and what follows it is the body's start.
TEST(Server, HeadLargerThanTheReadBuffer) {
    scgi::server_options options;
    options.read_buffer_size = 1024;
    running_server s(options);
    const auto where = s.listen_unix();
    s.server->start();
    const std::string big(20000, 'v');
    const std::string body(5000, 'b');
    const std::string response = round_trip(
        where, request_bytes({{"REQUEST_METHOD", "POST"}, {"REQUEST_URI", "/echo"}, {"HTTP_X_BIG", big}}, body));
    EXPECT_EQ(status_of(response), 200);
    EXPECT_TRUE(body_of(response) == body);
}

// A small head and a body larger than the read buffer in one segment: the
// first read must take no more than the buffer holds after the head (the
// io_uring engine reads into the ring's larger buffers). Under
// AddressSanitizer an overrun of the request buffer fails here.
TEST(Server, ShortHeadWithABodyLargerThanTheReadBufferInOneSegment) {
    scgi::server_options options;
    options.read_buffer_size = 1024;
    running_server s(options);
    const auto where = s.listen_unix();
    s.server->start();
    std::string body(3000, '\0');
    for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
    peer p(where);
    ASSERT_TRUE(p.send(post("/echo", body)));  // one send: head and body together
    const std::string response = p.receive_all();
    EXPECT_EQ(status_of(response), 200);
    EXPECT_TRUE(body_of(response) == body) << body_of(response).size() << " bytes back";
}

TEST(Server, StaleSocketFileIsReplacedLiveOneIsNot) {
    temp_dir dir;
    const std::string path = dir.file("stale.sock");
    {
        // Bound and closed without unlinking: stale.
        ::close(bound_unix_socket(path));
    }
    running_server first;
    first.server->listen(scgi::endpoint::unix_socket(path));
    first.server->start();
    running_server second;
    std::error_code ec;
    second.server->listen(scgi::endpoint::unix_socket(path), ec);
    EXPECT_EQ(ec, scgi::error::unix_socket_in_use);
    EXPECT_EQ(body_of(round_trip(scgi::endpoint::unix_socket(path), post("/echo", "first"))), "first");
}

// Eight clients at once, half over TCP and half over the Unix socket, each
// sending `each` requests one after another: how many came back echoed.
int echoes_from_eight_clients(const scgi::endpoint& tcp, const scgi::endpoint& unix_path, int each) {
    std::vector<std::thread> clients;
    std::atomic<int> ok{0};
    for (int t = 0; t < 8; ++t) {
        clients.emplace_back([&, t] {
            for (int i = 0; i < each; ++i) {
                const std::string body = "t" + std::to_string(t) + "i" + std::to_string(i);
                ok += body_of(round_trip(t % 2 ? tcp : unix_path, post("/echo", body))) == body;
            }
        });
    }
    for (auto& t : clients) t.join();
    return ok;
}

// `automatic` with several threads runs epoll, where every thread serves
// any connection, and says why.
TEST(Server, AutomaticRunsEpollWithSeveralThreads) {
    scgi::server_options options;
    options.threads = 2;
    // (The choice under test is automatic's own: not the twins' engine.)
    const char* asked = std::getenv("SCGI_IO_ENGINE");
    const std::string saved = asked ? asked : "";
    ::unsetenv("SCGI_IO_ENGINE");
    running_server s(options);
    if (asked) ::setenv("SCGI_IO_ENGINE", saved.c_str(), 1);
    const auto where = s.listen_unix();
    s.server->start();
    EXPECT_EQ(body_of(round_trip(where, post("/echo", "two threads"))), "two threads");
    EXPECT_TRUE(s.log.contains("io engine: epoll, because with 2 threads it shares every connection among them "
                               "(io_uring gives each thread its own; ask for it to use it)"));
}

// The io_uring engine with several threads: a ring and an io_context per
// thread, each accepting from the shared listeners and serving what it
// accepted. Connections from many clients are spread over the threads
// (each handler notes its thread), every one is answered, and the stop
// ends every thread.
TEST(Server, TheIoUringEngineGivesEachThreadItsOwnRing) {
    scgi::server_options options;
    options.threads = 3;
    options.engine = scgi::io_engine::io_uring;
    std::mutex mutex;
    std::set<std::thread::id> handler_threads;
    running_server s(options, [&](scgi::request& req, scgi::response_writer& res) -> asio::awaitable<void> {
        {
            std::lock_guard lock(mutex);
            handler_threads.insert(std::this_thread::get_id());
        }
        auto [ec, body] = co_await req.read_body(1024);
        EXPECT_FALSE(ec) << ec.message();
        const scgi::response answer = scgi::response::text(200, body);
        const std::error_code sent = co_await res.send(answer);
        EXPECT_FALSE(sent) << sent.message();
    });
    const auto tcp = s.listen_tcp();
    const auto unix_path = s.listen_unix();
    s.server->start();
    EXPECT_EQ(echoes_from_eight_clients(tcp, unix_path, 40), 320);
    s.stop_and_wait();
    EXPECT_TRUE(s.log.contains("io engine: io_uring (server_options::engine), a ring per thread (3 threads)"));
    std::lock_guard lock(mutex);
    EXPECT_GE(handler_threads.size(), 2u) << "every connection was served on one thread";
    EXPECT_LE(handler_threads.size(), 3u);
}

TEST(Server, RefusesBadOptionsAndRunWithoutListening) {
    scgi::server_options options;
    options.threads = 0;
    EXPECT_THROW(scgi::server(test_app{}.handler(), options), std::invalid_argument);
    options = {};
    options.max_connections = 0;
    EXPECT_THROW(scgi::server(test_app{}.handler(), options), std::invalid_argument);
    options = {};
    options.head_timeout = 0ms;
    EXPECT_THROW(scgi::server(test_app{}.handler(), options), std::invalid_argument);
    EXPECT_THROW(scgi::server(scgi::handler{}), std::invalid_argument);
    EXPECT_THROW(scgi::server(scgi::simple_handler{}), std::invalid_argument);
    scgi::server idle(test_app{}.handler());
    EXPECT_THROW(idle.run(), std::logic_error);
}

TEST(Server, SeveralThreadsServeConcurrently) {
    scgi::server_options options;
    options.threads = 4;
    running_server s(options);
    const auto tcp = s.listen_tcp();
    const auto unix_path = s.listen_unix();
    s.server->start();
    EXPECT_EQ(echoes_from_eight_clients(tcp, unix_path, 50), 400);
}

// Handlers on several threads really run at the same time: each of four
// blocks its thread until all four have started (bounded by 10 s). Handed to
// the worker inline on the accepting thread, they would run one by one and
// none would see the others.
//
// On epoll, where every thread serves any connection: with io_uring each
// thread serves the connections its own ring accepted, so a handler that
// blocks its thread holds those up (io_engine::io_uring says so).
TEST(Server, SeveralThreadsRunHandlersInParallel) {
    scgi::server_options options;
    options.threads = 4;
    options.engine = scgi::io_engine::epoll;
    std::atomic<int> started{0};
    std::atomic<int> most_seen{0};
    running_server s(options, [&](scgi::request&, scgi::response_writer& res) -> asio::awaitable<void> {
        ++started;
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (started < 4 && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(1ms);  // blocks this thread on purpose
        }
        int seen = started;
        int previous = most_seen;
        while (seen > previous && !most_seen.compare_exchange_weak(previous, seen)) {
        }
        const scgi::response answer = scgi::response::text(200, "ok");
        const std::error_code sent = co_await res.send(answer);
        EXPECT_FALSE(sent) << sent.message();
    });
    const auto where = s.listen_unix();
    s.server->start();
    std::vector<std::thread> clients;
    std::atomic<int> ok{0};
    for (int i = 0; i < 4; ++i) {
        clients.emplace_back([&] { ok += status_of(round_trip(where, post("/", ""))) == 200; });
    }
    for (auto& t : clients) t.join();
    EXPECT_EQ(ok, 4);
    EXPECT_EQ(most_seen, 4) << "handlers did not run concurrently";
}

// Connections waiting when the server is asked to stop — one accepted and
// waiting for the only slot, the rest still in the kernel's listen queue —
// have connected as far as their clients can tell: all are served (the
// queued ones accepted before the listener closes, not reset by the close)
// and the stop completes with nothing left open.
TEST_P(BothTransports, ConnectionsQueuedInTheKernelAtStopAreServed) {
    scgi::server_options options;
    options.max_connections = 1;
    scgi::server* server = nullptr;
    running_server s(options, [&](scgi::request& req, scgi::response_writer& res) -> asio::awaitable<void> {
        if (req.head().path() == "/first") {
            asio::steady_timer timer(co_await asio::this_coro::executor, 300ms);
            co_await timer.async_wait(asio::use_awaitable);
            server->stop();
        }
        const scgi::response answer = scgi::response::text(200, std::string(req.head().path()));
        const std::error_code sent = co_await res.send(answer);
        EXPECT_FALSE(sent) << sent.message();
    });
    server = s.server.get();
    const auto where = GetParam() ? s.listen_unix() : s.listen_tcp();
    s.server->start();
    std::string first;
    std::thread first_client([&] { first = round_trip(where, post("/first", "")); });
    // The first one holds the only slot before the others come.
    ASSERT_TRUE(eventually([&] { return s.server->active_connections() == 1; }));
    // One more waits in the accept loop for the slot, the rest in the kernel.
    std::vector<std::unique_ptr<peer>> queued;
    for (int i = 0; i < 5; ++i) {
        queued.push_back(std::make_unique<peer>(where));
        ASSERT_TRUE(queued.back()->send(post("/queued-" + std::to_string(i), "")));
    }
    first_client.join();
    EXPECT_EQ(body_of(first), "/first");
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(body_of(queued[static_cast<std::size_t>(i)]->receive_all()), "/queued-" + std::to_string(i));
    }
    s.server->wait();
    EXPECT_EQ(s.server->active_connections(), 0u);
}

// The stop deadline passes while an accepted connection still waits for a
// slot: it is closed unanswered like the ones the deadline cut (no handler
// starts after the deadline), and the stop completes.
TEST_P(OneAndThreeThreads, ConnectionStillWaitingForASlotAtTheStopDeadlineIsClosed) {
    scgi::server_options options = with_threads();
    options.max_connections = 1;
    options.stop_timeout = 200ms;
    running_server s(options);
    s.app.wait_for = 30s;  // /wait holds the only slot past the deadline
    const auto where = s.listen_unix();
    s.server->start();
    const auto wait_accepted = [&](std::size_t n) {
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (s.server->connections_accepted() < n && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(5ms);
        }
        return s.server->connections_accepted();
    };
    std::thread first_client([&] { (void)round_trip(where, post("/wait", "")); });
    ASSERT_EQ(wait_accepted(1), 1u) << "the first connection was not accepted";
    peer second(where);
    ASSERT_TRUE(second.connected());
    ASSERT_EQ(wait_accepted(2), 2u) << "the second connection was not accepted";
    ASSERT_TRUE(second.send(post("/echo", "late")));
    s.server->stop();
    EXPECT_EQ(second.receive_all(), "");
    first_client.join();
    auto waited = std::async(std::launch::async, [&] { s.server->wait(); });
    EXPECT_EQ(waited.wait_for(5s), std::future_status::ready) << "the stop did not complete";
    EXPECT_EQ(s.server->active_connections(), 0u);
    EXPECT_TRUE(s.log.contains("stop deadline passed"));
}

}  // namespace
