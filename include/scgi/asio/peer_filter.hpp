/// @file
/// Which peers a server serves: TCP peers by address (an allowlist of IPv4
/// and IPv6 prefixes), Unix-socket peers by user or group (SO_PEERCRED).
/// Parsing and matching need no socket.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace scgi {

/// An IPv4 or IPv6 address prefix in CIDR notation: `127.0.0.1`, `10.0.0.0/8`,
/// `::1`, `fd00::/8`. An address without `/LENGTH` is a prefix of its full
/// length (32 or 128 bits): that one address.
///
/// IPv4 prefixes and peers are compared in their IPv4-mapped IPv6 form
/// (<code>\::ffff:a.b.c.d</code>), so an IPv4 entry matches an IPv4 peer however the
/// socket reports it: as an IPv4 address, or as an IPv4-mapped IPv6 address
/// (a `[::]` listener on Linux accepts IPv4 connections that way). For the
/// same reason an IPv6 entry that covers <code>\::ffff:0:0/96</code> (<code>\::/0</code>, say)
/// matches IPv4 peers too.
class address_prefix {
public:
    /// Matches no address (`contains` is always false); what `parse` returns
    /// on error.
    address_prefix() noexcept = default;

    /// Parses `ADDRESS` or `ADDRESS/LENGTH`. ADDRESS is numeric, in the form
    /// inet_pton(3) takes (dotted quad for IPv4, RFC 4291 text for IPv6; no
    /// names, no brackets, no zone); LENGTH is decimal. Errors (and a prefix
    /// matching nothing):
    /// - `error::address_prefix_invalid`: empty text, or ADDRESS is not a
    ///   numeric IPv4 or IPv6 address (one holding a NUL byte is not, even
    ///   if the bytes before the NUL are);
    /// - `error::address_prefix_length_invalid`: LENGTH is empty, not all
    ///   digits, or more than 32 (IPv4) or 128 (IPv6);
    /// - `error::address_prefix_host_bits_set`: ADDRESS has bits set past
    ///   LENGTH (`10.0.0.1/8`), which is usually a typo for `10.0.0.0/8` or
    ///   for `10.0.0.1/32`; refused rather than guessed.
    static address_prefix parse(std::string_view text, std::error_code& ec);

    /// As above, but throws `std::system_error` carrying the same error
    /// codes, its `what()` quoting `text` (a NUL byte written `\0`); for
    /// start-up code.
    static address_prefix parse(std::string_view text);

    /// True if the socket address `address` (`length` bytes of it valid, as
    /// accept(2) or getpeername(2) report) is an AF_INET or AF_INET6 address
    /// within this prefix. Any other family, or a length too short for its
    /// family: false.
    bool contains(const sockaddr* address, std::size_t length) const noexcept;

    /// True for a prefix `parse` made from an IPv4 address.
    bool is_v4() const noexcept { return family_ == family::v4; }

    /// The prefix as `parse` reads it back: `10.0.0.0/8`, `::1/128`; the
    /// default-constructed prefix gives `none`.
    std::string to_string() const;

    /// Same family, address and length.
    friend bool operator==(const address_prefix&, const address_prefix&) = default;

private:
    enum class family : unsigned char { none, v4, v6 };

    std::array<unsigned char, 16> mapped_{};  // IPv4 as ::ffff:a.b.c.d
    unsigned char mapped_length_ = 0;         // bits of mapped_ compared (IPv4: 96 + length)
    family family_ = family::none;
};

/// Which peers a server serves; the rest are closed as soon as they are
/// accepted, without a byte of response (no SCGI or HTTP answer: an
/// unauthorised peer learns nothing, and a front end reports its usual
/// "backend closed the connection", 502 in nginx), and logged at warning
/// level once per peer and `refusal_log_interval`.
///
/// Empty by default: every peer is served. The usual access control of a
/// backend lies outside it and costs nothing per connection: a Unix socket's
/// file mode and group (`listen_options::unix_socket_mode`,
/// `listen_options::unix_socket_group`) decide who may connect at all, and a
/// TCP listener bound to 127.0.0.1 is unreachable from other machines. A
/// filter is a second line behind those: a TCP port that must listen on an
/// interface others reach, or a socket directory shared with users who may
/// not use this backend.
///
/// Cost: with no filter for a listener's transport, nothing (the accept path
/// does what it does without one). An address filter reads the peer address
/// accept4(2) returns anyway; a user or group filter adds one getsockopt(2)
/// per accepted Unix connection.
struct peer_filter {
    /// TCP peers served: those whose address lies in one of these prefixes
    /// (`address_prefix::parse`). Empty: every TCP peer. Does not apply to
    /// Unix sockets.
    std::vector<address_prefix> allowed_addresses;

    /// Unix-socket peers served: those whose effective user id, as the kernel
    /// recorded it when the peer connected (SO_PEERCRED), is in this set, or
    /// whose effective group id is in `allowed_gids`. Both empty: every Unix
    /// peer. Does not apply to TCP.
    std::vector<uid_t> allowed_uids;

    /// Unix-socket peers served by effective group id (SO_PEERCRED), besides
    /// those `allowed_uids` admits. Only the peer's effective group counts,
    /// not its supplementary groups: a front end's workers run with their
    /// own group (www-data, nginx) as the effective one.
    std::vector<gid_t> allowed_gids;

    /// A refused peer (a TCP address, or a Unix peer's uid and gid) gets one
    /// log line per this interval, not one per connection; the next line
    /// says how many were refused unlogged meanwhile. 60 s: a scan or a
    /// misconfigured front end shows within a minute, and a flood cannot
    /// fill the log.
    std::chrono::seconds refusal_log_interval{60};

    /// Peers remembered for `refusal_log_interval`, per listener, in a table
    /// allocated once when the listener starts. When more distinct peers are
    /// refused within one interval, the others share one line per interval:
    /// a flood from many addresses costs neither memory nor log lines. A
    /// peer whose interval is over gives its place to a new one, whose line
    /// then also counts the old peer's refusals not yet logged.
    std::size_t refusal_log_peers = 64;

    /// True if TCP peers are checked (`allowed_addresses` is not empty).
    bool checks_addresses() const noexcept { return !allowed_addresses.empty(); }

    /// True if Unix-socket peers are checked (a uid or gid is listed).
    bool checks_credentials() const noexcept { return !allowed_uids.empty() || !allowed_gids.empty(); }

    /// True if a TCP peer at `address` (`length` valid bytes) is served:
    /// no address is listed, or one of `allowed_addresses` contains it.
    bool admits_address(const sockaddr* address, std::size_t length) const noexcept;

    /// True if a Unix-socket peer running as `uid` and `gid` is served: no
    /// uid or gid is listed, or `uid` is in `allowed_uids`, or `gid` in
    /// `allowed_gids`.
    bool admits_credentials(uid_t uid, gid_t gid) const noexcept;
};

}  // namespace scgi
