/// @file
/// Opening the sockets an SCGI server listens on: TCP ports, Unix socket files
/// (created with a chosen mode; a stale one replaced only if nobody listens on
/// it), and descriptors inherited through systemd socket activation.
#pragma once

#include <scgi/asio/endpoint.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/basic_socket_acceptor.hpp>
#include <asio/generic/stream_protocol.hpp>

#include <sys/socket.h>
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace scgi {

/// How `listen` opens a socket. The defaults suit one server process per
/// endpoint behind nginx, Apache httpd or lighttpd.
struct listen_options {
    /// Length of the queue of connections the kernel has completed but the
    /// server has not accepted yet. `SOMAXCONN` (4096 on current Linux) lets
    /// a burst wait in the kernel instead of being refused; the kernel caps it
    /// at `net.core.somaxconn` anyway, so asking for more is harmless.
    int backlog = SOMAXCONN;

    /// SO_REUSEPORT (TCP only): several processes (or several sockets in one
    /// process) listen on the same address and port, and the kernel spreads
    /// new connections among them; every one of them must set it. Off by
    /// default so that starting a second server on a busy port fails with
    /// `address_in_use` rather than silently sharing it.
    bool reuse_port = false;

    /// TCP_DEFER_ACCEPT (TCP only): the kernel completes the handshake but
    /// hands a connection to the server only once its first bytes have
    /// arrived. SCGI front ends send the request right after connecting, so
    /// the server then finds the request already there when it accepts,
    /// instead of registering the connection for readiness and waiting
    /// (nginx's `listen ... deferred` does the same). A connection that sends
    /// nothing is handed over anyway once this time has passed (Linux rounds
    /// it up to its SYN-ACK retransmission schedule: 1 s becomes 1 to 3 s,
    /// 10 s about 15 s), and the server's head timeout runs from then; one
    /// that closes first (a port probe) is never seen. Costs some latency
    /// when idle: the server wakes when the request arrives, not while the
    /// client sends it. Zero turns it off. Ignored for Unix sockets and
    /// adopted sockets (systemd's `DeferAcceptSec=` is the equivalent there).
    ///
    /// Why 1 s: a front end's first bytes follow its handshake at once, so a
    /// second already gives the whole benefit; a longer time only adds to how
    /// long a silent client stays connected (this time, then
    /// `server_options::head_timeout`).
    std::chrono::seconds tcp_defer_accept{1};

    /// Permissions of a Unix socket file `listen` creates, applied with
    /// chmod(2) after bind and before listen (so nobody can connect in
    /// between) and not reduced by the umask. Connecting needs write
    /// permission: 0660 admits the owner and the group, which is how a front
    /// end (www-data, nginx) is usually given access; use 0666 to admit every
    /// local user. Ignored for TCP and for adopted sockets.
    mode_t unix_socket_mode = 0660;

    /// Group of a Unix socket file `listen` creates: a group name or a
    /// numeric id, set with chown(2) before listen. Empty: the server's own
    /// group. With mode 0660 this admits a front end running as another user
    /// (nginx's workers as `www-data` or `nobody`, Apache's children as
    /// `www-data`): name a group the front end's user is in. The server must
    /// be root or itself a member of the group. Unknown names:
    /// `error::unix_socket_group_unknown`. Ignored for TCP and for adopted
    /// sockets (systemd's `SocketGroup=` is the equivalent there).
    std::string unix_socket_group;
};

namespace detail {
struct listening_socket_access;
}  // namespace detail

/// A socket in the listening state, with the endpoint it listens on and, for
/// a Unix socket file `listen` created, that file's identity. Move-only.
///
/// The acceptor is a generic stream acceptor, so one server code path (and one
/// connection type, `asio::generic::stream_protocol::socket`) serves TCP and
/// Unix sockets alike. Its descriptor is close-on-exec, so programs the server
/// runs do not inherit it. Sockets accepted from it are not (Asio 1.22 calls
/// accept(), not accept4() with SOCK_CLOEXEC): a server that starts programs
/// must set FD_CLOEXEC on them itself.
///
/// The destructor closes the acceptor but never removes the socket file: a
/// process that exits after fork() or on an error path must not unlink a path
/// another process is serving. Call `remove_socket_file()` on a clean stop; a
/// file left behind by a crash is stale and the next `listen` replaces it.
class listening_socket {
public:
    /// The acceptor type for every kind of endpoint. (Asio's generic protocol
    /// has no `acceptor` member typedef, unlike `ip::tcp`.) Its accepted
    /// sockets are `asio::generic::stream_protocol::socket`.
    using acceptor_type = asio::basic_socket_acceptor<asio::generic::stream_protocol>;

    /// Takes over `other`'s acceptor and socket file; `other` keeps a closed
    /// acceptor and no socket file, so it removes nothing.
    listening_socket(listening_socket&& other) noexcept;

    /// Closes this acceptor (without removing its socket file, as the
    /// destructor) and takes over `other`'s, as the move constructor.
    listening_socket& operator=(listening_socket&& other);

    listening_socket(const listening_socket&) = delete;
    listening_socket& operator=(const listening_socket&) = delete;
    /// Closes the acceptor; never removes the socket file (see above).
    ~listening_socket() = default;

    /// The acceptor: accept connections on it, or cancel and close it to stop
    /// accepting. Closed when `listen` failed or after `release_acceptor()`.
    acceptor_type& acceptor() noexcept { return acceptor_; }
    /// As above, read-only.
    const acceptor_type& acceptor() const noexcept { return acceptor_; }

    /// Moves the acceptor out (for a server that keeps acceptors elsewhere);
    /// this object keeps a closed acceptor, its endpoint and its socket file,
    /// so `remove_socket_file()` still works afterwards (best called while the
    /// moved-out acceptor is still open; see there).
    acceptor_type release_acceptor() noexcept { return std::move(acceptor_); }

    /// Where this socket listens. For TCP: the numeric address actually bound
    /// and the real port (so `127.0.0.1:0` becomes `127.0.0.1:41234`). For a
    /// Unix socket `listen` created: the endpoint as given. For an adopted
    /// descriptor: built from getsockname(2); an abstract-namespace Unix
    /// socket keeps its leading NUL in `path()` and has no parseable text form.
    const scgi::endpoint& endpoint() const noexcept { return endpoint_; }

    /// True while `remove_socket_file()` would still consider a file: this
    /// object created a Unix socket file and has not removed it. Always false
    /// for TCP and for adopted sockets (systemd or the caller owns the file).
    bool owns_socket_file() const noexcept { return socket_file_.has_value(); }

    /// Removes the Unix socket file `listen` created, if the file at that path
    /// is still the one it bound (same device and inode, still a socket): a
    /// restarted server may already have replaced it, and that file is left
    /// alone. A relative path is taken as it was resolved when listening, not
    /// against the current working directory. Does nothing for TCP, adopted
    /// sockets, or a second call. Errors are ignored: this runs on the way out.
    /// Call it before closing the acceptor: while the socket is open its inode
    /// cannot be freed, so no replacement file can reuse its inode number and
    /// pass for it.
    void remove_socket_file() noexcept;

private:
    friend struct detail::listening_socket_access;

    struct file_identity {
        std::string path;  // absolute when getcwd worked at listen time
        dev_t device;
        ino_t inode;
    };

    listening_socket(acceptor_type acceptor, scgi::endpoint ep, std::optional<file_identity> file) noexcept;

    acceptor_type acceptor_;
    scgi::endpoint endpoint_;
    std::optional<file_identity> socket_file_;
};

/// Opens a socket listening on `ep`, its acceptor bound to `ex`.
///
/// TCP: resolves `ep` (see `resolve`; a name blocks while it resolves) and
/// tries each address in order until one binds and listens; only that one
/// address is listened on (list several endpoints to listen on several).
/// SO_REUSEADDR is always set, so a restarted server binds at once although
/// connections of the previous one are in TIME_WAIT; SO_REUSEPORT is set
/// when `opt.reuse_port`. IPV6_V6ONLY is left at the system default: on
/// Linux (`net.ipv6.bindv6only = 0`) `[::]:port` accepts IPv4 connections
/// too, so listening on `0.0.0.0:port` beside it fails with `address_in_use`.
///
/// Unix socket: if something exists at the path (lstat(2), so a symlink is
/// not followed):
/// - not a socket: `error::unix_path_not_socket`, and it is left untouched;
/// - a socket some process listens on (a connection attempt is accepted or
///   its queue is full): `error::unix_socket_in_use`, and it is left
///   untouched. That process sees the attempt as a connection closed without
///   sending anything;
/// - a socket nobody listens on (ECONNREFUSED): stale, it is removed;
/// - any other connection error (EACCES, EPROTOTYPE for a datagram socket,
///   ...) is returned as it is (`std::system_category()`) and the file left.
/// Then the socket is bound, chmod'ed to `opt.unix_socket_mode` and put in
/// the listening state.
///
/// Errors (and a `listening_socket` with a closed acceptor and `ep` as its
/// endpoint): those of `endpoint::validate`; those of `resolve`; for TCP, the
/// first address's socket/bind/listen error when no address worked (e.g.
/// `std::errc::address_in_use`, `std::errc::address_not_available`,
/// `std::errc::permission_denied`); for Unix, the ones above and those of
/// socket/bind/chmod/listen (e.g. `std::errc::no_such_file_or_directory` for
/// a missing directory). If binding succeeded and a later step failed, the
/// file it created is removed.
///
/// Every operating-system error comes back in `std::system_category()`, even
/// when Asio reported it: Asio 1.22's own "asio.system" category does not
/// match `std::errc` values, so `ec == std::errc::address_in_use` would
/// otherwise be false (and `ec == asio::error::address_in_use` is false now).
listening_socket listen(const asio::any_io_executor& ex, const endpoint& ep, const listen_options& opt,
                        std::error_code& ec);

/// As above, but throws `std::system_error` carrying the same error codes;
/// for start-up code.
listening_socket listen(const asio::any_io_executor& ex, const endpoint& ep, const listen_options& opt = {});

/// Adopts the listening sockets systemd passed by socket activation, following
/// sd_listen_fds(3): when LISTEN_PID is this process's id, LISTEN_FDS = n
/// names the descriptors 3 .. 3+n-1, in the order of the unit's Listen*=
/// lines. LISTEN_FDNAMES is not interpreted.
///
/// Each descriptor must be a listening (SO_ACCEPTCONN) SOCK_STREAM socket of
/// family AF_INET, AF_INET6 or AF_UNIX. All are checked before any is
/// adopted; then each is made close-on-exec and owned by a `listening_socket`
/// on `ex` whose endpoint comes from getsockname(2) and which never removes a
/// socket file (systemd owns it).
///
/// With `unset_environment`, LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES are
/// removed from the environment whatever the outcome (as sd_listen_fds does),
/// so programs the server starts do not take the sockets for theirs.
/// Reads and changes the environment: call it at start-up, before threads.
///
/// No LISTEN_PID or LISTEN_FDS, or a LISTEN_PID of another process: an empty
/// vector and no error. Errors (and an empty vector, with every passed
/// descriptor left open and not adopted): `error::socket_activation_invalid`
/// when LISTEN_PID is not a positive decimal number, LISTEN_FDS is not a
/// decimal number from 1 to INT_MAX - 3, or a descriptor fails the checks
/// above; the system error if making one close-on-exec or registering it with
/// the executor's reactor fails.
std::vector<listening_socket> adopt_activated_sockets(const asio::any_io_executor& ex, std::error_code& ec,
                                                      bool unset_environment = true);

/// Adopts one descriptor the caller obtained some other way (inherited,
/// received over a Unix socket, ...), with the checks and effects of
/// `adopt_activated_sockets`: on success the returned object owns `fd`, made
/// close-on-exec, and never removes a socket file.
/// Errors (and a `listening_socket` with a closed acceptor; `fd` stays open and
/// the caller's): `error::socket_activation_invalid` when `fd` is not an open,
/// listening SOCK_STREAM socket of family AF_INET, AF_INET6 or AF_UNIX; the
/// system error if fcntl(2) or registering with the reactor fails.
listening_socket adopt_listening_socket(const asio::any_io_executor& ex, int fd, std::error_code& ec);

}  // namespace scgi
