// Test support for the server's tests: a blocking socket peer with timeouts,
// request and response helpers, a log recorder, the echo-contract test app,
// and a server running on its own threads for one test.
#pragma once

#include <scgi/asio/server.hpp>
#include <scgi/encode_request.hpp>

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <gtest/gtest.h>

#include "temp_dir.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace scgi::test {

// --- a blocking peer with timeouts ---------------------------------------------

class peer {
public:
    explicit peer(const scgi::endpoint& where) {
        if (where.type() == scgi::endpoint::kind::unix_socket) {
            fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_un addr{};
            addr.sun_family = AF_UNIX;
            std::memcpy(addr.sun_path, where.path().c_str(), where.path().size() + 1);
            connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
        } else if (where.host() == "::1") {
            fd_ = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_in6 addr{};
            addr.sin6_family = AF_INET6;
            addr.sin6_port = htons(where.port());
            addr.sin6_addr = in6addr_loopback;
            connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
        } else {  // any other TCP endpoint: the server listens on 127.0.0.1
            fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_in addr{};
            addr.sin_family = AF_INET;
            addr.sin_port = htons(where.port());
            ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
            connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
        }
        timeval tv{10, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    ~peer() { close(); }
    peer(const peer&) = delete;
    peer& operator=(const peer&) = delete;

    bool connected() const { return connected_; }
    int native_handle() const { return fd_; }

    bool send(std::string_view bytes) {
        while (!bytes.empty()) {
            const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    // Everything until the server closes (or 10 s pass without a byte).
    std::string receive_all() {
        int ignored = 0;
        return receive_all(ignored);
    }

    // The same, and how it ended: 0 for a clean close (EOF), else the
    // error of the last recv (ECONNRESET for a reset, EAGAIN for the 10 s).
    std::string receive_all(int& end_errno) {
        std::string out;
        char chunk[65536];
        for (;;) {
            const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
            if (n <= 0) {
                end_errno = n == 0 ? 0 : errno;
                break;
            }
            out.append(chunk, static_cast<std::size_t>(n));
        }
        return out;
    }

    // The local port of a TCP peer (0 for a Unix socket).
    std::uint16_t local_port() const {
        sockaddr_in addr{};
        socklen_t size = sizeof addr;
        if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &size) != 0 || addr.sin_family != AF_INET) return 0;
        return ntohs(addr.sin_port);
    }

    void shutdown_send() { ::shutdown(fd_, SHUT_WR); }

    // True if a byte (or the end) can be received without waiting.
    bool readable() const {
        pollfd p{fd_, POLLIN, 0};
        return ::poll(&p, 1, 0) > 0;
    }
    void shutdown_both() { ::shutdown(fd_, SHUT_RDWR); }

    // Up to `n` bytes (fewer if the server closes first).
    std::string receive(std::size_t n) {
        std::string out(n, '\0');
        std::size_t got = 0;
        while (got < n) {
            const ssize_t r = ::recv(fd_, out.data() + got, n - got, 0);
            if (r <= 0) break;
            got += static_cast<std::size_t>(r);
        }
        out.resize(got);
        return out;
    }

    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
    bool connected_ = false;
};

inline std::string request_bytes(const std::vector<scgi::header>& headers, std::string_view body) {
    std::string out;
    EXPECT_FALSE(scgi::encode_request(headers, body.size(), out));
    out += body;
    return out;
}

inline std::string post(std::string_view uri, std::string_view body) {
    return request_bytes({{"REQUEST_METHOD", "POST"}, {"REQUEST_URI", uri}}, body);
}

inline int status_of(std::string_view response) {
    if (response.substr(0, 8) != "Status: " || response.size() < 11) return 0;
    return std::atoi(std::string(response.substr(8, 3)).c_str());
}

inline std::string body_of(std::string_view response) {
    const auto end = response.find("\r\n\r\n");
    return end == std::string_view::npos ? std::string() : std::string(response.substr(end + 4));
}

// --- a server for one test -------------------------------------------------------

// Log lines, kept for assertions.
struct log_record {
    std::mutex mutex;
    std::vector<std::string> lines;
    scgi::log_function hook() {
        return [this](scgi::log_level level, std::string_view message) {
            std::lock_guard lock(mutex);
            // SCGI_TEST_PRINT_LOG=1 also prints each line as it arrives (for
            // a test that fails with the server's side of the story unseen).
            if (std::getenv("SCGI_TEST_PRINT_LOG")) {
                std::fprintf(stderr, "LOG %.*s\n", static_cast<int>(message.size()), message.data());
            }
            lines.push_back(std::string(scgi::to_string(level)) + ": " + std::string(message));
        };
    }
    // True once a line containing `text` has arrived. The server hands its
    // lines to the hook from its log thread, a little after the event: this
    // waits for one for at most 5 s.
    bool contains(std::string_view text) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (!contains_now(text) && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        return contains_now(text);
    }
    // True if a line containing `text` has arrived already (for asserting
    // that one did not, once the server has flushed its lines: after wait()).
    bool contains_now(std::string_view text) {
        std::lock_guard lock(mutex);
        for (const auto& line : lines) {
            if (line.find(text) != std::string::npos) return true;
        }
        return false;
    }
    // How many lines contain `text`, now.
    std::size_t count(std::string_view text) {
        std::lock_guard lock(mutex);
        std::size_t n = 0;
        for (const auto& line : lines) {
            if (line.find(text) != std::string::npos) ++n;
        }
        return n;
    }
    std::vector<std::string> all() {
        std::lock_guard lock(mutex);
        return lines;
    }
};


// The echo contract's /echo, streaming; /throw throws; /silent answers nothing;
// /wait sleeps `wait_for` before answering; /answer-first answers, then reads
// the body and records it and how the reading ended; /head-only writes only
// a head and returns; /read-then-answer reads the body (recording each
// piece's size as it comes), then answers 200 "read N" or 422 with the read's
// error; /discard drops the body and answers 403. Every response write that
// fails is recorded (`errors_written`).
struct test_app {
    std::chrono::milliseconds wait_for{0};
    std::mutex mutex;
    std::vector<std::string> bodies_read_after_answer;  // by /answer-first
    std::vector<std::error_code> read_errors;           // how each of those reads ended
    std::vector<std::error_code> write_errors;          // every failed response write
    std::vector<std::size_t> pieces_read;               // by /read-then-answer: each piece's size
    std::atomic<std::uint64_t> bytes_read{0};           // by /read-then-answer, so far

    std::vector<std::size_t> pieces() {
        std::lock_guard lock(mutex);
        return pieces_read;
    }

    std::vector<std::error_code> errors_written() {
        std::lock_guard lock(mutex);
        return write_errors;
    }

    // Records a failed response write.
    void note_write(std::error_code ec) {
        if (!ec) return;
        std::lock_guard lock(mutex);
        write_errors.push_back(ec);
    }

    std::vector<std::string> bodies_read() {
        std::lock_guard lock(mutex);
        return bodies_read_after_answer;
    }
    std::vector<std::error_code> errors_read() {
        std::lock_guard lock(mutex);
        return read_errors;
    }

    scgi::handler handler() {
        return [this](scgi::request& req, scgi::response_writer& res) -> asio::awaitable<void> {
            const std::string_view path = req.head().path();
            if (path == "/throw") throw std::runtime_error("handler failure on purpose");
            if (path == "/throw-after-head") {
                res.write_head(scgi::response_head{});
                throw std::runtime_error("handler failure after the head");
            }
            if (path == "/throw-after-body") {
                res.write_head(scgi::response_head{});
                const std::error_code written = co_await res.write("partial");
                note_write(written);
                throw std::runtime_error("handler failure mid-body");
            }
            if (path == "/silent") co_return;
            if (path == "/head-only") {
                // Only a head, left for the server to send; the body unread.
                res.write_head(scgi::response_head{});
                co_return;
            }
            if (path == "/answer-first") {
                // The whole answer before any body byte is read; the body after.
                const scgi::response answer = scgi::response::text(200, "answered first");
                const std::error_code sent = co_await res.send(answer);
                note_write(sent);
                std::string body;
                std::error_code ended;
                for (;;) {
                    auto [ec, piece] = co_await req.read_body_some();
                    ended = ec;
                    if (ec || piece.empty()) break;
                    body += piece;
                }
                std::lock_guard lock(mutex);
                bodies_read_after_answer.push_back(std::move(body));
                read_errors.push_back(ended);
                co_return;
            }
            if (path == "/read-then-answer") {
                // Reads until the body ends or fails, then answers with what happened.
                std::uint64_t bytes = 0;
                std::error_code ended;
                for (;;) {
                    auto [ec, piece] = co_await req.read_body_some();
                    ended = ec;
                    if (ec || piece.empty()) break;
                    bytes += piece.size();
                    {
                        std::lock_guard lock(mutex);
                        pieces_read.push_back(piece.size());
                    }
                    bytes_read += piece.size();
                }
                const scgi::response answer = ended ? scgi::response::text(422, ended.message())
                                                    : scgi::response::text(200, "read " + std::to_string(bytes));
                const std::error_code sent = co_await res.send(answer);
                note_write(sent);
                co_return;
            }
            if (path == "/discard") {
                const std::error_code ec = co_await req.discard_body();
                // Named, not a temporary in the co_await: g++ 12 may destroy
                // such a temporary twice.
                const scgi::response refusal = scgi::response::text(
                    403, ec ? ec.message() : "refused; unread " + std::to_string(req.body_remaining()));
                const std::error_code sent = co_await res.send(refusal);
                note_write(sent);
                co_return;
            }
            if (path == "/wait") {
                asio::steady_timer timer(co_await asio::this_coro::executor, wait_for);
                co_await timer.async_wait(asio::use_awaitable);
            }
            scgi::response_head head;
            head.add("Content-Type", "application/octet-stream");
            head.add_content_length(req.content_length());
            res.write_head(head);
            for (;;) {
                auto [ec, piece] = co_await req.read_body_some();
                if (ec || piece.empty()) break;
                const std::error_code written = co_await res.write(piece);
                if (written) {
                    note_write(written);
                    co_return;
                }
            }
            const std::error_code finished = co_await res.finish();
            note_write(finished);
        };
    }
};

struct running_server {
    explicit running_server(scgi::server_options options = {}, scgi::handler h = {}) {
        options.handle_signals = false;
        options.log = log.hook();
        if (!h) h = app.handler();
        server = std::make_unique<scgi::server>(std::move(h), std::move(options));
    }
    ~running_server() {
        server->stop();
        server->wait();
    }
    // Stops the server and waits for it, so that every line it logged has
    // reached `log` (the log thread hands them over a little after the
    // event): for asserting exact counts, or that a line never came.
    void stop_and_wait() {
        server->stop();
        server->wait();
    }
    scgi::endpoint listen_tcp() { return server->listen(scgi::endpoint::parse("127.0.0.1:0")); }
    scgi::endpoint listen_unix() { return server->listen(scgi::endpoint::unix_socket(dir.file("s.sock"))); }

    test_app app;
    log_record log;
    temp_dir dir;
    std::unique_ptr<scgi::server> server;
};

// Sends from another thread while receiving: the server streams its answer
// while it reads, so sending everything first could fill both directions'
// socket buffers and stall.
inline std::string round_trip(const scgi::endpoint& where, std::string_view bytes) {
    peer p(where);
    EXPECT_TRUE(p.connected());
    bool sent = false;
    std::thread sender([&] { sent = p.send(bytes); });
    std::string response = p.receive_all();
    sender.join();
    EXPECT_TRUE(sent);
    return response;
}

// Polls `condition` every 10 ms for at most `limit`.
template <class Condition>
bool eventually(Condition condition, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return condition();
}

}  // namespace scgi::test
