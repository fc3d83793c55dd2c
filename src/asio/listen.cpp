#include <scgi/asio/listen.hpp>

#include <scgi/detail/ascii.hpp>
#include <scgi/error.hpp>

#include <asio/error.hpp>
#include <asio/ip/address_v4.hpp>
#include <asio/ip/address_v6.hpp>
#include <asio/local/stream_protocol.hpp>

#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <utility>
#include <vector>

namespace scgi {

namespace detail {

struct listening_socket_access {
    using file_identity = listening_socket::file_identity;

    static listening_socket make(listening_socket::acceptor_type acceptor, scgi::endpoint ep,
                                 std::optional<file_identity> file = std::nullopt) noexcept {
        return listening_socket(std::move(acceptor), std::move(ep), std::move(file));
    }
};

}  // namespace detail

namespace {

using access = detail::listening_socket_access;
using acceptor_type = listening_socket::acceptor_type;
using generic_endpoint = asio::generic::stream_protocol::endpoint;

std::error_code last_error() noexcept { return {errno, std::system_category()}; }

// Asio 1.22 reports OS errors in its own "asio.system" category, which does
// not map them to std::errc conditions. Everything this file returns is moved
// to std::system_category(), so one comparison (`ec == std::errc::...`)
// works whether the errno came from Asio or from a direct system call.
std::error_code standard(std::error_code ec) noexcept {
    if (ec.category() == asio::error::get_system_category()) return {ec.value(), std::system_category()};
    return ec;
}

listening_socket failed(const asio::any_io_executor& ex, const endpoint& ep) {
    return access::make(acceptor_type(ex), ep);
}

// Asio opens sockets without SOCK_CLOEXEC (and would need a separate fcntl,
// racing with a fork+exec in another thread), so the descriptor is created
// here and handed to the acceptor.
void open_acceptor(acceptor_type& acceptor, const asio::generic::stream_protocol& protocol,
                   std::error_code& ec) {
    const int fd = ::socket(protocol.family(), protocol.type() | SOCK_CLOEXEC, protocol.protocol());
    if (fd < 0) {
        ec = last_error();
        return;
    }
    acceptor.assign(protocol, fd, ec);
    if (ec) ::close(fd);
}

std::error_code set_flag(int fd, int level, int name) noexcept {
    const int one = 1;
    if (::setsockopt(fd, level, name, &one, sizeof one) != 0) return last_error();
    return {};
}

std::error_code set_close_on_exec(int fd) noexcept {
    const int flags = ::fcntl(fd, F_GETFD);
    if (flags < 0 || ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) return last_error();
    return {};
}

// The scgi::endpoint for a socket address the kernel reported. Addresses are
// copied out with memcpy: the generic endpoint's storage is only guaranteed
// to be aligned for sockaddr, not for the family-specific structures.
endpoint from_socket_address(const generic_endpoint& address) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(address.data());
    const std::size_t size = address.size();
    const auto port_of = [](const void* network_order) {
        unsigned char p[2];
        std::memcpy(p, network_order, 2);
        return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
    };
    switch (address.data()->sa_family) {
    case AF_INET: {
        ::sockaddr_in in{};
        std::memcpy(&in, bytes, std::min(size, sizeof in));
        asio::ip::address_v4::bytes_type host{};
        std::memcpy(host.data(), &in.sin_addr, host.size());
        return endpoint::tcp(asio::ip::address_v4(host).to_string(), port_of(&in.sin_port));
    }
    case AF_INET6: {
        ::sockaddr_in6 in6{};
        std::memcpy(&in6, bytes, std::min(size, sizeof in6));
        asio::ip::address_v6::bytes_type host{};
        std::memcpy(host.data(), &in6.sin6_addr, host.size());
        return endpoint::tcp(asio::ip::address_v6(host, in6.sin6_scope_id).to_string(), port_of(&in6.sin6_port));
    }
    default: {  // AF_UNIX: the only other family that gets this far
        const std::size_t offset = offsetof(::sockaddr_un, sun_path);
        std::string_view path;
        if (size > offset) path = {reinterpret_cast<const char*>(bytes) + offset, size - offset};
        // A pathname socket's address may include the terminating NUL; an
        // abstract one starts with NUL and every byte after it counts.
        if (!path.empty() && path.front() != '\0') path = path.substr(0, path.find('\0'));
        return endpoint::unix_socket(std::string(path));
    }
    }
}

std::error_code bind_tcp(acceptor_type& acceptor, const generic_endpoint& address, const listen_options& opt) {
    std::error_code ec;
    open_acceptor(acceptor, address.protocol(), ec);
    if (ec) return ec;
    ec = set_flag(acceptor.native_handle(), SOL_SOCKET, SO_REUSEADDR);
    if (ec) return ec;
    if (opt.reuse_port) {
        ec = set_flag(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT);
        if (ec) return ec;
    }
    if (opt.tcp_defer_accept.count() > 0) {
        const int seconds = static_cast<int>(std::min<std::chrono::seconds::rep>(opt.tcp_defer_accept.count(), INT_MAX));
        if (::setsockopt(acceptor.native_handle(), IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds, sizeof seconds) != 0) {
            return last_error();
        }
    }
    acceptor.bind(address, ec);
    if (ec) return ec;
    acceptor.listen(opt.backlog, ec);
    return ec;
}

listening_socket listen_tcp(const asio::any_io_executor& ex, const endpoint& ep, const listen_options& opt,
                            std::error_code& ec) {
    const auto addresses = resolve(ep, ec);
    if (ec) return failed(ex, ep);
    // The first address's error is reported: it is the one the resolver
    // ranked first, so usually the one the user meant.
    std::error_code first_error;
    for (const auto& address : addresses) {
        acceptor_type acceptor(ex);
        std::error_code attempt = bind_tcp(acceptor, address, opt);
        if (!attempt) {
            const generic_endpoint local = acceptor.local_endpoint(attempt);
            if (!attempt) return access::make(std::move(acceptor), from_socket_address(local));
        }
        if (!first_error) first_error = attempt;
    }
    ec = first_error;
    return failed(ex, ep);
}

bool same_file(const struct ::stat& st, dev_t device, ino_t inode) noexcept {
    return S_ISSOCK(st.st_mode) && st.st_dev == device && st.st_ino == inode;
}

// Makes room for binding `path`: nothing there, or a socket nobody listens
// on, which is removed. Anything else is reported and left alone.
std::error_code clear_stale_socket(const std::string& path) {
    struct ::stat before {};
    if (::lstat(path.c_str(), &before) != 0) {
        if (errno == ENOENT) return {};
        return last_error();
    }
    if (!S_ISSOCK(before.st_mode)) return error::unix_path_not_socket;

    // Non-blocking: a blocking connect to a live server whose accept queue is
    // full would wait until it accepts; non-blocking, that is EAGAIN, which
    // also proves somebody listens.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return last_error();
    const asio::local::stream_protocol::endpoint address(path);
    const int result = ::connect(fd, address.data(), static_cast<socklen_t>(address.size()));
    const int connect_errno = result == 0 ? 0 : errno;
    ::close(fd);
    if (result == 0 || connect_errno == EAGAIN || connect_errno == EWOULDBLOCK || connect_errno == EINPROGRESS) {
        return error::unix_socket_in_use;
    }
    if (connect_errno != ECONNREFUSED) return {connect_errno, std::system_category()};

    // Only the file just probed is removed: if another server replaced it
    // meanwhile, binding below fails with address_in_use instead.
    struct ::stat now {};
    if (::lstat(path.c_str(), &now) != 0) return errno == ENOENT ? std::error_code() : last_error();
    if (!same_file(now, before.st_dev, before.st_ino)) return error::unix_socket_in_use;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return last_error();
    return {};
}

// The group named `name` (or numbered, if it is all digits).
std::error_code find_group(const std::string& name, gid_t& group) {
    gid_t number = 0;
    switch (detail::parse_decimal(name, number)) {
    case 0:
        group = number;
        return {};
    case 2:
        return error::unix_socket_group_unknown;  // all digits, but no gid_t
    default:
        break;  // a name
    }
    std::vector<char> scratch(1024);
    for (;;) {
        ::group entry{};
        ::group* found = nullptr;
        const int result = ::getgrnam_r(name.c_str(), &entry, scratch.data(), scratch.size(), &found);
        if (result == ERANGE && scratch.size() < (1u << 20)) {
            scratch.resize(scratch.size() * 2);
            continue;
        }
        if (result != 0) return {result, std::system_category()};
        if (!found) return error::unix_socket_group_unknown;
        group = found->gr_gid;
        return {};
    }
}

void remove_if_same(const std::string& path, dev_t device, ino_t inode) noexcept {
    struct ::stat st {};
    if (::lstat(path.c_str(), &st) == 0 && same_file(st, device, inode)) ::unlink(path.c_str());
}

// The path remove_socket_file() uses: absolute, so a later chdir() does not
// make it miss the file (or hit another one).
std::string removal_path(const std::string& path) {
    if (!path.empty() && path.front() == '/') return path;
    std::error_code ec;
    std::filesystem::path absolute = std::filesystem::absolute(path, ec);
    return ec ? path : absolute.string();
}

listening_socket listen_unix(const asio::any_io_executor& ex, const endpoint& ep, const listen_options& opt,
                             std::error_code& ec) {
    const std::string& path = ep.path();
    ec = clear_stale_socket(path);
    if (ec) return failed(ex, ep);

    acceptor_type acceptor(ex);
    const generic_endpoint address{asio::local::stream_protocol::endpoint(path)};
    open_acceptor(acceptor, address.protocol(), ec);
    if (ec) return failed(ex, ep);
    acceptor.bind(address, ec);
    if (ec) return failed(ex, ep);

    struct ::stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        ec = last_error();
        return failed(ex, ep);
    }
    if (!S_ISSOCK(st.st_mode)) {  // replaced right after bind: not ours to touch
        ec = error::unix_path_not_socket;
        return failed(ex, ep);
    }
    // By path, not fchown/fchmod: on Linux those change the socket's inode,
    // not the file. Never through a symlink (AT_SYMLINK_NOFOLLOW), and the
    // file must still be the one bound, so that a path swapped meanwhile in
    // a directory others can write cannot make a root server change another
    // file. Before listen(), so no connection can be made with the umask's
    // permissions or the wrong group.
    if (!opt.unix_socket_group.empty()) {
        gid_t group = 0;
        ec = find_group(opt.unix_socket_group, group);
        if (!ec && ::fchownat(AT_FDCWD, path.c_str(), static_cast<uid_t>(-1), group, AT_SYMLINK_NOFOLLOW) != 0) {
            ec = last_error();
        }
        if (ec) {
            remove_if_same(path, st.st_dev, st.st_ino);
            return failed(ex, ep);
        }
    }
    // (C libraries before glibc 2.32 refuse AT_SYMLINK_NOFOLLOW for chmod:
    // then plain chmod, the inode check below still catching a swap.)
    if (::fchmodat(AT_FDCWD, path.c_str(), opt.unix_socket_mode, AT_SYMLINK_NOFOLLOW) != 0 &&
        (errno != EOPNOTSUPP || ::chmod(path.c_str(), opt.unix_socket_mode) != 0)) {
        ec = last_error();
        remove_if_same(path, st.st_dev, st.st_ino);
        return failed(ex, ep);
    }
    struct ::stat after {};
    if (::lstat(path.c_str(), &after) != 0 || !same_file(after, st.st_dev, st.st_ino)) {
        ec = error::unix_path_not_socket;
        return failed(ex, ep);
    }
    acceptor.listen(opt.backlog, ec);
    if (ec) {
        remove_if_same(path, st.st_dev, st.st_ino);
        return failed(ex, ep);
    }
    return access::make(std::move(acceptor), ep, access::file_identity{removal_path(path), st.st_dev, st.st_ino});
}

// The checks every adopted descriptor passes. On success `address` is its
// local address and `protocol` what the acceptor must be told it is.
std::error_code check_listening_socket(int fd, generic_endpoint& address,
                                       asio::generic::stream_protocol& protocol) noexcept {
    const std::error_code invalid = error::socket_activation_invalid;
    if (fd < 0) return invalid;
    int value = 0;
    socklen_t length = sizeof value;
    // ENOTSOCK (a pipe, a file) and EBADF (nothing open) alike: not a socket
    // that can be served.
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &value, &length) != 0 || value != SOCK_STREAM) return invalid;
    length = sizeof value;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &value, &length) != 0 || value == 0) return invalid;

    auto address_length = static_cast<socklen_t>(address.capacity());
    if (::getsockname(fd, address.data(), &address_length) != 0) return invalid;
    address.resize(address_length);
    const int family = address.data()->sa_family;
    if (family != AF_INET && family != AF_INET6 && family != AF_UNIX) return invalid;

    int protocol_number = family == AF_UNIX ? 0 : IPPROTO_TCP;
#ifdef SO_PROTOCOL
    length = sizeof value;
    if (::getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &value, &length) == 0) protocol_number = value;
#endif
    protocol = asio::generic::stream_protocol(family, protocol_number);
    return {};
}

// Adopts a descriptor check_listening_socket accepted. On error the
// descriptor stays open and unowned.
listening_socket adopt_checked(const asio::any_io_executor& ex, int fd, const generic_endpoint& address,
                               const asio::generic::stream_protocol& protocol, std::error_code& ec) {
    acceptor_type acceptor(ex);
    ec = set_close_on_exec(fd);
    if (!ec) acceptor.assign(protocol, fd, ec);
    if (ec) return access::make(std::move(acceptor), endpoint());
    return access::make(std::move(acceptor), from_socket_address(address));
}

// Strict decimal (detail::parse_decimal) from an environment variable, at
// most `max`.
bool parse_decimal(const char* text, long long max, long long& value) noexcept {
    unsigned long long parsed = 0;
    if (text == nullptr || detail::parse_decimal(std::string_view(text), parsed) != 0 ||
        parsed > static_cast<unsigned long long>(max)) {
        return false;
    }
    value = static_cast<long long>(parsed);
    return true;
}

constexpr int first_activated_fd = 3;  // SD_LISTEN_FDS_START

// The number of descriptors passed to this process: 0 when none are.
int activated_count(std::error_code& ec) noexcept {
    const char* pid_text = std::getenv("LISTEN_PID");
    if (pid_text == nullptr) return 0;
    long long pid = 0;
    if (!parse_decimal(pid_text, INT_MAX, pid) || pid == 0) {
        ec = error::socket_activation_invalid;
        return 0;
    }
    // Variables inherited from a parent that was activated: not ours.
    if (pid != ::getpid()) return 0;
    const char* count_text = std::getenv("LISTEN_FDS");
    if (count_text == nullptr) return 0;
    long long count = 0;
    if (!parse_decimal(count_text, INT_MAX - first_activated_fd, count) || count == 0) {
        ec = error::socket_activation_invalid;
        return 0;
    }
    return static_cast<int>(count);
}

}  // namespace

listening_socket::listening_socket(acceptor_type acceptor, scgi::endpoint ep,
                                   std::optional<file_identity> file) noexcept
    : acceptor_(std::move(acceptor)), endpoint_(std::move(ep)), socket_file_(std::move(file)) {}

listening_socket::listening_socket(listening_socket&& other) noexcept
    : acceptor_(std::move(other.acceptor_)),
      endpoint_(std::move(other.endpoint_)),
      socket_file_(std::exchange(other.socket_file_, std::nullopt)) {}

listening_socket& listening_socket::operator=(listening_socket&& other) {
    if (this != &other) {
        acceptor_ = std::move(other.acceptor_);
        endpoint_ = std::move(other.endpoint_);
        socket_file_ = std::exchange(other.socket_file_, std::nullopt);
    }
    return *this;
}

void listening_socket::remove_socket_file() noexcept {
    if (!socket_file_) return;
    remove_if_same(socket_file_->path, socket_file_->device, socket_file_->inode);
    socket_file_.reset();
}

listening_socket listen(const asio::any_io_executor& ex, const endpoint& ep, const listen_options& opt,
                        std::error_code& ec) {
    ec = ep.validate();
    if (ec) return failed(ex, ep);
    listening_socket socket = ep.type() == endpoint::kind::unix_socket ? listen_unix(ex, ep, opt, ec)
                                                                       : listen_tcp(ex, ep, opt, ec);
    ec = standard(ec);
    return socket;
}

listening_socket listen(const asio::any_io_executor& ex, const endpoint& ep, const listen_options& opt) {
    std::error_code ec;
    listening_socket socket = listen(ex, ep, opt, ec);
    if (ec) throw std::system_error(ec, "scgi::listen(" + ep.to_string() + ")");
    return socket;
}

listening_socket adopt_listening_socket(const asio::any_io_executor& ex, int fd, std::error_code& ec) {
    generic_endpoint address;
    asio::generic::stream_protocol protocol(AF_UNIX, 0);
    ec = check_listening_socket(fd, address, protocol);
    if (ec) return failed(ex, endpoint());
    listening_socket socket = adopt_checked(ex, fd, address, protocol, ec);
    ec = standard(ec);
    return socket;
}

std::vector<listening_socket> adopt_activated_sockets(const asio::any_io_executor& ex, std::error_code& ec,
                                                      bool unset_environment) {
    ec.clear();
    const int count = activated_count(ec);
    if (unset_environment) {
        ::unsetenv("LISTEN_PID");
        ::unsetenv("LISTEN_FDS");
        ::unsetenv("LISTEN_FDNAMES");
    }
    std::vector<listening_socket> sockets;
    if (ec || count == 0) return sockets;

    // Check all before adopting any, so a bad set leaves every descriptor as
    // it was rather than some adopted (and closed with the vector) and some not.
    struct checked {
        generic_endpoint address;
        asio::generic::stream_protocol protocol;
    };
    std::vector<checked> passed;
    for (int i = 0; i < count; ++i) {
        checked c{generic_endpoint(), asio::generic::stream_protocol(AF_UNIX, 0)};
        ec = check_listening_socket(first_activated_fd + i, c.address, c.protocol);
        if (ec) return sockets;
        passed.push_back(c);
    }
    sockets.reserve(passed.size());
    for (int i = 0; i < count; ++i) {
        const auto& c = passed[static_cast<std::size_t>(i)];
        listening_socket socket = adopt_checked(ex, first_activated_fd + i, c.address, c.protocol, ec);
        if (ec) {
            ec = standard(ec);
            // Hand the descriptors back unclosed, as the contract promises.
            for (auto& adopted : sockets) {
                std::error_code ignored;
                adopted.acceptor().release(ignored);
            }
            sockets.clear();
            return sockets;
        }
        sockets.push_back(std::move(socket));
    }
    return sockets;
}

}  // namespace scgi
