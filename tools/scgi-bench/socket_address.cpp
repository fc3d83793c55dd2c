#include "socket_address.hpp"

#include <cerrno>
#include <cstring>

#include <poll.h>
#include <unistd.h>

namespace scgi::tools::bench {
namespace {

socket_address to_address(const asio::generic::stream_protocol::endpoint& ep) {
    socket_address out;
    std::memcpy(&out.storage, ep.data(), ep.size());
    out.size = static_cast<socklen_t>(ep.size());
    out.family = ep.protocol().family();
    return out;
}

// True if `address` accepts a connection within a second.
bool accepts(const socket_address& address) {
    const int fd = ::socket(address.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    bool ok = ::connect(fd, address.get(), address.size) == 0;
    if (!ok && errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        int err = 0;
        socklen_t len = sizeof err;
        ok = ::poll(&p, 1, 1000) == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
    }
    ::close(fd);
    return ok;
}

}  // namespace

socket_address resolve_address(const scgi::endpoint& ep, std::error_code& ec) {
    const auto candidates = scgi::resolve(ep, ec);
    if (ec || candidates.empty()) return {};
    if (candidates.size() > 1) {
        for (const auto& candidate : candidates) {
            const socket_address address = to_address(candidate);
            if (accepts(address)) return address;
        }
    }
    return to_address(candidates.front());
}

}  // namespace scgi::tools::bench
