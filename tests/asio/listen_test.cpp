#include <scgi/asio/listen.hpp>

#include <scgi/asio/endpoint.hpp>
#include <scgi/asio/server.hpp>
#include <scgi/error.hpp>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using scgi::endpoint;
using generic_socket = asio::generic::stream_protocol::socket;
using acceptor_type = scgi::listening_socket::acceptor_type;

// Every wait in this file is bounded by this.
constexpr auto wait_limit = 5s;

// ---- descriptors and files ------------------------------------------------------

class unique_fd {
public:
    explicit unique_fd(int fd = -1) noexcept : fd_(fd) {}
    unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    unique_fd& operator=(unique_fd&&) = delete;
    ~unique_fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const noexcept { return fd_; }
    int release() noexcept { return std::exchange(fd_, -1); }

private:
    int fd_;
};

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }
bool is_cloexec(int fd) {
    const int flags = ::fcntl(fd, F_GETFD);
    return flags != -1 && (flags & FD_CLOEXEC) != 0;
}

struct ::stat lstat_of(const std::string& path) {
    struct ::stat st {};
    if (::lstat(path.c_str(), &st) != 0) st.st_mode = 0;
    return st;
}
bool is_socket_file(const std::string& path) { return S_ISSOCK(lstat_of(path).st_mode); }
bool exists(const std::string& path) {
    struct ::stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write_file(const std::string& path, const std::string& content) {
    std::ofstream(path, std::ios::binary) << content;
}

sockaddr_un unix_address(const std::string& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.data(), path.size());
    return address;
}

// A raw Unix socket bound to `path` (and listening if asked), made without
// the code under test.
unique_fd raw_unix_socket(const std::string& path, int type, bool listening) {
    unique_fd fd(::socket(AF_UNIX, type, 0));
    const sockaddr_un address = unix_address(path);
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address), 0) << path;
    if (listening) {
        EXPECT_EQ(::listen(fd.get(), 8), 0);
    }
    return fd;
}

// A raw TCP socket on 127.0.0.1, bound to a free port and listening if asked.
unique_fd raw_tcp_socket(int type, bool listening, std::uint16_t* port = nullptr) {
    unique_fd fd(::socket(AF_INET, type, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
    if (listening) {
        EXPECT_EQ(::listen(fd.get(), 8), 0);
    }
    socklen_t length = sizeof address;
    EXPECT_EQ(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length), 0);
    if (port != nullptr) *port = ntohs(address.sin_port);
    return fd;
}

bool can_bind_ipv6_loopback() {
    unique_fd fd(::socket(AF_INET6, SOCK_STREAM, 0));
    if (fd.get() < 0) return false;
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_addr = in6addr_loopback;
    return ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
}

// ---- bounded Asio waits ---------------------------------------------------------

// Runs the context until its work is done or the limit passes; if work is
// left, cancels it through `cancel` and drains the aborted handlers, so no
// handler outlives the locals it refers to.
template <class Cancel>
void run_bounded(asio::io_context& ioc, Cancel cancel) {
    ioc.restart();
    ioc.run_for(wait_limit);
    if (!ioc.stopped()) {
        cancel();
        ioc.restart();
        ioc.run_for(wait_limit);
    }
}

template <class Socket>
std::error_code connect_within(asio::io_context& ioc, Socket& client, const typename Socket::endpoint_type& target) {
    std::error_code result = asio::error::timed_out;
    client.async_connect(target, [&](std::error_code ec) { result = ec; });
    run_bounded(ioc, [&] {
        std::error_code ignored;
        client.close(ignored);
    });
    return result;
}

std::optional<generic_socket> accept_within(asio::io_context& ioc, acceptor_type& acceptor) {
    generic_socket peer(ioc);
    std::error_code result = asio::error::timed_out;
    acceptor.async_accept(peer, [&](std::error_code ec) { result = ec; });
    run_bounded(ioc, [&] {
        std::error_code ignored;
        acceptor.cancel(ignored);
    });
    EXPECT_FALSE(result) << result.message();
    if (result) return std::nullopt;
    return peer;
}

// The first byte the peer sends, or "" at end of file, or "timeout".
template <class Socket>
std::string read_byte_within(asio::io_context& ioc, Socket& socket) {
    std::array<char, 1> byte{};
    std::string result = "timeout";
    asio::async_read(socket, asio::buffer(byte), [&](std::error_code ec, std::size_t n) {
        result = (!ec && n == 1) ? std::string(1, byte[0]) : std::string();
    });
    run_bounded(ioc, [&] {
        std::error_code ignored;
        socket.close(ignored);
    });
    return result;
}

template <class Socket>
void send_byte(Socket& socket, char c) {
    std::error_code ec;
    asio::write(socket, asio::buffer(&c, 1), ec);  // one byte fits any socket buffer: never blocks
    EXPECT_FALSE(ec) << ec.message();
}

// Connects `client` to `target`, sends a byte (a TCP listener defers the
// accept until one arrives), accepts on `acceptor` and checks that the byte
// came through, proving the accepted socket is the client's peer.
template <class Socket>
void expect_serves(asio::io_context& ioc, acceptor_type& acceptor, Socket& client,
                   const typename Socket::endpoint_type& target) {
    ASSERT_FALSE(connect_within(ioc, client, target));
    send_byte(client, 'x');
    auto peer = accept_within(ioc, acceptor);
    ASSERT_TRUE(peer.has_value());
    EXPECT_EQ(read_byte_within(ioc, *peer), "x");
}

// ---- fixtures -------------------------------------------------------------------

class temp_dir {
public:
    temp_dir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "scgi-listen-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) throw std::system_error(errno, std::system_category(), "mkdtemp");
        path_ = pattern;
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    const std::string& path() const noexcept { return path_; }
    std::string operator/(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

class Listen : public ::testing::Test {
protected:
    asio::io_context ioc;
    asio::any_io_executor ex = ioc.get_executor();
};

class ListenUnix : public Listen {
protected:
    temp_dir dir;
};

class Adopt : public ListenUnix {};

// ---- TCP ------------------------------------------------------------------------

TEST_F(Listen, TcpPortZeroGetsARealPortAndAccepts) {
    std::error_code ec = scgi::error::need_more;  // must be cleared
    scgi::listening_socket listener = scgi::listen(ex, endpoint::parse("127.0.0.1:0"), {}, ec);
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_TRUE(listener.acceptor().is_open());
    const endpoint& ep = listener.endpoint();
    EXPECT_EQ(ep.type(), endpoint::kind::tcp);
    EXPECT_EQ(ep.host(), "127.0.0.1");
    EXPECT_NE(ep.port(), 0);
    EXPECT_FALSE(listener.owns_socket_file());
    EXPECT_TRUE(is_cloexec(listener.acceptor().native_handle()));

    int reuse = 0;
    socklen_t length = sizeof reuse;
    ASSERT_EQ(::getsockopt(listener.acceptor().native_handle(), SOL_SOCKET, SO_REUSEADDR, &reuse, &length), 0);
    EXPECT_NE(reuse, 0);

    asio::ip::tcp::socket client(ioc);
    expect_serves(ioc, listener.acceptor(), client,
                  asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), ep.port()));
    listener.remove_socket_file();  // nothing to remove for TCP: harmless
}

TEST_F(Listen, TcpIpv6Loopback) {
    if (!can_bind_ipv6_loopback()) GTEST_SKIP() << "::1 cannot be bound here";
    std::error_code ec;
    scgi::listening_socket listener = scgi::listen(ex, endpoint::parse("[::1]:0"), {}, ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(listener.endpoint().host(), "::1");
    EXPECT_NE(listener.endpoint().port(), 0);
    EXPECT_EQ(listener.endpoint().to_string(), "[::1]:" + std::to_string(listener.endpoint().port()));
    asio::ip::tcp::socket client(ioc);
    expect_serves(ioc, listener.acceptor(), client,
                  asio::ip::tcp::endpoint(asio::ip::address_v6::loopback(), listener.endpoint().port()));
}

TEST_F(Listen, TcpNameTriesAddressesUntilOneBinds) {
    std::error_code ec;
    scgi::listening_socket listener = scgi::listen(ex, endpoint::parse("localhost:0"), {}, ec);
    ASSERT_FALSE(ec) << ec.message();
    // The endpoint names the address actually bound, not the name.
    const std::string& host = listener.endpoint().host();
    EXPECT_TRUE(host == "127.0.0.1" || host == "::1") << host;
    EXPECT_NE(listener.endpoint().port(), 0);
}

TEST_F(Listen, ReusePortLetsTwoListenersShareAPort) {
    scgi::listen_options opt;
    opt.reuse_port = true;
    std::error_code ec;
    scgi::listening_socket first = scgi::listen(ex, endpoint::parse("127.0.0.1:0"), opt, ec);
    ASSERT_FALSE(ec) << ec.message();
    const endpoint shared = first.endpoint();
    scgi::listening_socket second = scgi::listen(ex, shared, opt, ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(second.endpoint(), shared);

    int value = 0;
    socklen_t length = sizeof value;
    ASSERT_EQ(::getsockopt(second.acceptor().native_handle(), SOL_SOCKET, SO_REUSEPORT, &value, &length), 0);
    EXPECT_NE(value, 0);

    // Both must have asked: a third socket without it is refused.
    scgi::listening_socket third = scgi::listen(ex, shared, {}, ec);
    EXPECT_EQ(ec, std::errc::address_in_use) << ec.message();
    EXPECT_FALSE(third.acceptor().is_open());
}

// TCP_DEFER_ACCEPT on by default: a connection is handed over once its
// first bytes are there. Zero turns it off.
TEST_F(Listen, TcpDefersAcceptUntilTheFirstBytesByDefault) {
    const auto defer_accept_of = [](scgi::listening_socket& socket) {
        int value = -1;
        socklen_t length = sizeof value;
        EXPECT_EQ(::getsockopt(socket.acceptor().native_handle(), IPPROTO_TCP, TCP_DEFER_ACCEPT, &value, &length), 0);
        return value;
    };
    std::error_code ec;
    scgi::listening_socket deferred = scgi::listen(ex, endpoint::parse("127.0.0.1:0"), {}, ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_GT(defer_accept_of(deferred), 0);

    // Connected but silent: not handed over yet. Once the request's first
    // bytes arrive, it is, with them.
    generic_socket client(ioc);
    client.connect(deferred.acceptor().local_endpoint(), ec);
    ASSERT_FALSE(ec) << ec.message();
    deferred.acceptor().non_blocking(true);
    generic_socket accepted(ioc);
    deferred.acceptor().accept(accepted, ec);
    EXPECT_EQ(ec, asio::error::would_block) << "accepted before any byte arrived";
    asio::write(client, asio::buffer(std::string("5:x\0y\0,", 8)), ec);
    ASSERT_FALSE(ec);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    for (;;) {
        deferred.acceptor().accept(accepted, ec);
        if (ec != asio::error::would_block || std::chrono::steady_clock::now() > deadline) break;
        std::this_thread::sleep_for(1ms);
    }
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(accepted.available(ec), 8u);

    scgi::listen_options immediate;
    immediate.tcp_defer_accept = std::chrono::seconds(0);
    scgi::listening_socket plain = scgi::listen(ex, endpoint::parse("127.0.0.1:0"), immediate, ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(defer_accept_of(plain), 0);
}

TEST_F(Listen, WithoutReusePortASecondListenerIsRefused) {
    std::error_code ec;
    scgi::listening_socket first = scgi::listen(ex, endpoint::parse("127.0.0.1:0"), {}, ec);
    ASSERT_FALSE(ec) << ec.message();
    int value = 1;
    socklen_t length = sizeof value;
    ASSERT_EQ(::getsockopt(first.acceptor().native_handle(), SOL_SOCKET, SO_REUSEPORT, &value, &length), 0);
    EXPECT_EQ(value, 0);

    scgi::listening_socket second = scgi::listen(ex, first.endpoint(), {}, ec);
    EXPECT_EQ(ec, std::errc::address_in_use) << ec.message();
    EXPECT_EQ(&ec.category(), &std::system_category());  // not Asio's own, which std::errc does not match
    EXPECT_FALSE(second.acceptor().is_open());
    EXPECT_EQ(second.endpoint(), first.endpoint());  // a failed listen keeps the endpoint asked for

    try {
        (void)scgi::listen(ex, first.endpoint());
        FAIL() << "no exception";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), std::errc::address_in_use);
        EXPECT_NE(std::string(e.what()).find(first.endpoint().to_string()), std::string::npos) << e.what();
    }
}

TEST_F(Listen, TcpAddressNotOnThisHost) {
    // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never a local address.
    std::error_code ec;
    scgi::listening_socket listener = scgi::listen(ex, endpoint::parse("192.0.2.1:0"), {}, ec);
    EXPECT_EQ(ec, std::errc::address_not_available) << ec.message();
    EXPECT_FALSE(listener.acceptor().is_open());
}

TEST_F(Listen, RefusesInvalidEndpoints) {
    std::error_code ec;
    EXPECT_FALSE(scgi::listen(ex, endpoint(), {}, ec).acceptor().is_open());
    EXPECT_EQ(ec, scgi::error::endpoint_invalid_host);
    (void)scgi::listen(ex, endpoint::tcp("a b", 0), {}, ec);
    EXPECT_EQ(ec, scgi::error::endpoint_invalid_host);
    (void)scgi::listen(ex, endpoint::unix_socket(""), {}, ec);
    EXPECT_EQ(ec, scgi::error::endpoint_invalid_path);
    EXPECT_THROW((void)scgi::listen(ex, endpoint()), std::system_error);
}

TEST_F(Listen, MoveTransfersTheAcceptor) {
    std::error_code ec;
    scgi::listening_socket a = scgi::listen(ex, endpoint::parse("127.0.0.1:0"), {}, ec);
    ASSERT_FALSE(ec);
    const int fd = a.acceptor().native_handle();
    scgi::listening_socket b = std::move(a);
    EXPECT_EQ(b.acceptor().native_handle(), fd);
    EXPECT_FALSE(a.acceptor().is_open());  // NOLINT(bugprone-use-after-move): the documented moved-from state

    scgi::listening_socket c = scgi::listen(ex, endpoint::parse("127.0.0.1:0"), {}, ec);
    ASSERT_FALSE(ec);
    const int closed_fd = c.acceptor().native_handle();
    c = std::move(b);
    EXPECT_EQ(c.acceptor().native_handle(), fd);
    EXPECT_TRUE(is_open(fd));
    EXPECT_FALSE(is_open(closed_fd));  // the assigned-over acceptor was closed

    acceptor_type released = c.release_acceptor();
    EXPECT_EQ(released.native_handle(), fd);
    EXPECT_FALSE(c.acceptor().is_open());
    EXPECT_NE(c.endpoint().port(), 0);
}

// ---- Unix sockets ---------------------------------------------------------------

TEST_F(ListenUnix, CreatesTheSocketWithTheRequestedMode) {
    for (const mode_t mode : {mode_t{0600}, mode_t{0660}, mode_t{0666}}) {
        const std::string path = dir / ("mode-" + std::to_string(mode) + ".sock");
        scgi::listen_options opt;
        opt.unix_socket_mode = mode;
        std::error_code ec;
        scgi::listening_socket listener = scgi::listen(ex, endpoint::unix_socket(path), opt, ec);
        ASSERT_FALSE(ec) << ec.message();
        const struct ::stat st = lstat_of(path);
        EXPECT_TRUE(S_ISSOCK(st.st_mode)) << path;
        EXPECT_EQ(st.st_mode & 07777, mode) << path;
        EXPECT_EQ(listener.endpoint(), endpoint::unix_socket(path));
        EXPECT_TRUE(listener.owns_socket_file());
        EXPECT_TRUE(is_cloexec(listener.acceptor().native_handle()));
    }
}

// The group a front end's user is in (www-data, nginx): by name or number.
// As root any group will do ("daemon", gid 1, exists on every Debian);
// otherwise the test's own group, which a user may always chown to.
TEST_F(ListenUnix, SetsTheRequestedGroupByNameOrNumber) {
    const gid_t group = ::geteuid() == 0 ? gid_t{1} : ::getegid();
    const ::group* entry = ::getgrgid(group);
    ASSERT_NE(entry, nullptr);
    const std::string name = entry->gr_name;
    for (const std::string& spelling : {name, std::to_string(group)}) {
        const std::string path = dir / ("group-" + spelling + ".sock");
        scgi::listen_options opt;
        opt.unix_socket_group = spelling;
        std::error_code ec;
        scgi::listening_socket listener = scgi::listen(ex, endpoint::unix_socket(path), opt, ec);
        ASSERT_FALSE(ec) << spelling << ": " << ec.message();
        EXPECT_EQ(lstat_of(path).st_gid, group) << spelling;
        EXPECT_EQ(lstat_of(path).st_mode & 07777, 0660u);
    }
}

TEST_F(ListenUnix, UnknownGroupIsRefusedAndLeavesNoFile) {
    for (const std::string spelling : {"no-such-group-scgi-test", "12x"}) {
        const std::string path = dir / "nogroup.sock";
        scgi::listen_options opt;
        opt.unix_socket_group = spelling;
        std::error_code ec;
        scgi::listening_socket listener = scgi::listen(ex, endpoint::unix_socket(path), opt, ec);
        EXPECT_EQ(ec, scgi::error::unix_socket_group_unknown) << spelling << ": " << ec.message();
        EXPECT_FALSE(listener.acceptor().is_open());
        EXPECT_FALSE(std::filesystem::exists(path)) << spelling;
    }
}

TEST_F(ListenUnix, GroupTheServerIsNotInIsRefusedAndLeavesNoFile) {
    if (::geteuid() == 0) GTEST_SKIP() << "root may chown to any group";
    const std::string path = dir / "notmine.sock";
    scgi::listen_options opt;
    opt.unix_socket_group = "0";  // root's group
    std::error_code ec;
    scgi::listening_socket listener = scgi::listen(ex, endpoint::unix_socket(path), opt, ec);
    EXPECT_EQ(ec, std::errc::operation_not_permitted) << ec.message();
    EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(ListenUnix, DefaultModeIs0660AndItAccepts) {
    const std::string path = dir / "default.sock";
    std::error_code ec;
    scgi::listening_socket listener = scgi::listen(ex, endpoint::parse("unix:" + path), {}, ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(lstat_of(path).st_mode & 07777, 0660u);
    asio::local::stream_protocol::socket client(ioc);
    expect_serves(ioc, listener.acceptor(), client, asio::local::stream_protocol::endpoint(path));
}

TEST_F(ListenUnix, ReplacesAStaleSocket) {
    const std::string path = dir / "stale.sock";
    raw_unix_socket(path, SOCK_STREAM, false);  // bound, closed, never unlinked: what a crash leaves
    ASSERT_TRUE(is_socket_file(path));
    asio::local::stream_protocol::socket probe(ioc);
    ASSERT_EQ(connect_within(ioc, probe, asio::local::stream_protocol::endpoint(path)),
              asio::error::connection_refused);

    std::error_code ec;
    scgi::listening_socket listener = scgi::listen(ex, endpoint::unix_socket(path), {}, ec);
    ASSERT_FALSE(ec) << ec.message();
    asio::local::stream_protocol::socket client(ioc);
    expect_serves(ioc, listener.acceptor(), client, asio::local::stream_protocol::endpoint(path));
}

TEST_F(ListenUnix, ReplacesAStaleSocketLeftByADatagramSocket) {
    const std::string path = dir / "stale-dgram.sock";
    raw_unix_socket(path, SOCK_DGRAM, false);
    std::error_code ec;
    scgi::listening_socket listener = scgi::listen(ex, endpoint::unix_socket(path), {}, ec);
    EXPECT_FALSE(ec) << ec.message();
}

TEST_F(ListenUnix, LiveSocketIsInUseAndLeftIntact) {
    const std::string path = dir / "live.sock";
    std::error_code ec;
    scgi::listening_socket first = scgi::listen(ex, endpoint::unix_socket(path), {}, ec);
    ASSERT_FALSE(ec) << ec.message();
    const struct ::stat before = lstat_of(path);

    scgi::listening_socket second = scgi::listen(ex, endpoint::unix_socket(path), {}, ec);
    EXPECT_EQ(ec, scgi::error::unix_socket_in_use);
    EXPECT_FALSE(second.acceptor().is_open());
    EXPECT_FALSE(second.owns_socket_file());
    const struct ::stat after = lstat_of(path);
    EXPECT_TRUE(S_ISSOCK(after.st_mode));
    EXPECT_EQ(after.st_ino, before.st_ino);
    EXPECT_EQ(after.st_dev, before.st_dev);

    // The first listener still serves. The refused listen's probe is in its
    // queue first: a connection that ends without sending anything.
    asio::local::stream_protocol::socket client(ioc);
    ASSERT_FALSE(connect_within(ioc, client, asio::local::stream_protocol::endpoint(path)));
    send_byte(client, 'x');
    auto probe = accept_within(ioc, first.acceptor());
    ASSERT_TRUE(probe.has_value());
    EXPECT_EQ(read_byte_within(ioc, *probe), "");
    auto peer = accept_within(ioc, first.acceptor());
    ASSERT_TRUE(peer.has_value());
    EXPECT_EQ(read_byte_within(ioc, *peer), "x");

    // A live socket made by someone else, not by listen(), is protected too.
    const std::string other = dir / "other.sock";
    unique_fd raw = raw_unix_socket(other, SOCK_STREAM, true);
    (void)scgi::listen(ex, endpoint::unix_socket(other), {}, ec);
    EXPECT_EQ(ec, scgi::error::unix_socket_in_use);
    EXPECT_TRUE(is_socket_file(other));
}

TEST_F(ListenUnix, LiveSocketWithAFullQueueIsInUse) {
    const std::string path = dir / "full.sock";
    unique_fd raw(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const sockaddr_un address = unix_address(path);
    ASSERT_EQ(::bind(raw.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
    ASSERT_EQ(::listen(raw.get(), 0), 0);
    // Fill the queue without accepting: further non-blocking connects get
    // EAGAIN (a blocking one would wait, which listen() must not do).
    std::vector<unique_fd> fillers;
    bool full = false;
    for (int i = 0; i < 64 && !full; ++i) {
        unique_fd c(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        const int r = ::connect(c.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address);
        const int err = errno;
        fillers.push_back(std::move(c));
        if (r != 0) {
            ASSERT_EQ(err, EAGAIN) << std::strerror(err);
            full = true;
        }
    }
    ASSERT_TRUE(full) << "the accept queue never filled";
    const auto start = std::chrono::steady_clock::now();
    std::error_code ec;
    (void)scgi::listen(ex, endpoint::unix_socket(path), {}, ec);
    EXPECT_EQ(ec, scgi::error::unix_socket_in_use);
    EXPECT_LT(std::chrono::steady_clock::now() - start, wait_limit);
    EXPECT_TRUE(is_socket_file(path));
}

TEST_F(ListenUnix, LiveDatagramSocketGivesTheConnectError) {
    const std::string path = dir / "dgram.sock";
    unique_fd raw = raw_unix_socket(path, SOCK_DGRAM, false);
    std::error_code ec;
    scgi::listening_socket listener = scgi::listen(ex, endpoint::unix_socket(path), {}, ec);
    EXPECT_EQ(ec, std::errc::wrong_protocol_type) << ec.message();
    EXPECT_EQ(&ec.category(), &std::system_category());
    EXPECT_FALSE(listener.acceptor().is_open());
    EXPECT_TRUE(is_socket_file(path));
}

TEST_F(ListenUnix, RegularFileIsNotASocketAndIsUntouched) {
    const std::string path = dir / "data.txt";
    write_file(path, "precious\n");
    const struct ::stat before = lstat_of(path);
    std::error_code ec;
    scgi::listening_socket listener = scgi::listen(ex, endpoint::unix_socket(path), {}, ec);
    EXPECT_EQ(ec, scgi::error::unix_path_not_socket);
    EXPECT_FALSE(listener.acceptor().is_open());
    EXPECT_EQ(read_file(path), "precious\n");
    const struct ::stat after = lstat_of(path);
    EXPECT_TRUE(S_ISREG(after.st_mode));
    EXPECT_EQ(after.st_ino, before.st_ino);
    EXPECT_EQ(after.st_mode, before.st_mode);
}

TEST_F(ListenUnix, DirectoryAndSymlinkAreNotSockets) {
    const std::string sub = dir / "sub";
    ASSERT_EQ(::mkdir(sub.c_str(), 0700), 0);
    std::error_code ec;
    (void)scgi::listen(ex, endpoint::unix_socket(sub), {}, ec);
    EXPECT_EQ(ec, scgi::error::unix_path_not_socket);

    // A symlink is not followed, even to a stale socket that would be removed.
    const std::string target = dir / "target.sock";
    raw_unix_socket(target, SOCK_STREAM, false);
    const std::string link = dir / "link.sock";
    ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
    (void)scgi::listen(ex, endpoint::unix_socket(link), {}, ec);
    EXPECT_EQ(ec, scgi::error::unix_path_not_socket);
    EXPECT_TRUE(S_ISLNK(lstat_of(link).st_mode));
    EXPECT_TRUE(is_socket_file(target));
}

// The mode is applied after bind with chmod, so a restrictive umask (0077,
// as services often run with) does not take the group's access away, nor
// does a permissive one (0) widen 0600.
TEST_F(ListenUnix, UmaskDoesNotChangeTheMode) {
    struct restore_umask {
        mode_t saved;
        ~restore_umask() { ::umask(saved); }
    };
    for (const mode_t mask : {mode_t{0077}, mode_t{0}}) {
        const restore_umask restore{::umask(mask)};
        for (const mode_t mode : {mode_t{0660}, mode_t{0600}}) {
            const std::string path = dir / ("umask-" + std::to_string(mask) + "-" + std::to_string(mode) + ".sock");
            scgi::listen_options opt;
            opt.unix_socket_mode = mode;
            std::error_code ec;
            scgi::listening_socket listener = scgi::listen(ex, endpoint::unix_socket(path), opt, ec);
            ASSERT_FALSE(ec) << ec.message();
            EXPECT_EQ(lstat_of(path).st_mode & 07777, mode) << "umask " << mask;
        }
        EXPECT_EQ(scgi::listen_options().unix_socket_mode, 0660u);  // the documented default
    }
}

// Nothing that is not a socket is followed, replaced or removed: a dangling
// symlink (binding through it would create a socket where it points), a
// symlink to a socket someone serves, a FIFO.
TEST_F(ListenUnix, DanglingSymlinkSymlinkToALiveSocketAndFifoAreNotSockets) {
    std::error_code ec;
    const std::string dangling = dir / "dangling.sock";
    const std::string nowhere = dir / "nowhere.sock";
    ASSERT_EQ(::symlink(nowhere.c_str(), dangling.c_str()), 0);
    (void)scgi::listen(ex, endpoint::unix_socket(dangling), {}, ec);
    EXPECT_EQ(ec, scgi::error::unix_path_not_socket);
    EXPECT_TRUE(S_ISLNK(lstat_of(dangling).st_mode));
    EXPECT_FALSE(exists(nowhere)) << "a socket was created at the symlink's target";

    const std::string live = dir / "live-target.sock";
    unique_fd server = raw_unix_socket(live, SOCK_STREAM, true);
    const std::string link = dir / "link-to-live.sock";
    ASSERT_EQ(::symlink(live.c_str(), link.c_str()), 0);
    (void)scgi::listen(ex, endpoint::unix_socket(link), {}, ec);
    EXPECT_EQ(ec, scgi::error::unix_path_not_socket);
    EXPECT_TRUE(S_ISLNK(lstat_of(link).st_mode));
    EXPECT_TRUE(is_socket_file(live));

    const std::string fifo = dir / "fifo.sock";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    (void)scgi::listen(ex, endpoint::unix_socket(fifo), {}, ec);
    EXPECT_EQ(ec, scgi::error::unix_path_not_socket);
    EXPECT_TRUE(S_ISFIFO(lstat_of(fifo).st_mode));
}

// Whatever took the socket file's place while the server ran, removing "its"
// file on the way out leaves it alone: a directory, a symlink (dangling, or
// to the very socket, renamed), a FIFO, a regular file.
TEST_F(ListenUnix, RemoveSocketFileLeavesWhateverReplacedIt) {
    const auto replace_and_remove = [&](const std::string& name, auto&& replace) {
        const std::string path = dir / name;
        std::error_code ec;
        scgi::listening_socket listener = scgi::listen(ex, endpoint::unix_socket(path), {}, ec);
        ASSERT_FALSE(ec) << ec.message();
        const std::string moved = path + ".moved";
        ASSERT_EQ(::rename(path.c_str(), moved.c_str()), 0);
        replace(path, moved);
        const struct ::stat before = lstat_of(path);
        ASSERT_NE(before.st_mode, 0u) << name;
        listener.remove_socket_file();
        const struct ::stat after = lstat_of(path);
        EXPECT_EQ(after.st_mode, before.st_mode) << name;
        EXPECT_EQ(after.st_ino, before.st_ino) << name;
        EXPECT_TRUE(is_socket_file(moved)) << name << ": the renamed socket itself";
    };
    replace_and_remove("dir.sock", [](const std::string& path, const std::string&) {
        ASSERT_EQ(::mkdir(path.c_str(), 0700), 0);
    });
    replace_and_remove("link-to-self.sock", [](const std::string& path, const std::string& moved) {
        ASSERT_EQ(::symlink(moved.c_str(), path.c_str()), 0);
    });
    replace_and_remove("dangling.sock", [&](const std::string& path, const std::string&) {
        ASSERT_EQ(::symlink((dir / "nowhere").c_str(), path.c_str()), 0);
    });
    replace_and_remove("fifo.sock", [](const std::string& path, const std::string&) {
        ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
    });
    replace_and_remove("file.sock", [](const std::string& path, const std::string&) { write_file(path, "data"); });
}

// The same through a server's stop, which removes its socket files.
TEST_F(ListenUnix, ServerStopRemovesItsSocketButNotAReplacement) {
    const std::string ours = dir / "server.sock";
    const std::string replaced = dir / "replaced-by-file.sock";
    scgi::server_options options;
    options.handle_signals = false;
    options.log = nullptr;
    options.stop_timeout = std::chrono::milliseconds(200);
    const auto answer = [](scgi::request&) -> asio::awaitable<scgi::response> {
        co_return scgi::response::text(200, "");
    };
    scgi::server server(answer, options);
    server.listen(endpoint::unix_socket(ours));
    server.listen(endpoint::unix_socket(replaced));
    server.start();
    ASSERT_EQ(::unlink(replaced.c_str()), 0);
    write_file(replaced, "precious");
    server.stop();
    server.wait();
    EXPECT_FALSE(exists(ours));
    EXPECT_EQ(read_file(replaced), "precious");
}

TEST_F(ListenUnix, MissingDirectory) {
    std::error_code ec;
    scgi::listening_socket listener = scgi::listen(ex, endpoint::unix_socket(dir / "no/such/dir.sock"), {}, ec);
    EXPECT_EQ(ec, std::errc::no_such_file_or_directory) << ec.message();
    EXPECT_FALSE(listener.acceptor().is_open());
}

TEST_F(ListenUnix, PathLengthLimit) {
    std::error_code ec;
    const std::string prefix = dir.path() + "/";
    ASSERT_LT(prefix.size(), endpoint::max_unix_path_length);
    const std::string longest = prefix + std::string(endpoint::max_unix_path_length - prefix.size(), 'p');
    ASSERT_EQ(longest.size(), endpoint::max_unix_path_length);
    scgi::listening_socket listener = scgi::listen(ex, endpoint::unix_socket(longest), {}, ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_TRUE(is_socket_file(longest));

    scgi::listening_socket too_long = scgi::listen(ex, endpoint::unix_socket(longest + "p"), {}, ec);
    EXPECT_EQ(ec, scgi::error::endpoint_path_too_long);
    EXPECT_FALSE(too_long.acceptor().is_open());
    EXPECT_FALSE(exists(longest + "p"));
}

TEST_F(ListenUnix, RemoveSocketFileRemovesOurFile) {
    const std::string path = dir / "ours.sock";
    std::error_code ec;
    scgi::listening_socket listener = scgi::listen(ex, endpoint::unix_socket(path), {}, ec);
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_TRUE(is_socket_file(path));
    listener.remove_socket_file();
    EXPECT_FALSE(exists(path));
    EXPECT_FALSE(listener.owns_socket_file());
    EXPECT_TRUE(listener.acceptor().is_open());  // removing the file does not close the socket
    listener.remove_socket_file();               // a second call does nothing
}

TEST_F(ListenUnix, RemoveSocketFileSparesAReplacement) {
    const std::string path = dir / "replaced.sock";
    std::error_code ec;
    scgi::listening_socket old_server = scgi::listen(ex, endpoint::unix_socket(path), {}, ec);
    ASSERT_FALSE(ec) << ec.message();

    // A restarted server removed our file and bound its own.
    ASSERT_EQ(::unlink(path.c_str()), 0);
    scgi::listening_socket new_server = scgi::listen(ex, endpoint::unix_socket(path), {}, ec);
    ASSERT_FALSE(ec) << ec.message();
    const struct ::stat replacement = lstat_of(path);

    old_server.remove_socket_file();
    ASSERT_TRUE(is_socket_file(path));
    EXPECT_EQ(lstat_of(path).st_ino, replacement.st_ino);
    asio::local::stream_protocol::socket client(ioc);
    expect_serves(ioc, new_server.acceptor(), client, asio::local::stream_protocol::endpoint(path));

    // Nor a regular file put in its place.
    acceptor_type moved_out = new_server.release_acceptor();  // still removable after this
    EXPECT_TRUE(moved_out.is_open());
    EXPECT_FALSE(new_server.acceptor().is_open());
    ASSERT_TRUE(new_server.owns_socket_file());
    new_server.remove_socket_file();
    EXPECT_FALSE(exists(path));
    scgi::listening_socket third = scgi::listen(ex, endpoint::unix_socket(path), {}, ec);
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_EQ(::unlink(path.c_str()), 0);
    write_file(path, "not a socket");
    third.remove_socket_file();
    EXPECT_EQ(read_file(path), "not a socket");
}

TEST_F(ListenUnix, MovedFromSocketRemovesNothing) {
    const std::string path = dir / "moved.sock";
    std::error_code ec;
    scgi::listening_socket a = scgi::listen(ex, endpoint::unix_socket(path), {}, ec);
    ASSERT_FALSE(ec) << ec.message();
    scgi::listening_socket b = std::move(a);
    a.remove_socket_file();  // NOLINT(bugprone-use-after-move): the documented moved-from state
    EXPECT_TRUE(is_socket_file(path));
    EXPECT_TRUE(b.owns_socket_file());
    b.remove_socket_file();
    EXPECT_FALSE(exists(path));
}

TEST_F(ListenUnix, DestructorLeavesTheFile) {
    const std::string path = dir / "left.sock";
    {
        std::error_code ec;
        scgi::listening_socket listener = scgi::listen(ex, endpoint::unix_socket(path), {}, ec);
        ASSERT_FALSE(ec) << ec.message();
    }
    EXPECT_TRUE(is_socket_file(path));
    // What it leaves is stale, and the next listen takes its place.
    std::error_code ec;
    scgi::listening_socket next = scgi::listen(ex, endpoint::unix_socket(path), {}, ec);
    EXPECT_FALSE(ec) << ec.message();
}

TEST_F(ListenUnix, RelativePathIsRemovedAfterChdir) {
    const std::filesystem::path original = std::filesystem::current_path();
    struct restore_cwd {
        std::filesystem::path path;
        ~restore_cwd() {
            std::error_code ignored;
            std::filesystem::current_path(path, ignored);
        }
    } restore{original};
    std::filesystem::current_path(dir.path());
    std::error_code ec;
    scgi::listening_socket listener = scgi::listen(ex, endpoint::parse("unix:relative.sock"), {}, ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(listener.endpoint().path(), "relative.sock");
    std::filesystem::current_path(original);
    ASSERT_TRUE(is_socket_file(dir / "relative.sock"));
    listener.remove_socket_file();
    EXPECT_FALSE(exists(dir / "relative.sock"));
}

// ---- adopting descriptors -------------------------------------------------------

TEST_F(Adopt, AdoptsAListeningTcpSocket) {
    std::uint16_t port = 0;
    unique_fd raw = raw_tcp_socket(SOCK_STREAM, true, &port);
    ASSERT_FALSE(is_cloexec(raw.get()));
    std::error_code ec = scgi::error::need_more;
    scgi::listening_socket listener = scgi::adopt_listening_socket(ex, raw.get(), ec);
    ASSERT_FALSE(ec) << ec.message();
    const int fd = raw.release();  // owned by the listener now
    EXPECT_EQ(listener.acceptor().native_handle(), fd);
    EXPECT_TRUE(is_cloexec(fd));
    EXPECT_EQ(listener.endpoint(), endpoint::tcp("127.0.0.1", port));
    EXPECT_FALSE(listener.owns_socket_file());
    asio::ip::tcp::socket client(ioc);
    expect_serves(ioc, listener.acceptor(), client, asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), port));
}

TEST_F(Adopt, AdoptsAListeningUnixSocketButNeverRemovesItsFile) {
    const std::string path = dir / "adopted.sock";
    unique_fd raw = raw_unix_socket(path, SOCK_STREAM, true);
    std::error_code ec;
    scgi::listening_socket listener = scgi::adopt_listening_socket(ex, raw.get(), ec);
    ASSERT_FALSE(ec) << ec.message();
    raw.release();
    EXPECT_EQ(listener.endpoint(), endpoint::unix_socket(path));
    EXPECT_FALSE(listener.owns_socket_file());
    listener.remove_socket_file();
    EXPECT_TRUE(is_socket_file(path));
    asio::local::stream_protocol::socket client(ioc);
    expect_serves(ioc, listener.acceptor(), client, asio::local::stream_protocol::endpoint(path));
}

TEST_F(Adopt, RefusesWhatIsNotAListeningStreamSocket) {
    const auto expect_refused = [&](int fd, const char* what) {
        std::error_code ec;
        scgi::listening_socket listener = scgi::adopt_listening_socket(ex, fd, ec);
        EXPECT_EQ(ec, scgi::error::socket_activation_invalid) << what;
        EXPECT_FALSE(listener.acceptor().is_open()) << what;
        if (fd >= 0) {
            EXPECT_TRUE(is_open(fd)) << what << ": the caller's descriptor must stay open";
            EXPECT_FALSE(is_cloexec(fd)) << what << ": a refused descriptor is not modified";
        }
    };
    unique_fd bound_only = raw_tcp_socket(SOCK_STREAM, false);
    expect_refused(bound_only.get(), "bound, not listening TCP socket");
    unique_fd udp = raw_tcp_socket(SOCK_DGRAM, false);
    expect_refused(udp.get(), "UDP socket");
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    unique_fd pipe_read(pipe_fds[0]);
    unique_fd pipe_write(pipe_fds[1]);
    expect_refused(pipe_read.get(), "pipe");
    unique_fd file(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY));
    expect_refused(file.get(), "directory");
    unique_fd unix_dgram = raw_unix_socket(dir / "dgram.sock", SOCK_DGRAM, false);
    expect_refused(unix_dgram.get(), "Unix datagram socket");
    int pair[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    unique_fd pair_a(pair[0]);
    unique_fd pair_b(pair[1]);
    expect_refused(pair_a.get(), "connected Unix stream socket");
    expect_refused(-1, "negative descriptor");
    unique_fd closed(::dup(pipe_read.get()));
    const int closed_fd = closed.get();
    ::close(closed.release());
    std::error_code ec;
    (void)scgi::adopt_listening_socket(ex, closed_fd, ec);
    EXPECT_EQ(ec, scgi::error::socket_activation_invalid) << "closed descriptor";
}

// ---- systemd socket activation --------------------------------------------------

// Saves the activation variables and restores them after the test.
class environment_guard {
public:
    environment_guard() {
        for (std::size_t i = 0; i < names.size(); ++i) {
            const char* value = std::getenv(names[i]);
            if (value != nullptr) saved[i] = value;
            ::unsetenv(names[i]);
        }
    }
    environment_guard(const environment_guard&) = delete;
    environment_guard& operator=(const environment_guard&) = delete;
    ~environment_guard() {
        for (std::size_t i = 0; i < names.size(); ++i) {
            if (saved[i]) {
                ::setenv(names[i], saved[i]->c_str(), 1);
            } else {
                ::unsetenv(names[i]);
            }
        }
    }

    static constexpr std::array<const char*, 3> names{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"};

private:
    std::array<std::optional<std::string>, 3> saved;
};

// Reserves descriptor `target` for the test: whatever was open there is saved
// and put back afterwards. Until the test places a descriptor there, it holds
// /dev/null, so nothing opened meanwhile (the io_context's epoll descriptor)
// can land on it.
class fd_slot {
public:
    explicit fd_slot(int target) : target_(target) {
        if (is_open(target_)) saved_ = ::fcntl(target_, F_DUPFD_CLOEXEC, 100);
        const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null != target_) {
            ::dup2(null, target_);
            ::close(null);
        }
    }
    fd_slot(const fd_slot&) = delete;
    fd_slot& operator=(const fd_slot&) = delete;
    ~fd_slot() {
        if (saved_ >= 0) {
            ::dup2(saved_, target_);
            ::close(saved_);
        } else if (!adopted_) {
            ::close(target_);
        }
    }

    // Moves `fd` to the slot (without close-on-exec, as systemd passes it).
    void place(unique_fd fd) {
        ASSERT_EQ(::dup2(fd.get(), target_), target_);
    }
    // The descriptor now belongs to a listening_socket, which closes it.
    void adopted() noexcept { adopted_ = true; }

private:
    int target_;
    int saved_ = -1;
    bool adopted_ = false;
};

class Activation : public ::testing::Test {
protected:
    void set(const char* name, const std::string& value) { ::setenv(name, value.c_str(), 1); }
    void set_for_this_process(const std::string& fds) {
        set("LISTEN_PID", std::to_string(::getpid()));
        set("LISTEN_FDS", fds);
    }
    static bool unset(const char* name) { return std::getenv(name) == nullptr; }

    std::vector<scgi::listening_socket> adopt(std::error_code& ec, bool unset_environment = true) {
        ec = scgi::error::need_more;  // must be overwritten
        return scgi::adopt_activated_sockets(ex, ec, unset_environment);
    }

    // Order matters: the slots exist before the io_context opens anything.
    environment_guard environment;
    fd_slot slot3{3};
    fd_slot slot4{4};
    fd_slot slot5{5};  // /dev/null: past the last passed descriptor in some tests
    temp_dir dir;
    asio::io_context ioc;
    asio::any_io_executor ex = ioc.get_executor();
};

TEST_F(Activation, AdoptsThePassedSocketsAndUnsetsTheVariables) {
    std::uint16_t port = 0;
    slot3.place(raw_tcp_socket(SOCK_STREAM, true, &port));
    const std::string path = dir / "activated.sock";
    slot4.place(raw_unix_socket(path, SOCK_STREAM, true));
    ASSERT_FALSE(is_cloexec(3));
    set_for_this_process("2");
    set("LISTEN_FDNAMES", "web:unix");

    std::error_code ec;
    std::vector<scgi::listening_socket> sockets = adopt(ec);
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_EQ(sockets.size(), 2u);
    slot3.adopted();
    slot4.adopted();
    EXPECT_EQ(sockets[0].acceptor().native_handle(), 3);
    EXPECT_EQ(sockets[1].acceptor().native_handle(), 4);
    EXPECT_TRUE(is_cloexec(3));
    EXPECT_TRUE(is_cloexec(4));
    EXPECT_EQ(sockets[0].endpoint(), endpoint::tcp("127.0.0.1", port));
    EXPECT_EQ(sockets[1].endpoint(), endpoint::unix_socket(path));
    EXPECT_FALSE(sockets[1].owns_socket_file());
    sockets[1].remove_socket_file();
    EXPECT_TRUE(is_socket_file(path));  // systemd's file
    EXPECT_TRUE(unset("LISTEN_PID"));
    EXPECT_TRUE(unset("LISTEN_FDS"));
    EXPECT_TRUE(unset("LISTEN_FDNAMES"));

    asio::ip::tcp::socket client(ioc);
    expect_serves(ioc, sockets[0].acceptor(), client, asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), port));
    asio::local::stream_protocol::socket unix_client(ioc);
    expect_serves(ioc, sockets[1].acceptor(), unix_client, asio::local::stream_protocol::endpoint(path));
}

TEST_F(Activation, KeepsTheVariablesWhenAsked) {
    slot3.place(raw_tcp_socket(SOCK_STREAM, true));
    set_for_this_process("1");
    std::error_code ec;
    std::vector<scgi::listening_socket> sockets = adopt(ec, false);
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_EQ(sockets.size(), 1u);
    slot3.adopted();
    EXPECT_FALSE(unset("LISTEN_PID"));
    EXPECT_FALSE(unset("LISTEN_FDS"));
}

TEST_F(Activation, NoVariablesMeansNoSockets) {
    std::error_code ec;
    EXPECT_TRUE(adopt(ec).empty());
    EXPECT_FALSE(ec) << ec.message();

    set("LISTEN_PID", std::to_string(::getpid()));  // LISTEN_FDS missing
    EXPECT_TRUE(adopt(ec).empty());
    EXPECT_FALSE(ec) << ec.message();

    set("LISTEN_FDS", "1");  // LISTEN_PID missing
    EXPECT_TRUE(adopt(ec).empty());
    EXPECT_FALSE(ec) << ec.message();
}

TEST_F(Activation, SocketsForAnotherProcessAreNotOurs) {
    slot3.place(raw_tcp_socket(SOCK_STREAM, true));
    set("LISTEN_PID", std::to_string(::getpid() + 1));
    set("LISTEN_FDS", "1");
    std::error_code ec;
    EXPECT_TRUE(adopt(ec).empty());
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_TRUE(is_open(3));
    EXPECT_FALSE(is_cloexec(3));
    EXPECT_TRUE(unset("LISTEN_PID"));  // removed all the same, as sd_listen_fds does
    EXPECT_TRUE(unset("LISTEN_FDS"));
}

TEST_F(Activation, MalformedNumbers) {
    slot3.place(raw_tcp_socket(SOCK_STREAM, true));
    for (const char* fds : {"abc", "", "0", "-1", "+1", " 1", "1 ", "1x", "0x1", "2147483645", "99999999999999999999"}) {
        set_for_this_process(fds);
        std::error_code ec;
        EXPECT_TRUE(adopt(ec).empty()) << '"' << fds << '"';
        EXPECT_EQ(ec, scgi::error::socket_activation_invalid) << '"' << fds << '"';
        EXPECT_TRUE(unset("LISTEN_FDS"));
    }
    for (const char* pid : {"abc", "", "0", "-1", " 1", "99999999999999999999"}) {
        set("LISTEN_PID", pid);
        set("LISTEN_FDS", "1");
        std::error_code ec;
        EXPECT_TRUE(adopt(ec).empty()) << '"' << pid << '"';
        EXPECT_EQ(ec, scgi::error::socket_activation_invalid) << '"' << pid << '"';
        EXPECT_TRUE(unset("LISTEN_PID"));
    }
    EXPECT_TRUE(is_open(3));
    EXPECT_FALSE(is_cloexec(3));
}

TEST_F(Activation, APassedDescriptorThatIsNotAListeningSocket) {
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    unique_fd pipe_write(pipe_fds[1]);
    slot3.place(unique_fd(pipe_fds[0]));
    set_for_this_process("1");
    std::error_code ec;
    EXPECT_TRUE(adopt(ec).empty());
    EXPECT_EQ(ec, scgi::error::socket_activation_invalid);
    EXPECT_TRUE(is_open(3));
    EXPECT_TRUE(unset("LISTEN_PID"));
}

TEST_F(Activation, OneBadDescriptorAdoptsNone) {
    slot3.place(raw_tcp_socket(SOCK_STREAM, true));
    slot4.place(raw_tcp_socket(SOCK_DGRAM, false));
    set_for_this_process("2");
    std::error_code ec;
    EXPECT_TRUE(adopt(ec).empty());
    EXPECT_EQ(ec, scgi::error::socket_activation_invalid);
    // The good one was neither adopted (closed with the vector) nor changed.
    EXPECT_TRUE(is_open(3));
    EXPECT_FALSE(is_cloexec(3));
    EXPECT_TRUE(is_open(4));
}

TEST_F(Activation, MoreDescriptorsThanPassed) {
    slot3.place(raw_tcp_socket(SOCK_STREAM, true));
    slot4.place(raw_tcp_socket(SOCK_STREAM, true));
    set_for_this_process("3");  // descriptor 5 holds /dev/null
    std::error_code ec;
    EXPECT_TRUE(adopt(ec).empty());
    EXPECT_EQ(ec, scgi::error::socket_activation_invalid);
    EXPECT_TRUE(is_open(3));
    EXPECT_TRUE(is_open(4));
}

}  // namespace
