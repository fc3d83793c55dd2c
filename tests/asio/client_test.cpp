// scgi::client against scgi::server over real sockets: TCP on 127.0.0.1 and
// Unix sockets in a fresh temporary directory. Every io_context runs for a
// bounded time; nothing waits by sleeping.
#include <scgi/asio/client.hpp>
#include <scgi/asio/server.hpp>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>

#include <gtest/gtest.h>

#include "run_until.hpp"

#include "server_harness.hpp"

#include <chrono>
#include <cstring>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;
using namespace scgi::test;
using call_result = std::tuple<std::error_code, int, std::string>;

constexpr auto as_tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

const std::vector<scgi::header> get_headers{{"REQUEST_METHOD", "GET"}, {"REQUEST_URI", "/"}};

std::vector<scgi::header> post_headers(std::string_view uri) { return {{"REQUEST_METHOD", "POST"}, {"REQUEST_URI", uri}}; }

// One async_call with a callback, on its own io_context.
call_result call(const scgi::endpoint& where, std::span<const scgi::header> headers, std::string_view body,
                 scgi::client_options options = {}, std::size_t limit = 1 << 20) {
    asio::io_context io;
    scgi::client c(io.get_executor(), where, options);
    call_result result;
    bool done = false;
    c.async_call(headers, body, limit, [&](std::error_code ec, int status, std::string bytes) {
        result = {ec, status, std::move(bytes)};
        done = true;
    });
    run_until(io, done);
    return result;
}

// Runs `io` for at most 10 s, then the future's value (its exception if the
// operation failed).
template <class T>
T get_within(asio::io_context& io, std::future<T>& result) {
    io.restart();
    io.run_for(10s);
    if (result.wait_for(0s) != std::future_status::ready) throw std::runtime_error("not done within 10 s");
    return result.get();
}

std::string pattern(std::size_t size) {
    std::string bytes(size, '\0');
    for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>(i * 7 + 3);
    return bytes;
}

// A server with `handler` whose stop cuts what still runs after 100 ms.
struct quick_server : running_server {
    explicit quick_server(scgi::handler h, scgi::server_options options = {})
        : running_server(with_quick_stop(options), std::move(h)) {}
    static scgi::server_options with_quick_stop(scgi::server_options options) {
        options.stop_timeout = 100ms;
        return options;
    }
};

// Waits `for_how_long` (until the server's stop cancels it).
asio::awaitable<void> idle(std::chrono::milliseconds for_how_long) {
    asio::steady_timer timer(co_await asio::this_coro::executor, for_how_long);
    auto [ignored] = co_await timer.async_wait(as_tuple_awaitable);
    (void)ignored;
}

// Reads the whole body; its size.
asio::awaitable<std::uint64_t> drain_body(scgi::request& req) {
    std::uint64_t read = 0;
    for (;;) {
        auto [ec, piece] = co_await req.read_body_some();
        if (ec || piece.empty()) break;
        read += piece.size();
    }
    co_return read;
}

class ClientBothTransports : public ::testing::TestWithParam<bool> {
protected:
    scgi::endpoint listen(running_server& s) { return GetParam() ? s.listen_unix() : s.listen_tcp(); }
};

// --- tokens ------------------------------------------------------------------------

TEST_P(ClientBothTransports, CallWithACallback) {
    running_server s;
    const auto where = listen(s);
    s.server->start();
    const std::string body = pattern(100000);
    const auto [ec, status, echoed] = call(where, post_headers("/echo"), body);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(status, 200);
    EXPECT_TRUE(echoed == body) << echoed.size() << " bytes back";
}

TEST_P(ClientBothTransports, StepByStepWithFutures) {
    running_server s;
    const auto where = listen(s);
    s.server->start();
    asio::io_context io;
    scgi::client c(io.get_executor(), where);
    // use_future: an error would be the future's exception.
    std::future<void> written = c.async_write_request(post_headers("/echo"), 4, "ping", asio::use_future);
    get_within(io, written);
    std::future<void> head = c.async_read_response_head(asio::use_future);
    get_within(io, head);
    EXPECT_EQ(c.head().status(), 200);
    std::future<std::string> body = c.async_read_body(1024, asio::use_future);
    EXPECT_EQ(get_within(io, body), "ping");
}

TEST_P(ClientBothTransports, StepByStepInACoroutine) {
    running_server s;
    const auto where = listen(s);
    s.server->start();
    asio::io_context io;
    // use_awaitable throws on an error; none is expected here.
    auto outcome = asio::co_spawn(
        io,
        [&]() -> asio::awaitable<std::tuple<int, std::string>> {
            scgi::client c(co_await asio::this_coro::executor, where);
            co_await c.async_write_request(post_headers("/echo"), 11, "hello", asio::use_awaitable);
            co_await c.async_write_body(" world", asio::use_awaitable);
            co_await c.async_read_response_head(asio::use_awaitable);
            std::string body;
            for (;;) {
                const std::string_view piece = co_await c.async_read_body_some(asio::use_awaitable);
                if (piece.empty()) break;
                body += piece;
            }
            co_return std::tuple<int, std::string>{c.head().status(), body};
        },
        asio::use_future);
    const auto [status, body] = get_within(io, outcome);
    EXPECT_EQ(status, 200);
    EXPECT_EQ(body, "hello world");
}

TEST(Client, ErrorsAsValuesInACoroutine) {
    running_server s;
    const auto where = s.listen_tcp();
    s.server->start();
    asio::io_context io;
    auto outcome = asio::co_spawn(
        io,
        [&]() -> asio::awaitable<std::tuple<call_result, call_result, std::error_code>> {
            scgi::client nobody(co_await asio::this_coro::executor, scgi::endpoint::unix_socket("/nonexistent/x.sock"));
            auto refused = co_await nobody.async_call(post_headers("/echo"), "", 10, as_tuple_awaitable);
            scgi::client small(co_await asio::this_coro::executor, where);
            auto too_large = co_await small.async_call(post_headers("/echo"), "0123456789ABC", 10, as_tuple_awaitable);
            // A client that failed keeps reporting its failure.
            auto [again] = co_await small.async_read_response_head(as_tuple_awaitable);
            co_return std::tuple{refused, too_large, again};
        },
        asio::use_future);
    const auto [refused, too_large, again] = get_within(io, outcome);
    // A system error from connect (Asio's system category): no such socket file.
    EXPECT_EQ(std::get<0>(refused).value(), ENOENT) << std::get<0>(refused).message();
    EXPECT_EQ(std::get<0>(refused).message(), std::strerror(ENOENT));
    EXPECT_EQ(std::get<0>(too_large), scgi::error::body_too_large);
    EXPECT_EQ(again, scgi::error::body_too_large);
}

TEST(Client, BadHeadersAreRefusedBeforeConnecting) {
    // Nobody listens there: an encoder error must come first, without I/O.
    temp_dir dir;
    const std::vector<scgi::header> bad{{"REQUEST_METHOD", "GET"}, {std::string_view("X\0Y", 3), "1"}};
    const auto [ec, status, body] = call(scgi::endpoint::unix_socket(dir.file("nobody.sock")), bad, "");
    EXPECT_EQ(ec, scgi::error::nul_in_name) << ec.message();
    EXPECT_EQ(ec, scgi::condition::invalid_argument);
}

// --- full duplex: async_call reads while it writes --------------------------------------

// More than the socket buffers hold in either direction (TCP loopback here:
// up to 4 MiB of send buffer plus the receiver's window).
constexpr std::size_t big = 8 * 1024 * 1024;

scgi::server_options full_duplex() {
    scgi::server_options options;
    options.receive_body_before_response = false;  // the handler streams before it reads
    options.write_timeout = 5s;
    return options;
}

// The answer first (`big` bytes, the body unread), then the body, then how
// much of it came.
scgi::handler streams_before_reading() {
    return [](scgi::request& req, scgi::response_writer& res) -> asio::awaitable<void> {
        res.write_head(scgi::response_head{});
        const std::string chunk(64 * 1024, 'r');
        for (std::size_t sent = 0; sent < big; sent += chunk.size()) {
            const std::error_code ec = co_await res.write(chunk);
            if (ec) co_return;
        }
        const std::uint64_t read = co_await drain_body(req);
        const std::string tail = "|read " + std::to_string(read);
        const std::error_code written = co_await res.write(tail);
        EXPECT_FALSE(written) << written.message();
    };
}

TEST_P(ClientBothTransports, CallReadsTheResponseWhileItWritesTheBody) {
    // call() used to write the whole body before reading: both sides then
    // wait for the other to read, until the write timeout.
    quick_server s(streams_before_reading(), full_duplex());
    const auto where = listen(s);
    s.server->start();
    scgi::client_options options;
    options.write_timeout = 3s;
    const auto [ec, status, body] = call(where, post_headers("/"), std::string(big, 'b'), options, 2 * big);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(status, 200);
    EXPECT_EQ(body.size(), big + std::string("|read ").size() + std::to_string(big).size());
    EXPECT_TRUE(body.ends_with("|read " + std::to_string(big))) << body.substr(body.size() - 20);
}

TEST_P(ClientBothTransports, CallOfAServerThatReadsEverythingFirst) {
    running_server s;
    const auto where = listen(s);
    s.server->start();
    const auto [ec, status, body] = call(where, post_headers("/read-then-answer"), std::string(big, 'b'));
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(status, 200);
    EXPECT_EQ(body, "read " + std::to_string(big));
}

TEST_P(ClientBothTransports, AWholeAnswerWinsOverTheBodyTheServerDidNotRead) {
    // The server answers 413 at once and closes without reading the body:
    // the write then fails (EPIPE or ECONNRESET), the response is still
    // the result. call() used to report the write's error.
    quick_server s(
        [](scgi::request&, scgi::response_writer& res) -> asio::awaitable<void> {
            const scgi::response refusal = scgi::response::text(413, "too large");
            const std::error_code sent = co_await res.send(refusal);
            EXPECT_FALSE(sent) << sent.message();
        },
        full_duplex());
    const auto where = listen(s);
    s.server->start();
    const auto [ec, status, body] = call(where, post_headers("/"), std::string(big, 'b'));
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(status, 413);
    EXPECT_EQ(body, "too large");
}

// A backend that answers in full and closes with the request unread: on a
// Unix socket the client's read then meets a reset (ECONNRESET) where the end
// of input would be, every time (the test above meets it only when the close
// wins the race with the body's write). With the whole Content-Length
// received that is the answer; short of it, or with no Content-Length to
// tell, it is connection_reset.
TEST(Client, AResetAfterTheWholeDeclaredBodyEndsTheBody) {
    struct answer_case {
        std::string response;
        bool whole;
    };
    const std::vector<answer_case> cases{
        {"Status: 413 Content Too Large\r\nContent-Length: 9\r\n\r\ntoo large", true},
        {"Status: 413 Content Too Large\r\nContent-Length: 20\r\n\r\ntoo large", false},
        {"Status: 413 Content Too Large\r\n\r\ntoo large", false},
    };
    temp_dir dir;
    const std::string path = dir.file("raw.sock");
    const int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(listener, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    ASSERT_EQ(::bind(listener, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
    ASSERT_EQ(::listen(listener, 4), 0);
    for (const answer_case& each : cases) {
        // The backend: waits for the request, answers without reading it, closes.
        std::thread backend([&] {
            const int fd = ::accept(listener, nullptr, nullptr);
            if (fd < 0) return;
            pollfd readable{fd, POLLIN, 0};
            (void)::poll(&readable, 1, 5000);
            (void)::send(fd, each.response.data(), each.response.size(), MSG_NOSIGNAL);
            ::close(fd);
        });
        const auto [ec, status, body] = call(scgi::endpoint::unix_socket(path), post_headers("/"), "a body never read");
        backend.join();
        if (each.whole) {
            EXPECT_FALSE(ec) << ec.message() << " for " << each.response;
            EXPECT_EQ(status, 413);
            EXPECT_EQ(body, "too large");
        } else {
            EXPECT_EQ(ec, asio::error::connection_reset) << ec.message() << " for " << each.response;
        }
    }
    ::close(listener);
}

TEST_P(ClientBothTransports, AServerThatNeitherReadsNorAnswersIsAWriteTimeout) {
    quick_server s([](scgi::request&, scgi::response_writer&) -> asio::awaitable<void> { co_await idle(10s); },
                   full_duplex());
    const auto where = listen(s);
    s.server->start();
    scgi::client_options options;
    options.write_timeout = 300ms;
    const auto started = std::chrono::steady_clock::now();
    const auto [ec, status, body] = call(where, post_headers("/"), std::string(big, 'b'), options);
    EXPECT_EQ(ec, scgi::error::write_timeout) << ec.message();
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

INSTANTIATE_TEST_SUITE_P(Client, ClientBothTransports, ::testing::Bool(),
                         [](const auto& param_info) { return param_info.param ? "unix" : "tcp"; });

// --- timeouts --------------------------------------------------------------------------

// A TCP listener on 127.0.0.1 whose accept queue is full (backlog 0 and one
// connection nobody accepts): the kernel drops further SYNs, so a connect
// hangs until the client gives up.
class full_listener {
public:
    full_listener() {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
        socklen_t size = sizeof addr;
        if (::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), size) != 0 || ::listen(fd_, 0) != 0 ||
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &size) != 0) {
            throw std::runtime_error("full_listener: cannot listen");
        }
        port_ = ntohs(addr.sin_port);
        filler_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        timeval tv{5, 0};
        ::setsockopt(filler_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (::connect(filler_, reinterpret_cast<const sockaddr*>(&addr), size) != 0) {
            throw std::runtime_error("full_listener: the filler did not connect");
        }
    }
    ~full_listener() {
        ::close(filler_);
        ::close(fd_);
    }
    full_listener(const full_listener&) = delete;
    full_listener& operator=(const full_listener&) = delete;

    scgi::endpoint where() const { return scgi::endpoint::parse("127.0.0.1:" + std::to_string(port_)); }

private:
    int fd_ = -1;
    int filler_ = -1;
    std::uint16_t port_ = 0;
};

TEST(Client, ConnectTimeout) {
    full_listener full;
    scgi::client_options options;
    options.connect_timeout = 200ms;
    const auto started = std::chrono::steady_clock::now();
    const auto [ec, status, body] = call(full.where(), get_headers, "", options);
    const auto took = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(ec, scgi::error::connect_timeout) << ec.message();
    EXPECT_EQ(ec, scgi::condition::timed_out);
    EXPECT_EQ(ec.message(), "connection was not established within the connect timeout");
    EXPECT_GE(took, 200ms);
    EXPECT_LT(took, 3s);
}

// Reads the body, then never answers.
scgi::handler reads_and_never_answers() {
    return [](scgi::request& req, scgi::response_writer&) -> asio::awaitable<void> {
        (void)co_await drain_body(req);
        co_await idle(10s);
    };
}

TEST(Client, ResponseHeadTimeoutIsItsOwnError) {
    quick_server s(reads_and_never_answers());
    const auto unix_where = s.listen_unix();
    const auto where = s.listen_tcp();
    s.server->start();
    scgi::client_options options;
    options.response_head_timeout = 200ms;
    options.body_timeout = 10s;  // must not be the one that fires
    const auto started = std::chrono::steady_clock::now();
    const auto [ec, status, body] = call(unix_where, post_headers("/"), "question", options);
    EXPECT_EQ(ec, scgi::error::response_head_timeout) << ec.message();
    EXPECT_NE(ec, scgi::error::body_timeout);
    EXPECT_EQ(ec, scgi::condition::timed_out);
    EXPECT_NE(ec.message().find("response head"), std::string::npos) << ec.message();
    EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);

    // Step by step.
    asio::io_context io;
    scgi::client c(io.get_executor(), where, options);
    std::error_code write_ec;
    std::error_code head_ec;
    bool done = false;
    c.async_write_request(post_headers("/"), 0, "", [&](std::error_code written) {
        write_ec = written;
        c.async_read_response_head([&](std::error_code read) {
            head_ec = read;
            done = true;
        });
    });
    run_until(io, done);
    EXPECT_FALSE(write_ec) << write_ec.message();
    EXPECT_EQ(head_ec, scgi::error::response_head_timeout) << head_ec.message();
}

TEST(Client, BodyTimeoutAfterTheHead) {
    quick_server s([](scgi::request&, scgi::response_writer& res) -> asio::awaitable<void> {
        res.write_head(scgi::response_head{});
        const std::error_code ec = co_await res.write("partial");
        if (!ec) co_await idle(10s);
    });
    const auto where = s.listen_unix();
    s.server->start();
    scgi::client_options options;
    options.response_head_timeout = 10s;
    options.body_timeout = 200ms;
    const auto [ec, status, body] = call(where, get_headers, "", options);
    EXPECT_EQ(ec, scgi::error::response_body_timeout) << ec.message();
    EXPECT_EQ(ec, scgi::condition::timed_out);
    EXPECT_NE(ec.message().find("response body"), std::string::npos) << ec.message();

    // Step by step: the head and the first bytes arrive, then the wait times out.
    asio::io_context io;
    scgi::client c(io.get_executor(), where, options);
    std::vector<std::error_code> errors;
    std::string received;
    bool done = false;
    std::function<void(std::error_code, std::string_view)> on_piece = [&](std::error_code e, std::string_view piece) {
        errors.push_back(e);
        received += piece;
        if (e || piece.empty()) {
            done = true;
            return;
        }
        c.async_read_body_some(on_piece);
    };
    c.async_write_request(get_headers, 0, "", [&](std::error_code e) {
        errors.push_back(e);
        c.async_read_response_head([&](std::error_code e2) {
            errors.push_back(e2);
            c.async_read_body_some(on_piece);
        });
    });
    run_until(io, done);
    ASSERT_EQ(errors.size(), 4u);
    EXPECT_FALSE(errors[0]) << errors[0].message();
    EXPECT_FALSE(errors[1]) << errors[1].message();
    EXPECT_FALSE(errors[2]) << errors[2].message();
    EXPECT_EQ(errors[3], scgi::error::response_body_timeout) << errors[3].message();
    EXPECT_EQ(received, "partial");
}

// --- per-operation cancellation -------------------------------------------------------

class ClientCancellation : public ::testing::TestWithParam<asio::cancellation_type> {};

TEST_P(ClientCancellation, AReadCompletesAbortedAtOnce) {
    quick_server s(reads_and_never_answers());
    const auto where = s.listen_tcp();
    s.server->start();
    asio::io_context io;
    scgi::client c(io.get_executor(), where);  // default timeouts: 30 s
    asio::cancellation_signal cancel;
    std::error_code head_ec;
    std::error_code after_ec;
    bool done = false;
    std::chrono::steady_clock::time_point emitted;
    std::chrono::steady_clock::duration took{};
    c.async_write_request(get_headers, 0, "", [&](std::error_code ec) {
        ASSERT_FALSE(ec) << ec.message();
        c.async_read_response_head(asio::bind_cancellation_slot(cancel.slot(), [&](std::error_code ec2) {
            took = std::chrono::steady_clock::now() - emitted;
            head_ec = ec2;
            c.async_read_body_some([&](std::error_code ec3, std::string_view) {
                after_ec = ec3;
                done = true;
            });
        }));
        asio::post(io, [&] {
            emitted = std::chrono::steady_clock::now();
            cancel.emit(GetParam());
        });
    });
    run_until(io, done);
    EXPECT_EQ(head_ec, asio::error::operation_aborted) << head_ec.message();
    EXPECT_LT(took, 1s);
    EXPECT_EQ(after_ec, asio::error::operation_aborted) << "a cancelled client is done";
}

TEST_P(ClientCancellation, ACallCompletesAbortedAtOnce) {
    // While the call waits for the head, and while it connects.
    quick_server s(reads_and_never_answers());
    const auto where = s.listen_unix();
    s.server->start();
    full_listener full;
    for (const scgi::endpoint& target : {where, full.where()}) {
        asio::io_context io;
        scgi::client c(io.get_executor(), target);
        asio::cancellation_signal cancel;
        std::error_code call_ec;
        bool done = false;
        const auto started = std::chrono::steady_clock::now();
        c.async_call(get_headers, "", 1024,
                     asio::bind_cancellation_slot(cancel.slot(), [&](std::error_code ec, int, std::string) {
                         call_ec = ec;
                         done = true;
                     }));
        asio::steady_timer later(io, 100ms);
        later.async_wait([&](std::error_code) { cancel.emit(GetParam()); });
        run_until(io, done);
        EXPECT_EQ(call_ec, asio::error::operation_aborted) << target.to_string() << ": " << call_ec.message();
        EXPECT_LT(std::chrono::steady_clock::now() - started, 2s) << target.to_string();
    }
}

INSTANTIATE_TEST_SUITE_P(Client, ClientCancellation,
                         ::testing::Values(asio::cancellation_type::terminal, asio::cancellation_type::partial),
                         [](const auto& param_info) {
                             return param_info.param == asio::cancellation_type::terminal ? "terminal" : "partial";
                         });

}  // namespace
