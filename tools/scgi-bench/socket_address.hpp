// The one socket address a run connects to, resolved once before it starts.
#pragma once

#include <scgi/asio/endpoint.hpp>

#include <sys/socket.h>

#include <system_error>

namespace scgi::tools::bench {

/// A socket address ready for connect(2): the load engine opens a new
/// connection per request and must not resolve a name each time.
struct socket_address {
    sockaddr_storage storage{};
    socklen_t size = 0;
    int family = AF_UNSPEC;

    const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
};

/// Resolves `ep` with `scgi::resolve`. A name with several addresses (e.g.
/// `localhost`: ::1 and 127.0.0.1) gets the first one that accepts a
/// connection (a connection opened and closed at once, as wrk does), or the
/// first one if none does, so that the run then counts the connect errors.
/// Errors: those of `scgi::resolve`.
socket_address resolve_address(const scgi::endpoint& ep, std::error_code& ec);

}  // namespace scgi::tools::bench
