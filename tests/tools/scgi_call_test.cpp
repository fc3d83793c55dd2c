// scgi-call (SCGI_CALL_BINARY) run as a process against the `echo` example
// (SCGI_ECHO_BINARY) and against scripted backends in this process that
// misbehave on purpose, over TCP on 127.0.0.1 and Unix sockets. Every wait
// is bounded; every process started is killed at the end of its test.
#include <gtest/gtest.h>

#include "child_process.hpp"
#include "echo_process.hpp"
#include "send_all.hpp"
#include "temp_dir.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <string_view>
#include <thread>
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
using scgi::test::child_options;
using scgi::test::child_process;
using scgi::test::child_result;
using scgi::test::echo_process;
using scgi::test::send_all;
using scgi::test::temp_dir;

// scgi-call's exit statuses (tools/scgi-call/exit_status.hpp; they are its
// documented interface, so the test spells them out).
constexpr int exit_usage = 2;
constexpr int exit_connect = 7;
constexpr int exit_bad_response = 8;
constexpr int exit_length_mismatch = 18;
constexpr int exit_http_error = 22;
constexpr int exit_write_error = 23;
constexpr int exit_read_error = 26;
constexpr int exit_timeout = 28;
constexpr int exit_empty_reply = 52;

// Where scgi-call's stdin and stdout go, if not /dev/null and a pipe.
struct wiring {
    int stdin_fd = -1;
    int stdout_fd = -1;
    std::string tmpdir;  // $TMPDIR for its spool
};

child_options call_options(std::vector<std::string> args, const wiring& w = {}) {
    child_options o;
    o.argv.push_back(SCGI_CALL_BINARY);
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.stdin_fd = w.stdin_fd;
    o.stdout_fd = w.stdout_fd;
    if (!w.tmpdir.empty()) {
        o.in_child = [dir = w.tmpdir] { ::setenv("TMPDIR", dir.c_str(), 1); };
    }
    return o;
}

// Runs scgi-call to its end (at most 120 s).
child_result call(std::vector<std::string> args, const wiring& w = {}) {
    child_process process(call_options(std::move(args), w));
    return process.finish(120s);
}

// The byte at `offset` of the test pattern: every byte value, NUL included,
// and not periodic in any small power of two.
char pattern_at(std::uint64_t offset) { return static_cast<char>((offset * 7 + offset / 251) % 256); }

void write_pattern(const std::string& path, std::uint64_t size) {
    std::ofstream out(path, std::ios::binary);
    std::string chunk(1 << 20, '\0');
    for (std::uint64_t at = 0; at < size; at += chunk.size()) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), size - at));
        for (std::size_t i = 0; i < n; ++i) chunk[i] = pattern_at(at + i);
        out.write(chunk.data(), static_cast<std::streamsize>(n));
    }
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// True if the file at `path` is the pattern of `size` bytes.
bool is_pattern(const std::string& path, std::uint64_t size) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> chunk(1 << 20);
    std::uint64_t at = 0;
    while (in) {
        in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        const auto n = static_cast<std::size_t>(in.gcount());
        for (std::size_t i = 0; i < n; ++i) {
            if (chunk[i] != pattern_at(at + i)) return false;
        }
        at += n;
    }
    return at == size;
}

int open_for_writing(const std::string& path) {
    return ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
}

// --- backends that misbehave on purpose -------------------------------------

// Reads an SCGI request head (`LEN:` + LEN bytes + `,`) from `fd`: what a
// server reads before it answers. Empty if it does not come within 10 s.
std::string read_request_head(int fd) {
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string head;
    char c = 0;
    while (head.find(':') == std::string::npos) {
        if (::recv(fd, &c, 1, 0) != 1) return {};
        head += c;
    }
    const std::size_t total = head.size() + std::stoul(head) + 1;
    while (head.size() < total) {
        if (::recv(fd, &c, 1, 0) != 1) return {};
        head += c;
    }
    return head;
}

// Polls `flag` for at most `limit`.
bool wait_for(const std::atomic<bool>& flag, std::chrono::milliseconds limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!flag && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
    return flag;
}

// A server on 127.0.0.1 or a Unix socket that runs `script` on each
// connection it accepts (one at a time), then closes it.
class scripted_backend {
public:
    using script = std::function<void(int fd)>;

    scripted_backend(bool unix_socket, const temp_dir& dir, script s) : script_(std::move(s)) {
        if (unix_socket) {
            const std::string path = dir.file("backend.sock");
            listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_un addr{};
            addr.sun_family = AF_UNIX;
            std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
            if (::bind(listener_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
                throw std::runtime_error("bind");
            }
            endpoint_ = "unix:" + path;
        } else {
            listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_in addr{};
            addr.sin_family = AF_INET;
            ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
            socklen_t size = sizeof addr;
            if (::bind(listener_, reinterpret_cast<const sockaddr*>(&addr), size) != 0 ||
                ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &size) != 0) {
                throw std::runtime_error("bind");
            }
            endpoint_ = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
        }
        if (::listen(listener_, 16) != 0) throw std::runtime_error("listen");
        thread_ = std::thread([this] { serve(); });
    }

    ~scripted_backend() {
        stop_ = true;
        thread_.join();
        ::close(listener_);
    }

    scripted_backend(const scripted_backend&) = delete;
    scripted_backend& operator=(const scripted_backend&) = delete;

    const std::string& endpoint() const { return endpoint_; }
    int connections() const { return connections_; }

private:
    void serve() {
        while (!stop_) {
            pollfd p{listener_, POLLIN, 0};
            if (::poll(&p, 1, 20) <= 0) continue;
            const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) continue;
            ++connections_;
            script_(fd);
            ::close(fd);
        }
    }

    script script_;
    int listener_ = -1;
    std::string endpoint_;
    std::atomic<bool> stop_{false};
    std::atomic<int> connections_{0};
    std::thread thread_;
};

// A response in the CGI form.
constexpr std::string_view ok_head = "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n";

// --- against echo, over both transports -------------------------------------

class ScgiCall : public ::testing::TestWithParam<bool> {
protected:
    void SetUp() override {
        echo_ = std::make_unique<echo_process>(unix_socket() ? "unix:" + dir_.file("echo.sock") : "127.0.0.1:0",
                                               dir_.file("echo.stderr"));
        ASSERT_TRUE(echo_->wait_listening());
    }

    bool unix_socket() const { return GetParam(); }
    const std::string& echo() const { return echo_->listening_on(); }

    // An endpoint of the test's transport where nothing listens: a socket
    // path that does not exist, or a port that was free a moment ago.
    std::string nobody_listens() const {
        if (unix_socket()) return "unix:" + dir_.file("missing.sock");
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
        socklen_t size = sizeof addr;
        const bool bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), size) == 0 &&
                           ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size) == 0;
        ::close(fd);
        if (!bound) throw std::runtime_error("no free port on 127.0.0.1");
        return "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
    }

    temp_dir dir_;
    std::unique_ptr<echo_process> echo_;
};

INSTANTIATE_TEST_SUITE_P(BothTransports, ScgiCall, ::testing::Bool(),
                         [](const auto& param_info) { return param_info.param ? "unix" : "tcp"; });

TEST_P(ScgiCall, DefaultsAreNginxsInOrder) {
    const child_result r = call({echo(), "/app/env?a=1&b=%41"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(r.out,
              "CONTENT_LENGTH=0\n"
              "SCGI=1\n"
              "REQUEST_METHOD=GET\n"
              "REQUEST_URI=/app/env?a=1&b=%41\n"
              "QUERY_STRING=a=1&b=%41\n"
              "CONTENT_TYPE=\n"
              "DOCUMENT_URI=/app/env\n"
              "DOCUMENT_ROOT=/var/www/html\n"
              "SERVER_PROTOCOL=HTTP/1.1\n"
              "REQUEST_SCHEME=http\n"
              "REMOTE_ADDR=127.0.0.1\n"
              "REMOTE_PORT=0\n"
              "SERVER_PORT=80\n"
              "SERVER_NAME=localhost\n"
              "HTTP_HOST=localhost\n");
}

TEST_P(ScgiCall, HeadersAndVariablesAsEnvShowsThem) {
    const child_result r = call({"-H", "X-Forwarded-For: 10.0.0.7", "-H", "Content-Type: text/x-test", "-H",
                                 "Host: Example.org:8080", "-H", "Accept: a", "-H", "Accept: b", "-e",
                                 "REMOTE_ADDR=10.0.0.9", "-e", "DOCUMENT_ROOT", "-e", "MY_VAR=a=b", "-X", "PUT",
                                 echo(), "/env"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out,
              "CONTENT_LENGTH=0\n"
              "SCGI=1\n"
              "REQUEST_METHOD=PUT\n"
              "REQUEST_URI=/env\n"
              "QUERY_STRING=\n"
              "CONTENT_TYPE=text/x-test\n"
              "DOCUMENT_URI=/env\n"
              "SERVER_PROTOCOL=HTTP/1.1\n"
              "REQUEST_SCHEME=http\n"
              "REMOTE_ADDR=10.0.0.9\n"
              "REMOTE_PORT=0\n"
              "SERVER_PORT=80\n"
              "SERVER_NAME=localhost\n"
              "HTTP_HOST=example.org\n"
              "HTTP_X_FORWARDED_FOR=10.0.0.7\n"
              "HTTP_CONTENT_TYPE=text/x-test\n"
              "HTTP_ACCEPT=a, b\n"
              "MY_VAR=a=b\n");
}

TEST_P(ScgiCall, DataMakesAPostWithItsLength) {
    const child_result r = call({"-d", "a=1&b=2", echo(), "/env"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("CONTENT_LENGTH=7\nSCGI=1\nREQUEST_METHOD=POST\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("CONTENT_TYPE=application/x-www-form-urlencoded\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("HTTP_CONTENT_LENGTH=7\nHTTP_CONTENT_TYPE=application/x-www-form-urlencoded\n"),
              std::string::npos)
        << r.out;

    const child_result echoed = call({"--data-binary", "hello", echo(), "/echo"});
    EXPECT_EQ(echoed.status, 0) << echoed.err;
    EXPECT_EQ(echoed.out, "hello");
}

TEST_P(ScgiCall, BodyFromAFileByteForByte) {
    for (const std::uint64_t size : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{1} << 20,
                                     std::uint64_t{64} << 20}) {
        const std::string in = dir_.file("in.bin");
        const std::string out = dir_.file("out.bin");
        write_pattern(in, size);
        const child_result r = call({"--data-binary", "@" + in, "-o", out, echo(), "/echo"});
        EXPECT_EQ(r.status, 0) << size << ": " << r.err;
        EXPECT_EQ(std::filesystem::file_size(out), size);
        EXPECT_TRUE(is_pattern(out, size)) << size;
    }
}

TEST_P(ScgiCall, BodyFromAStdinPipeByteForByteThroughAnUnnamedSpool) {
    constexpr std::uint64_t size = std::uint64_t{64} << 20;
    const std::string spool_dir = dir_.file("spool");
    std::filesystem::create_directory(spool_dir);
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    const std::string out = dir_.file("out.bin");
    const int out_fd = open_for_writing(out);
    const wiring w{fds[0], out_fd, spool_dir};
    child_process process(call_options({"--data-binary", "@-", echo(), "/echo"}, w));
    ::close(fds[0]);
    ::close(out_fd);
    std::string chunk(1 << 20, '\0');
    bool written = true;
    for (std::uint64_t at = 0; written && at < size; at += chunk.size()) {
        for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = pattern_at(at + i);
        for (std::string_view rest = chunk; written && !rest.empty();) {
            const ssize_t n = ::write(fds[1], rest.data(), rest.size());
            written = n > 0;
            if (written) rest.remove_prefix(static_cast<std::size_t>(n));
        }
    }
    ::close(fds[1]);
    const child_result r = process.finish(120s);
    EXPECT_TRUE(written);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(std::filesystem::file_size(out), size);
    EXPECT_TRUE(is_pattern(out, size));
    // The spool had no name: nothing is left in $TMPDIR.
    EXPECT_TRUE(std::filesystem::is_empty(spool_dir));
}

TEST_P(ScgiCall, BodyFromStdinRedirectedFromAFile) {
    const std::string in = dir_.file("in.bin");
    write_pattern(in, 3 << 20);
    const int in_fd = ::open(in.c_str(), O_RDONLY | O_CLOEXEC);
    wiring w;
    w.stdin_fd = in_fd;
    const child_result r = call({"-d", "@-", echo(), "/echo"}, w);
    ::close(in_fd);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out.size(), std::size_t{3} << 20);
    EXPECT_EQ(r.out, read_file(in));
}

TEST_P(ScgiCall, IncludeWritesTheHeadAsReceived) {
    const child_result r = call({"-i", "-d", "hello", echo(), "/echo"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out,
              "Status: 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 5\r\n\r\nhello");
}

TEST_P(ScgiCall, HeadOnlyDoesNotWaitForTheBody) {
    // A 100 GB stream: only a tool that stops after the head ends in time.
    const auto started = std::chrono::steady_clock::now();
    const child_result r = call({"-I", echo(), "/stream?n=100000000000"});
    EXPECT_LT(std::chrono::steady_clock::now() - started, 20s);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "Status: 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n");
}

TEST_P(ScgiCall, NotFoundIsAResponseUnlessFail) {
    const child_result plain = call({echo(), "/nope"});
    EXPECT_EQ(plain.status, 0) << plain.err;
    EXPECT_EQ(plain.out, "no such path: /nope\n");

    const child_result failed = call({"--fail", echo(), "/nope"});
    EXPECT_EQ(failed.status, exit_http_error);
    EXPECT_EQ(failed.out, "");
    EXPECT_EQ(failed.err, "scgi-call: " + echo() + ": the server answered 404 Not Found\n");
}

TEST_P(ScgiCall, OutputFileIsLeftAsItWasWhenTheExchangeFails) {
    const std::string out = dir_.file("out.txt");
    std::ofstream(out) << "an earlier result\n";
    const child_result refused = call({"-o", out, nobody_listens(), "/"});
    EXPECT_EQ(refused.status, exit_connect) << refused.err;
    EXPECT_EQ(read_file(out), "an earlier result\n");
    const child_result not_found = call({"--fail", "-o", out, echo(), "/nope"});
    EXPECT_EQ(not_found.status, exit_http_error) << not_found.err;
    EXPECT_EQ(read_file(out), "an earlier result\n");

    // A response with an empty body is a result: the file is emptied.
    const child_result empty = call({"-o", out, echo(), "/echo"});
    EXPECT_EQ(empty.status, 0) << empty.err;
    EXPECT_EQ(read_file(out), "");
    // And one that did not exist is created.
    const std::string created = dir_.file("created.txt");
    EXPECT_EQ(call({"-o", created, echo(), "/echo"}).status, 0);
    EXPECT_TRUE(std::filesystem::exists(created));
}

TEST_P(ScgiCall, TimeoutHoldsWhileTheOutputIsNotRead) {
    // stdout is a pipe nobody reads: after 64 KiB every write would block.
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    wiring w;
    w.stdout_fd = fds[1];
    const auto started = std::chrono::steady_clock::now();
    const child_result r = call({"--timeout", "1", echo(), "/stream?n=10000000"}, w);
    const auto took = std::chrono::steady_clock::now() - started;
    ::close(fds[0]);
    ::close(fds[1]);
    EXPECT_EQ(r.status, exit_timeout) << r.err;
    EXPECT_GE(took, 900ms);
    EXPECT_LT(took, 5s);
    EXPECT_EQ(r.err, "scgi-call: " + echo() + ": timed out after 1 s writing stdout (its reader is not reading)\n");
}

TEST_P(ScgiCall, RawMalformedRequestShowsTheServersRefusal) {
    const std::string request = dir_.file("request");
    std::ofstream(request, std::ios::binary) << "01:A";
    const child_result r = call({"--raw", request, echo()});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out.substr(0, 26), "Status: 400 Bad Request\r\nC") << r.out;
    EXPECT_NE(r.out.find("\r\n\r\nnetstring length has a leading zero"), std::string::npos) << r.out;

    // The same from stdin.
    const int in_fd = ::open(request.c_str(), O_RDONLY | O_CLOEXEC);
    wiring w;
    w.stdin_fd = in_fd;
    const child_result from_stdin = call({"--raw", "-", echo()}, w);
    ::close(in_fd);
    EXPECT_EQ(from_stdin.status, 0) << from_stdin.err;
    EXPECT_EQ(from_stdin.out, r.out);

    // A well-formed raw request is answered like any other.
    const std::string block("CONTENT_LENGTH\0" "2\0SCGI\0" "1\0REQUEST_URI\0/echo\0", 42);
    std::ofstream(request, std::ios::binary) << std::to_string(block.size()) + ":" + block + ",hi";
    const child_result ok = call({"--raw", request, echo()});
    EXPECT_EQ(ok.status, 0) << ok.err;
    EXPECT_EQ(ok.out, "Status: 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 2\r\n\r\nhi");
}

TEST_P(ScgiCall, VerboseShowsTheHeadSentWithVisibleNuls) {
    const child_result r = call({"-v", "-e", "PATH_INFO=a\\b", echo(), "/echo"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find(":\n"
                         "> CONTENT_LENGTH\u24000\u2400\n"
                         "> SCGI\u24001\u2400\n"
                         "> REQUEST_METHOD\u2400GET\u2400\n"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("> HTTP_HOST\u2400localhost\u2400\n"
                         "> PATH_INFO\u2400a\\\\b\u2400\n"
                         "> ,\n"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("< Status: 200 OK\n< Content-Type: application/octet-stream\n< Content-Length: 0\n<"),
              std::string::npos)
        << r.err;
}

TEST_P(ScgiCall, MissingSocketOrRefusedConnection) {
    const std::string where = nobody_listens();
    const child_result r = call({where, "/"});
    EXPECT_EQ(r.status, exit_connect);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, "scgi-call: " + where + ": cannot connect: " +
                         (unix_socket() ? "No such file or directory" : "Connection refused") + "\n");
}

// --- misbehaving backends ---------------------------------------------------

TEST_P(ScgiCall, ServerThatNeverAnswersTimesOut) {
    std::atomic<bool> done{false};
    scripted_backend backend(unix_socket(), dir_, [&](int fd) {
        read_request_head(fd);
        wait_for(done);
    });
    const auto started = std::chrono::steady_clock::now();
    const child_result r = call({"--timeout", "1", backend.endpoint(), "/"});
    const auto took = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(r.status, exit_timeout);
    EXPECT_GE(took, 900ms);
    EXPECT_LT(took, 5s);
    EXPECT_EQ(r.err, "scgi-call: " + backend.endpoint() + ": timed out after 1 s waiting for the response head\n");

    // Stuck while sending a body the server does not read: the message says
    // how far it got.
    const std::string in = dir_.file("in.bin");
    write_pattern(in, std::uint64_t{64} << 20);
    const child_result stuck = call({"--timeout", "0.5", "--data-binary", "@" + in, backend.endpoint(), "/"});
    done = true;
    EXPECT_EQ(stuck.status, exit_timeout);
    const std::string prefix =
        "scgi-call: " + backend.endpoint() + ": timed out after 0.5 s waiting for the response head (";
    EXPECT_EQ(stuck.err.rfind(prefix, 0), 0u) << stuck.err;
    EXPECT_NE(stuck.err.find(" of 67109"), std::string::npos) << stuck.err;  // 64 MiB and the head
    EXPECT_TRUE(stuck.err.ends_with(" request bytes sent)\n")) << stuck.err;
}

TEST_P(ScgiCall, MalformedResponseHead) {
    scripted_backend backend(unix_socket(), dir_, [](int fd) {
        read_request_head(fd);
        send_all(fd, "this is not a CGI response\r\n\r\n");
    });
    const child_result r = call({backend.endpoint(), "/"});
    EXPECT_EQ(r.status, exit_bad_response);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err.rfind("scgi-call: " + backend.endpoint() + ": malformed response head: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;

    // --raw still shows every byte, and -v the bytes that would not parse.
    const std::string request = dir_.file("request");
    std::ofstream(request, std::ios::binary) << "0:,";
    const child_result raw = call({"-v", "--raw", request, backend.endpoint()});
    EXPECT_EQ(raw.status, exit_bad_response);
    EXPECT_EQ(raw.out, "this is not a CGI response\r\n\r\n");
    EXPECT_NE(raw.err.find("< this is not a CGI response\\x0d\\x0a\\x0d\\x0a\n"), std::string::npos) << raw.err;
}

TEST_P(ScgiCall, ServerThatClosesWithoutAnswering) {
    scripted_backend backend(unix_socket(), dir_, [](int fd) { read_request_head(fd); });
    const child_result r = call({backend.endpoint(), "/"});
    EXPECT_EQ(r.status, exit_empty_reply);
    EXPECT_EQ(r.err, "scgi-call: " + backend.endpoint() + ": the server closed the connection without answering\n");
}

TEST_P(ScgiCall, BodyShorterThanItsContentLength) {
    scripted_backend backend(unix_socket(), dir_, [](int fd) {
        read_request_head(fd);
        send_all(fd, "Status: 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    });
    const child_result r = call({backend.endpoint(), "/"});
    EXPECT_EQ(r.status, exit_length_mismatch);
    EXPECT_EQ(r.out, "abc");  // what came is written
    EXPECT_EQ(r.err, "scgi-call: " + backend.endpoint() +
                         ": the response body has 3 bytes, its Content-Length says 10\n");
}

TEST_P(ScgiCall, ContentLengthThatIsNotANumber) {
    scripted_backend backend(unix_socket(), dir_, [](int fd) {
        read_request_head(fd);
        send_all(fd, "Status: 200 OK\r\nContent-Length: 1x\r\n\r\nabc");
    });
    const child_result r = call({backend.endpoint(), "/"});
    EXPECT_EQ(r.status, exit_bad_response);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, "scgi-call: " + backend.endpoint() +
                         ": malformed response head: Content-Length '1x' is not a number\n");
}

TEST_P(ScgiCall, OutputArrivesPieceByPiece) {
    // The backend sends the second piece only once the test has seen the
    // first on scgi-call's stdout: output held back until the end would
    // never show it.
    std::atomic<bool> first_seen{false};
    std::atomic<bool> second_sent{false};
    scripted_backend backend(unix_socket(), dir_, [&](int fd) {
        read_request_head(fd);
        send_all(fd, std::string(ok_head) + "first piece\n");
        wait_for(first_seen);
        send_all(fd, "second piece\n");
        second_sent = true;
    });
    child_process process(call_options({backend.endpoint(), "/stream"}));
    const std::string early = process.read_stdout(
        [](std::string_view seen) { return seen.find("first piece\n") != std::string_view::npos; });
    EXPECT_EQ(early, "first piece\n");
    EXPECT_FALSE(second_sent);
    first_seen = true;
    const child_result r = process.finish(30s);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "second piece\n");
}

TEST_P(ScgiCall, AnswerBeforeTheBodyIsReadIsHeard) {
    // The backend refuses after the head, without reading the 64 MiB body,
    // and closes. A client that wrote the whole body before reading would
    // fail on the write and never see the answer (issue #9).
    scripted_backend backend(unix_socket(), dir_, [](int fd) {
        read_request_head(fd);
        send_all(fd, "Status: 413 Content Too Large\r\nContent-Type: text/plain\r\n\r\ntoo large\n");
        ::shutdown(fd, SHUT_WR);
        // Give the answer time to arrive before the close turns into a reset.
        std::this_thread::sleep_for(200ms);
    });
    const std::string in = dir_.file("in.bin");
    write_pattern(in, std::uint64_t{64} << 20);
    const child_result r = call({"-i", "--data-binary", "@" + in, backend.endpoint(), "/upload"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "Status: 413 Content Too Large\r\nContent-Type: text/plain\r\n\r\ntoo large\n");
}

// --- local failures and usage -------------------------------------------------

TEST(ScgiCallLocal, UsageErrors) {
    EXPECT_EQ(call({}).status, exit_usage);
    const child_result bad_endpoint = call({"localhost"});
    EXPECT_EQ(bad_endpoint.status, exit_usage);
    EXPECT_NE(bad_endpoint.err.find("localhost"), std::string::npos) << bad_endpoint.err;
    EXPECT_EQ(call({"-H", "no colon", "127.0.0.1:1"}).status, exit_usage);
    EXPECT_EQ(call({"-e", "CONTENT_LENGTH=1", "127.0.0.1:1"}).status, exit_usage);
    EXPECT_EQ(call({"--raw", "x", "-d", "y", "127.0.0.1:1"}).status, exit_usage);
    EXPECT_EQ(call({"--timeout", "0", "127.0.0.1:1"}).status, exit_usage);

    const child_result help = call({"--help"});
    EXPECT_EQ(help.status, 0);
    for (const char* text : {"Usage: scgi-call [OPTIONS] ENDPOINT [URI]", "--data-binary", "--raw", "--timeout",
                             "Exit status:", "  28  --timeout passed"}) {
        EXPECT_NE(help.out.find(text), std::string::npos) << text;
    }
}

TEST(ScgiCallLocal, MissingBodyFile) {
    const child_result r = call({"--data-binary", "@/nonexistent/body", "127.0.0.1:1"});
    EXPECT_EQ(r.status, exit_read_error);
    EXPECT_EQ(r.err, "scgi-call: 127.0.0.1:1: cannot read the body: /nonexistent/body: No such file or directory\n");
}

TEST(ScgiCallLocal, OutputThatCannotBeWritten) {
    temp_dir dir;
    echo_process echo("unix:" + dir.file("echo.sock"), dir.file("echo.stderr"));
    ASSERT_TRUE(echo.wait_listening());
    const child_result r = call({"-o", "/nonexistent/out", echo.listening_on(), "/env"});
    EXPECT_EQ(r.status, exit_write_error);
    EXPECT_EQ(r.err, "scgi-call: " + echo.listening_on() +
                         ": cannot open /nonexistent/out: No such file or directory\n");

    // stdout closed by its reader mid-response: EPIPE, not SIGPIPE.
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    ::close(fds[0]);
    wiring w;
    w.stdout_fd = fds[1];
    const child_result broken = call({echo.listening_on(), "/stream?n=1000000"}, w);
    ::close(fds[1]);
    EXPECT_EQ(broken.status, exit_write_error);
    EXPECT_EQ(broken.err, "scgi-call: " + echo.listening_on() + ": writing stdout: Broken pipe\n");
}

}  // namespace
