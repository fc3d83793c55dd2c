/// @file
/// Where an SCGI server listens or a client connects: a TCP host and port or a
/// Unix socket path, parsed from and formatted to one line of text.
#pragma once

#include <asio/generic/stream_protocol.hpp>

#include <sys/un.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace scgi {

/// A TCP `host:port` or a Unix socket path: a plain value (copyable,
/// comparable) naming where a server listens or a client connects. It holds
/// text only; nothing is resolved or opened until `resolve` or `listen`.
///
/// Text forms accepted by `parse`, tried in this order:
///
/// | text                | endpoint                                        |
/// | ------------------- | ----------------------------------------------- |
/// | `unix:PATH`         | Unix socket `PATH` (relative paths are allowed) |
/// | anything with a `/` | Unix socket; the whole text is the path         |
/// | `[HOST]:PORT`       | TCP; `HOST` without brackets (IPv6 literals)    |
/// | `HOST:PORT`         | TCP; `HOST` may not contain `:`                 |
///
/// The `/` rule lets command lines say `server /tmp/scgi.sock` as tokio-scgi's
/// examples do; `unix:` is needed only for a path without a `/`. The prefix is
/// case-sensitive. A host named `unix` must be written `[unix]:PORT`.
///
/// A port is 1 to 5 ASCII digits with a value up to 65535; 0 asks the kernel
/// for a free port when listening (what `listening_socket::endpoint()` then
/// reports is the real one). A host is a name or an address literal; it may
/// not be empty or hold `/`, `[`, `]`, spaces or control bytes, and it may hold
/// `:` only inside brackets. A Unix path is 1 to `max_unix_path_length` bytes
/// without NUL (abstract-namespace sockets have no text form).
class endpoint {
public:
    /// The two kinds of stream socket SCGI runs over.
    enum class kind : unsigned char {
        /// A TCP host and port (`host()`, `port()`).
        tcp,
        /// A Unix socket path (`path()`).
        unix_socket
    };

    /// The longest Unix socket path, in bytes: `sizeof(sockaddr_un::sun_path)`
    /// less the terminating NUL (107 on Linux). Longer paths cannot be bound.
    static constexpr std::size_t max_unix_path_length = sizeof(::sockaddr_un::sun_path) - 1;

    /// An empty TCP endpoint (host "", port 0): what the `ec` overload of
    /// `parse` returns on error. `resolve` and `listen` refuse it with
    /// `error::endpoint_invalid_host`.
    endpoint() = default;

    /// Parses `text` by the rules in the class comment.
    /// Errors (and a default-constructed endpoint is returned):
    /// - `error::endpoint_empty`: `text` is empty;
    /// - `error::endpoint_invalid_path`: `unix:` with nothing after it, or a
    ///   NUL byte in a Unix path;
    /// - `error::endpoint_path_too_long`: a Unix path longer than
    ///   `max_unix_path_length`;
    /// - `error::endpoint_invalid_host`: an empty host (`:8080`, `[]:80`), a
    ///   `[` without `]`, text after `]` other than `:PORT`, a `:` in an
    ///   unbracketed host (`::1:80`), or a forbidden byte in the host;
    /// - `error::endpoint_missing_port`: no `:PORT` (`localhost`, `[::1]`);
    /// - `error::endpoint_invalid_port`: a port that is empty, not all ASCII
    ///   digits, longer than 5 digits or above 65535.
    static endpoint parse(std::string_view text, std::error_code& ec);

    /// As above, but throws `std::system_error` carrying the same error codes;
    /// for command lines and configuration read at start-up.
    static endpoint parse(std::string_view text);

    /// A TCP endpoint, taken as given: `host` is a name or an address literal
    /// without brackets (`::1`, not `[::1]`). It is checked by `resolve` and
    /// `listen` (`error::endpoint_invalid_host`), not here.
    static endpoint tcp(std::string host, std::uint16_t port);

    /// A Unix socket endpoint, taken as given. The path is checked by `resolve`
    /// and `listen` (`error::endpoint_invalid_path`,
    /// `error::endpoint_path_too_long`), not here. A relative path is resolved
    /// against the working directory at the time of the `bind` or `connect`.
    static endpoint unix_socket(std::string path);

    /// TCP or Unix socket.
    kind type() const noexcept { return kind_; }

    /// The TCP host without brackets; empty for a Unix socket.
    const std::string& host() const noexcept { return host_; }

    /// The TCP port (0: any free port when listening); 0 for a Unix socket.
    std::uint16_t port() const noexcept { return port_; }

    /// The Unix socket path; empty for TCP.
    const std::string& path() const noexcept { return path_; }

    /// The text form: `host:port`, `[host]:port` when the host holds a `:` (or
    /// is `unix`, which would read as a path), `unix:path` for a Unix socket.
    /// `parse(to_string())` gives back an equal endpoint for every endpoint
    /// `validate` accepts.
    std::string to_string() const;

    /// Checks an endpoint built by `tcp` or `unix_socket` against the rules
    /// `parse` enforces, without resolving anything; never fails for an
    /// endpoint `parse` produced. Errors: `error::endpoint_invalid_host`,
    /// `error::endpoint_invalid_path`, `error::endpoint_path_too_long`.
    [[nodiscard]] std::error_code validate() const noexcept;

    /// Same kind, host, port and path (text comparison: `localhost:80` and
    /// `127.0.0.1:80` differ).
    friend bool operator==(const endpoint&, const endpoint&) = default;

private:
    kind kind_ = kind::tcp;
    std::uint16_t port_ = 0;
    std::string host_;
    std::string path_;
};

/// The socket addresses `ep` names, in the order to try them, for a generic
/// stream socket (one socket type for TCP and Unix alike).
///
/// TCP: synchronous name resolution with `asio::ip::tcp::resolver`; every
/// address the resolver returns (IPv6 and IPv4 alike, in its order, which
/// follows RFC 6724 and /etc/gai.conf), each with `ep.port()`. Addresses are
/// not filtered by the interfaces configured (no AI_ADDRCONFIG), so `[::1]`
/// resolves on a host whose only IPv6 address is loopback. This blocks for as
/// long as the system resolver takes (DNS included): call it at start-up or
/// from a thread that may block. Unix: the one address for `ep.path()`.
///
/// Errors (and an empty vector): those of `endpoint::validate`; for TCP, the
/// resolver's: `asio::error::host_not_found`, `asio::error::service_not_found`,
/// `asio::error::host_not_found_try_again`, ... (Asio's netdb and addrinfo
/// categories), or an errno in `std::system_category()` (EAI_SYSTEM).
std::vector<asio::generic::stream_protocol::endpoint> resolve(const endpoint& ep, std::error_code& ec);

}  // namespace scgi
