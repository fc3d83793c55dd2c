// Test support: writing all of a byte string to a blocking socket.
#pragma once

#include <cstddef>
#include <string_view>

#include <sys/socket.h>

namespace scgi::test {

/// Sends every byte of `bytes` on `fd` (no SIGPIPE); false on an error or a
/// closed peer.
inline bool send_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n <= 0) return false;
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

}  // namespace scgi::test
