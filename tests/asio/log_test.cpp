// The server's log lines, captured through the hook: one line per event the
// README promises, each naming the connection and its peer; the level
// filter; the rate limit and its summary; the bounded queue and its drop
// report; the bounded flush at destruction; the default stderr hook with a
// stderr that takes nothing. Real sockets; short timeouts; every wait bounded.
#include <gtest/gtest.h>

#include "server_harness.hpp"

#include <scgi/asio/log.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;

using scgi::test::eventually;
using scgi::test::peer;
using scgi::test::post;
using scgi::test::request_bytes;
using scgi::test::running_server;
using scgi::test::status_of;

// Short timeouts: each event happens within a fraction of a second.
scgi::server_options quick_options() {
    scgi::server_options options;
    options.head_timeout = 100ms;
    options.body_timeout = 100ms;
    options.write_timeout = 200ms;
    return options;
}

// quick_options() with a rate limit of `lines` per `interval` for each kind.
scgi::server_options rate_limited(unsigned lines, std::chrono::milliseconds interval) {
    scgi::server_options options = quick_options();
    options.log_limits.lines_per_interval = lines;
    options.log_limits.interval = interval;
    return options;
}

std::string all_lines(running_server& s) {
    std::string text;
    for (const auto& line : s.log.all()) text += line + "\n";
    return text;
}

// Stops the server (after which every line has reached the hook) and checks
// that exactly one line contains `text`, that it is about the server's first
// connection and names `who`, and that it has `level`.
void expect_one_line(running_server& s, std::string_view text, const std::string& who,
                     std::string_view level = "warning") {
    ASSERT_TRUE(s.log.contains(text)) << all_lines(s);
    s.server->stop();
    s.server->wait();
    ASSERT_EQ(s.log.count(text), 1u) << all_lines(s);
    for (const auto& line : s.log.all()) {
        if (line.find(text) == std::string::npos) continue;
        EXPECT_EQ(line.rfind(std::string(level) + ": conn=1 peer=" + who + ": ", 0), 0u) << line;
    }
}

std::string tcp_peer(const peer& p) { return "127.0.0.1:" + std::to_string(p.local_port()); }

TEST(Log, HeadTimeoutIsOneLineNamingThePeer) {
    running_server s(quick_options());
    const auto where = s.listen_tcp();
    s.server->start();
    peer p(where);
    ASSERT_TRUE(p.send("100:"));
    EXPECT_EQ(status_of(p.receive_all()), 408);
    expect_one_line(s, "408 Request Timeout: request head did not arrive within the head timeout", tcp_peer(p));
}

// 2 of 10 body bytes, then nothing. A handler that reads gets the timeout
// (and answers 422); a response that waits for the body
// (receive_body_before_response) is replaced by the server's 408.
TEST(Log, BodyTimeoutIsOneLine) {
    struct waiting_body {
        const char* path;
        int status;
        const char* text;
    };
    const waiting_body cases[] = {
        {"/read-then-answer", 422,
         "body timeout: no request body bytes arrived within the body timeout (8 body byte(s) unread)"},
        {"/head-only", 408, "408 Request Timeout: no request body bytes arrived within the body timeout"},
    };
    for (const waiting_body& c : cases) {
        running_server s(quick_options());
        const auto where = s.listen_tcp();
        s.server->start();
        peer p(where);
        const std::string request = post(c.path, "0123456789");
        ASSERT_TRUE(p.send(request.substr(0, request.size() - 8)));
        EXPECT_EQ(status_of(p.receive_all()), c.status) << c.path;
        expect_one_line(s, c.text, tcp_peer(p));
        EXPECT_EQ(s.log.count("timeout"), 1u) << all_lines(s);
    }
}

TEST(Log, WriteTimeoutIsOneLine) {
    // 16 MiB for a peer that reads nothing: more than the socket buffers hold.
    running_server s(quick_options(), [](scgi::request&, scgi::response_writer& res) -> asio::awaitable<void> {
        const scgi::response big = scgi::response::text(200, std::string(std::size_t{16} << 20, 'x'));
        (void)co_await res.send(big);
    });
    const auto where = s.listen_tcp();
    s.server->start();
    peer p(where);
    ASSERT_TRUE(p.send(post("/big", "")));
    expect_one_line(s, "write timeout: write did not complete within the write timeout (", tcp_peer(p));
}

// The server's own refusals before the handler: 400, 431, 413.
TEST(Log, EachRefusedRequestIsOneLine) {
    struct refusal {
        std::string bytes;
        int status;
        std::string text;
    };
    const std::string long_value(200, 'v');
    const refusal refusals[] = {
        {"0:,", 400, "400 Bad Request: "},
        {request_bytes({{"REQUEST_METHOD", "GET"}, {"X_LONG", long_value}}, ""), 431,
         "431 Request Header Fields Too Large: "},
        {post("/echo", "0123456789"), 413, "413 Content Too Large: "},
    };
    for (const refusal& r : refusals) {
        scgi::server_options options = quick_options();
        options.parser.limits.header_block_bytes = 128;
        options.parser.limits.body_bytes = 5;
        running_server s(options);
        const auto where = s.listen_unix();
        s.server->start();
        peer p(where);
        ASSERT_TRUE(p.send(r.bytes));
        EXPECT_EQ(status_of(p.receive_all()), r.status) << r.text;
        expect_one_line(s, r.text, "unix:pid=" + std::to_string(::getpid()) + ",uid=" + std::to_string(::getuid()));
    }
}

// Handler failures: a throw, a return without an answer.
TEST(Log, EachHandlerFailureIsOneErrorLine) {
    const std::pair<const char*, const char*> failures[] = {
        {"/throw", "handler threw on POST /throw: handler failure on purpose"},
        {"/silent", "handler returned without a response on POST /silent"},
    };
    for (const auto& [path, text] : failures) {
        running_server s(quick_options());
        const auto where = s.listen_tcp();
        s.server->start();
        peer p(where);
        ASSERT_TRUE(p.send(post(path, "")));
        EXPECT_EQ(status_of(p.receive_all()), 500);
        expect_one_line(s, text, tcp_peer(p), "error");
    }
}

// A request without REQUEST_METHOD or REQUEST_URI (SCGI requires neither):
// the line names them as empty, with nothing read through a null pointer
// (found by fuzz/server_connection_fuzz; the sanitized build aborted here).
TEST(Log, AFailureOnARequestWithoutMethodOrUriIsOneLine) {
    running_server s(quick_options(), [](scgi::request&, scgi::response_writer&) -> asio::awaitable<void> {
        throw std::runtime_error("no method");
        co_return;
    });
    const auto where = s.listen_tcp();
    s.server->start();
    peer p(where);
    ASSERT_TRUE(p.send(std::string("24:CONTENT_LENGTH\0" "0\0SCGI\0" "1\0,", 28)));
    EXPECT_EQ(status_of(p.receive_all()), 500);
    expect_one_line(s, "handler threw on  : no method", tcp_peer(p), "error");
}

TEST(Log, ConnectionIdsCountTheServersConnections) {
    running_server s(quick_options());
    const auto where = s.listen_tcp();
    s.server->start();
    for (int i = 0; i < 3; ++i) {
        peer p(where);
        ASSERT_TRUE(p.send("0:,"));
        EXPECT_EQ(status_of(p.receive_all()), 400);
    }
    s.server->stop();
    s.server->wait();
    for (const char* id : {"conn=1 ", "conn=2 ", "conn=3 "}) EXPECT_EQ(s.log.count(id), 1u) << all_lines(s);
}

// A line longer than max_log_line_bytes is cut, and says so.
TEST(Log, ALongLineIsCut) {
    running_server s(quick_options(), [](scgi::request&, scgi::response_writer&) -> asio::awaitable<void> {
        throw std::runtime_error(std::string(10000, 'w'));
        co_return;
    });
    const auto where = s.listen_tcp();
    s.server->start();
    peer p(where);
    ASSERT_TRUE(p.send(post("/", "")));
    EXPECT_EQ(status_of(p.receive_all()), 500);
    ASSERT_TRUE(s.log.contains("www..."));
    for (const auto& line : s.log.all()) {
        // The recorder adds "error: " before the message.
        if (line.find("www") != std::string::npos) {
            EXPECT_EQ(line.size(), 7 + scgi::max_log_line_bytes);
        }
    }
}

TEST(Log, TheLevelFilterDropsLessSevereLines) {
    scgi::server_options options = quick_options();
    options.log_level = scgi::log_level::error;
    running_server s(options);
    const auto where = s.listen_tcp();
    s.server->start();
    EXPECT_EQ(status_of(scgi::test::round_trip(where, "0:,")), 400);            // a warning
    EXPECT_EQ(status_of(scgi::test::round_trip(where, post("/throw", ""))), 500);  // an error
    s.server->stop();
    s.server->wait();
    EXPECT_TRUE(s.log.contains_now("handler threw")) << all_lines(s);
    EXPECT_FALSE(s.log.contains_now("400 Bad Request")) << all_lines(s);
    EXPECT_FALSE(s.log.contains_now("listening on")) << all_lines(s);  // info
}

// The number in each "rate limit: N more <kind> line(s)" line, summed.
std::uint64_t summarised(running_server& s, std::string_view kind) {
    const std::string marker = "rate limit: ";
    std::uint64_t total = 0;
    for (const auto& line : s.log.all()) {
        const auto at = line.find(marker);
        if (at == std::string::npos || line.find(" more " + std::string(kind) + " line(s)") == std::string::npos) continue;
        total += std::stoull(line.substr(at + marker.size()));
    }
    return total;
}

// A flood of one kind: the first lines of the interval go out, the rest are
// counted and summed up in one line once the interval is over; then lines
// go out again. Other kinds are not affected.
TEST(Log, AFloodOfOneKindIsSummarised) {
    running_server s(rate_limited(3, 1s));
    const auto where = s.listen_unix();
    s.server->start();
    for (int i = 0; i < 20; ++i) EXPECT_EQ(status_of(scgi::test::round_trip(where, "0:,")), 400);
    EXPECT_EQ(status_of(scgi::test::round_trip(where, post("/throw", ""))), 500);
    ASSERT_TRUE(s.log.contains(" more bad request line(s) in the last ")) << all_lines(s);
    EXPECT_TRUE(s.log.contains_now("(at most 3 per 1.0 s)")) << all_lines(s);
    EXPECT_EQ(s.log.count("handler threw"), 1u) << all_lines(s);
    // The summary came at the end of an interval: the next line goes out.
    const std::size_t before = s.log.count("400 Bad Request");
    EXPECT_EQ(status_of(scgi::test::round_trip(where, "0:,")), 400);
    s.server->stop();
    s.server->wait();
    EXPECT_EQ(s.log.count("400 Bad Request"), before + 1) << all_lines(s);
    // Every one of the 21 bad requests is a line or counted in a summary (a
    // slow machine may have started a second interval during the flood).
    EXPECT_EQ(s.log.count("400 Bad Request") + summarised(s, "bad request"), 21u) << all_lines(s);
    EXPECT_LE(s.log.count("400 Bad Request"), 3u * 2u + 1u) << all_lines(s);
}

// A flood that never pauses: each window opens right as the last one ends,
// and the summary is still given at the end of the window it began in, not
// put off for as long as the flood lasts.
TEST(Log, ASteadyFloodIsSummarisedEveryInterval) {
    running_server s(rate_limited(2, 200ms));
    const auto where = s.listen_unix();
    s.server->start();
    int requests = 0;
    const auto until = std::chrono::steady_clock::now() + 1500ms;
    while (std::chrono::steady_clock::now() < until && requests < 100'000) {
        ASSERT_EQ(status_of(scgi::test::round_trip(where, "0:,")), 400);
        ++requests;
    }
    // Seven windows have ended during the flood; allow a slow machine a few.
    const std::size_t during = s.log.count("rate limit: ");
    EXPECT_GE(during, 3u) << requests << " requests\n" << all_lines(s);
    s.server->stop();
    s.server->wait();
    EXPECT_EQ(s.log.count("400 Bad Request") + summarised(s, "bad request"), static_cast<std::uint64_t>(requests))
        << all_lines(s);
}

// A hook that blocks: serving goes on, lines beyond the queue are dropped,
// and once the hook is back one line says how many.
TEST(Log, ABlockedHookDoesNotStallServingAndDropsAreReported) {
    std::mutex mutex;
    std::condition_variable released_cv;
    bool released = false;
    std::atomic<bool> entered{false};
    scgi::test::log_record log;
    scgi::test::test_app app;
    scgi::test::temp_dir dir;
    scgi::server_options options = quick_options();
    options.handle_signals = false;
    options.log_limits.queue_lines = 4;
    options.log_limits.lines_per_interval = 0;  // no rate limit: every line reaches the queue
    // The recorder behind a gate that holds the first line (at most 10 s).
    options.log = [&, record = log.hook()](scgi::log_level level, std::string_view message) {
        std::unique_lock lock(mutex);
        entered = true;
        released_cv.wait_for(lock, 10s, [&] { return released; });
        lock.unlock();
        record(level, message);
    };
    scgi::server server(app.handler(), options);
    const auto where = server.listen(scgi::endpoint::unix_socket(dir.file("s.sock")));
    server.start();
    ASSERT_TRUE(eventually([&] { return entered.load(); }));  // "io engine: ..." holds the hook
    for (int i = 0; i < 50; ++i) EXPECT_EQ(status_of(scgi::test::round_trip(where, "0:,")), 400);
    {
        std::lock_guard lock(mutex);
        released = true;
    }
    released_cv.notify_all();
    // 4 lines queued behind the held one ("io engine: ..."): "listening
    // on" and three of the 400s; the other 47 dropped.
    EXPECT_TRUE(log.contains("log queue full: 47 line(s) dropped"));
    server.stop();
    server.wait();
    EXPECT_EQ(log.count("400 Bad Request"), 3u);
}

// A log hook that is stuck, not slow: each call waits until the test lets
// it through (`release_one`: one call; `open`: every call from then on), so
// how many lines reach it does not depend on the machine's speed. Each call
// waits at most 30 s, so that a test that fails before releasing it cannot
// hang (a hook must return in bounded time: destruction waits for the call
// in progress).
class gated_hook {
public:
    scgi::log_function hook() {
        return [this](scgi::log_level, std::string_view) {
            std::unique_lock lock(mutex_);
            ++held_;
            changed_.notify_all();
            changed_.wait_for(lock, 30s, [this] { return open_ || permits_ > 0; });
            if (!open_ && permits_ > 0) --permits_;
            --held_;
            ++returned_;
        };
    }
    // Waits (at most `limit`) until a call is held.
    bool wait_held(std::chrono::milliseconds limit) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, limit, [this] { return held_ > 0; });
    }
    void release_one() {
        {
            std::lock_guard lock(mutex_);
            ++permits_;
        }
        changed_.notify_all();
    }
    void open() {
        {
            std::lock_guard lock(mutex_);
            open_ = true;
        }
        changed_.notify_all();
    }
    int returned() {
        std::lock_guard lock(mutex_);
        return returned_;
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    int held_ = 0;
    int permits_ = 0;
    int returned_ = 0;
    bool open_ = false;
};

// Destroying a server waits for its log sink a bounded time: the lines
// still queued after flush_timeout are dropped; only the hook's call in
// progress is waited for. The hook is stuck from the first line on, with 100
// lines queued behind it; the test holds each call it gets well past the
// flush deadline (3 × flush_timeout), then lets that one call through. A
// destruction that gives up on the queue at its deadline returns once the
// call in progress does, after one or two such holds; one that waits for
// the queue without limit would take 100 of them, and does not return
// within 20 × flush_timeout. The bound is far above the deadline(s) plus
// one hold, so a slow machine does not reach it, and far below forever.
TEST(Log, DestructionWaitsForTheSinkABoundedTime) {
    constexpr std::chrono::milliseconds flush_timeout = 100ms;
    constexpr int queued = 100;
    gated_hook gate;
    scgi::server_options options = quick_options();
    options.handle_signals = false;
    options.log_limits.lines_per_interval = 0;  // no rate limit: every line reaches the queue
    options.log_limits.flush_timeout = flush_timeout;
    options.log = gate.hook();
    scgi::test::temp_dir dir;
    auto server = std::make_unique<scgi::server>(scgi::test::test_app{}.handler(), options);
    // Whatever fails below, the hook lets everything through before the
    // server (if still there) is destroyed.
    struct open_on_exit {
        gated_hook& gate;
        ~open_on_exit() { gate.open(); }
    } opener{gate};
    const auto where = server->listen(scgi::endpoint::unix_socket(dir.file("s.sock")));
    server->start();
    ASSERT_TRUE(gate.wait_held(10s));  // "listening on" is stuck in the hook
    for (int i = 0; i < queued; ++i) ASSERT_EQ(status_of(scgi::test::round_trip(where, "0:,")), 400);

    // The destruction on a thread of its own: one that waits for the sink
    // without limit fails the test instead of hanging it.
    std::mutex mutex;
    std::condition_variable destroyed_cv;
    bool destroyed = false;
    const auto started = std::chrono::steady_clock::now();
    std::thread destroyer([&] {
        server.reset();
        {
            std::lock_guard lock(mutex);
            destroyed = true;
        }
        destroyed_cv.notify_all();
    });
    const auto hold = 3 * flush_timeout;
    const auto limit = started + 20 * flush_timeout;
    bool in_time = false;
    int released = 0;
    {
        std::unique_lock lock(mutex);
        for (auto next = started + hold;;) {
            in_time = destroyed_cv.wait_until(lock, std::min(next, limit), [&] { return destroyed; });
            if (in_time || std::chrono::steady_clock::now() >= limit) break;
            gate.release_one();
            ++released;
            next = std::chrono::steady_clock::now() + hold;
        }
    }
    const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - started;
    const int delivered_in_time = gate.returned();
    // Unstick the hook for good, then the destruction ends (at most 30 s
    // more, else the test cannot go on safely: the thread uses its stack).
    gate.open();
    {
        std::unique_lock lock(mutex);
        if (!destroyed_cv.wait_for(lock, 30s, [&] { return destroyed; })) {
            ADD_FAILURE() << "the destruction did not end even with the hook unstuck";
            std::abort();
        }
    }
    destroyer.join();

    EXPECT_TRUE(in_time) << "the destruction did not return within 20 x flush_timeout (" << took.count()
                         << " ms, " << released << " line(s) let through one at a time)";
    // The queued lines were dropped, not handed to the hook once it was unstuck.
    EXPECT_LT(gate.returned(), queued) << delivered_in_time << " line(s) had reached the hook in time";
}

// The default hook with a stderr that takes nothing (a full pipe nobody
// reads): it returns after its bounded wait, counts the line as lost, and
// says so before the next line that goes out.
TEST(Log, StderrThatTakesNothingLosesLinesAndSaysSo) {
    int pipe_ends[2];
    ASSERT_EQ(::pipe2(pipe_ends, O_CLOEXEC | O_NONBLOCK), 0);
    const int saved = ::dup(STDERR_FILENO);
    ASSERT_GE(saved, 0);
    ::dup2(pipe_ends[1], STDERR_FILENO);
    // Fill the pipe.
    const std::string chunk(4096, 'f');
    while (::write(pipe_ends[1], chunk.data(), chunk.size()) > 0) {
    }
    const auto started = std::chrono::steady_clock::now();
    scgi::log_to_stderr(scgi::log_level::warning, "never written");
    const auto took = std::chrono::steady_clock::now() - started;
    // Empty it, then log again.
    char sink[65536];
    while (::read(pipe_ends[0], sink, sizeof sink) > 0) {
    }
    scgi::log_to_stderr(scgi::log_level::info, "written");
    std::string out;
    for (ssize_t n; (n = ::read(pipe_ends[0], sink, sizeof sink)) > 0;) out.append(sink, static_cast<std::size_t>(n));
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);
    ::close(pipe_ends[0]);
    ::close(pipe_ends[1]);
    EXPECT_LT(took, 5s);
    EXPECT_EQ(out, "scgi: warning: stderr was not writable: 1 line(s) lost\nscgi: info: written\n");
}

TEST(Log, BadLimitsAreRefusedByName) {
    const auto refused = [](auto change) -> std::string {
        scgi::server_options options;
        change(options.log_limits);
        try {
            scgi::server s(scgi::test::test_app{}.handler(), options);
        } catch (const std::invalid_argument& e) {
            return e.what();
        }
        return "accepted";
    };
    EXPECT_EQ(refused([](scgi::log_limits& l) { l.queue_lines = 0; }),
              "scgi::server: log_limits.queue_lines must be at least 1");
    EXPECT_EQ(refused([](scgi::log_limits& l) { l.queue_bytes = 0; }),
              "scgi::server: log_limits.queue_bytes must be at least 1");
    EXPECT_EQ(refused([](scgi::log_limits& l) { l.interval = 0ms; }),
              "scgi::server: log_limits.interval must be positive");
    EXPECT_EQ(refused([](scgi::log_limits& l) { l.flush_timeout = -1ms; }),
              "scgi::server: log_limits.flush_timeout must not be negative");
}

}  // namespace
