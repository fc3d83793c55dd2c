// scgi::peer_filter: parsing and matching without sockets, the refusal log's
// limiter with a synthetic clock, then a server behind a filter over real
// sockets (127.0.0.1, [::1], a Unix socket), both the served and the refused
// path.
#include <scgi/asio/peer_filter.hpp>

#include <scgi/error.hpp>

#include "peer_gate.hpp"
#include "server_harness.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace {

using namespace std::chrono_literals;
using scgi::address_prefix;

// ---- addresses as accept(2) reports them ----------------------------------------

struct socket_address {
    sockaddr_storage storage{};
    std::size_t length = 0;
    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

socket_address v4(const char* text) {
    socket_address a;
    auto* in = reinterpret_cast<sockaddr_in*>(&a.storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(40000);
    EXPECT_EQ(::inet_pton(AF_INET, text, &in->sin_addr), 1) << text;
    a.length = sizeof(sockaddr_in);
    return a;
}

socket_address v6(const char* text) {
    socket_address a;
    auto* in = reinterpret_cast<sockaddr_in6*>(&a.storage);
    in->sin6_family = AF_INET6;
    in->sin6_port = htons(40000);
    EXPECT_EQ(::inet_pton(AF_INET6, text, &in->sin6_addr), 1) << text;
    a.length = sizeof(sockaddr_in6);
    return a;
}

bool contains(const char* prefix, const socket_address& a) {
    return address_prefix::parse(prefix).contains(a.get(), a.length);
}

// ---- parsing --------------------------------------------------------------------

TEST(AddressPrefix, ParsesAddressesAndPrefixes) {
    const struct {
        const char* text;
        const char* canonical;
        bool is_v4;
    } cases[] = {
        {"127.0.0.1", "127.0.0.1/32", true},       {"10.0.0.0/8", "10.0.0.0/8", true},
        {"0.0.0.0/0", "0.0.0.0/0", true},          {"192.168.1.128/25", "192.168.1.128/25", true},
        {"::1", "::1/128", false},                 {"fd00::/8", "fd00::/8", false},
        {"::/0", "::/0", false},                   {"2001:DB8::/32", "2001:db8::/32", false},
        {"::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104", false},
    };
    for (const auto& c : cases) {
        std::error_code ec = scgi::error::need_more;  // must be cleared
        const address_prefix prefix = address_prefix::parse(c.text, ec);
        ASSERT_FALSE(ec) << c.text << ": " << ec.message();
        EXPECT_EQ(prefix.to_string(), c.canonical) << c.text;
        EXPECT_EQ(prefix.is_v4(), c.is_v4) << c.text;
        EXPECT_EQ(address_prefix::parse(prefix.to_string()), prefix) << c.text;  // reads its own text back
    }
}

// inet_pton reads a C string: a NUL would end the address early and let
// whatever follows it pass unread.
TEST(AddressPrefix, RefusesANulByteAnywhereInTheAddress) {
    using namespace std::string_literals;
    const struct {
        std::string text;
        scgi::error expected;
    } cases[] = {
        {"10.0.0.1\0junk"s, scgi::error::address_prefix_invalid},
        {"10.0.0.1\0"s, scgi::error::address_prefix_invalid},
        {"\0"s, scgi::error::address_prefix_invalid},
        {"10.0.0.0\0/8"s, scgi::error::address_prefix_invalid},
        {"::1\0"s, scgi::error::address_prefix_invalid},
        {"10.0.0.0/8\0"s, scgi::error::address_prefix_length_invalid},
    };
    for (const auto& c : cases) {
        ASSERT_NE(c.text.find('\0'), std::string::npos);
        std::error_code ec;
        const address_prefix prefix = address_prefix::parse(c.text, ec);
        EXPECT_EQ(ec, c.expected) << c.text.size() << " bytes: " << ec.message();
        EXPECT_EQ(prefix, address_prefix());
    }
    // The throwing form's what() shows the NUL rather than ending at it.
    try {
        (void)address_prefix::parse("10.0.0.1\0junk"s);
        FAIL() << "no exception";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), scgi::error::address_prefix_invalid);
        EXPECT_NE(std::string(e.what()).find(R"("10.0.0.1\0junk")"), std::string::npos) << e.what();
    }
}

TEST(AddressPrefix, RefusesWhatIsNotAPrefixNamingTheProblem) {
    const struct {
        const char* text;
        scgi::error expected;
    } cases[] = {
        {"", scgi::error::address_prefix_invalid},
        {"/8", scgi::error::address_prefix_invalid},
        {"localhost", scgi::error::address_prefix_invalid},
        {"10.0.0", scgi::error::address_prefix_invalid},
        {"10.0.0.256", scgi::error::address_prefix_invalid},
        {" 10.0.0.1", scgi::error::address_prefix_invalid},
        {"[::1]", scgi::error::address_prefix_invalid},
        {"fe80::1%eth0", scgi::error::address_prefix_invalid},
        {"1:2:3:4:5:6:7:8:9", scgi::error::address_prefix_invalid},
        {"10.0.0.0/", scgi::error::address_prefix_length_invalid},
        {"10.0.0.0/33", scgi::error::address_prefix_length_invalid},
        {"10.0.0.0/-1", scgi::error::address_prefix_length_invalid},
        {"10.0.0.0/+8", scgi::error::address_prefix_length_invalid},
        {"10.0.0.0/8 ", scgi::error::address_prefix_length_invalid},
        {"10.0.0.0/8/8", scgi::error::address_prefix_length_invalid},
        {"10.0.0.0/0008", scgi::error::address_prefix_length_invalid},
        {"::/129", scgi::error::address_prefix_length_invalid},
        {"10.0.0.1/8", scgi::error::address_prefix_host_bits_set},
        {"192.168.1.1/31", scgi::error::address_prefix_host_bits_set},
        {"fd00::1/8", scgi::error::address_prefix_host_bits_set},
    };
    for (const auto& c : cases) {
        std::error_code ec;
        const address_prefix prefix = address_prefix::parse(c.text, ec);
        EXPECT_EQ(ec, c.expected) << '"' << c.text << "\": " << ec.message();
        EXPECT_EQ(ec, scgi::condition::invalid_argument) << c.text;
        EXPECT_EQ(prefix, address_prefix()) << c.text;
        EXPECT_FALSE(prefix.contains(v4("10.0.0.1").get(), sizeof(sockaddr_in))) << c.text;
    }
    // The throwing form quotes the text in what().
    try {
        (void)address_prefix::parse("10.0.0.1/8");
        FAIL() << "no exception";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), scgi::error::address_prefix_host_bits_set);
        EXPECT_NE(std::string(e.what()).find("\"10.0.0.1/8\""), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("bits set past its length"), std::string::npos) << e.what();
    }
}

// ---- matching -------------------------------------------------------------------

TEST(AddressPrefix, MatchesAddressesWithinIt) {
    EXPECT_TRUE(contains("127.0.0.1", v4("127.0.0.1")));
    EXPECT_FALSE(contains("127.0.0.1", v4("127.0.0.2")));
    EXPECT_TRUE(contains("10.0.0.0/8", v4("10.255.1.2")));
    EXPECT_FALSE(contains("10.0.0.0/8", v4("11.0.0.0")));
    EXPECT_TRUE(contains("192.168.1.128/25", v4("192.168.1.200")));
    EXPECT_FALSE(contains("192.168.1.128/25", v4("192.168.1.127")));
    EXPECT_TRUE(contains("0.0.0.0/0", v4("203.0.113.9")));
    EXPECT_TRUE(contains("::1", v6("::1")));
    EXPECT_FALSE(contains("::1", v6("::2")));
    EXPECT_TRUE(contains("fd00::/8", v6("fd12:3456::1")));
    EXPECT_FALSE(contains("fd00::/8", v6("fe80::1")));
    EXPECT_TRUE(contains("2001:db8::/33", v6("2001:db8:7fff::1")));
    EXPECT_FALSE(contains("2001:db8::/33", v6("2001:db8:8000::1")));
}

TEST(AddressPrefix, IPv4MappedPeersMatchIPv4Entries) {
    // How a [::] listener reports an IPv4 client.
    EXPECT_TRUE(contains("127.0.0.1", v6("::ffff:127.0.0.1")));
    EXPECT_TRUE(contains("10.0.0.0/8", v6("::ffff:10.1.2.3")));
    EXPECT_FALSE(contains("10.0.0.0/8", v6("::ffff:11.1.2.3")));
    // Not the IPv4-compatible form, nor an address that merely ends alike.
    EXPECT_FALSE(contains("10.0.0.0/8", v6("::10.1.2.3")));
    EXPECT_FALSE(contains("10.0.0.0/8", v6("64:ff9b::10.1.2.3")));
    // An IPv4 entry matches no real IPv6 peer, an IPv6 entry no IPv4 peer
    // unless it covers the mapped range.
    EXPECT_FALSE(contains("0.0.0.0/0", v6("::1")));
    EXPECT_FALSE(contains("::1", v4("127.0.0.1")));
    EXPECT_FALSE(contains("fd00::/8", v4("10.0.0.1")));
    EXPECT_TRUE(contains("::ffff:10.0.0.0/104", v4("10.9.9.9")));
    EXPECT_TRUE(contains("::/0", v4("10.9.9.9")));
}

TEST(AddressPrefix, OtherFamiliesAndShortAddressesMatchNothing) {
    sockaddr_storage unix_address{};
    unix_address.ss_family = AF_UNIX;
    EXPECT_FALSE(address_prefix::parse("::/0").contains(reinterpret_cast<const sockaddr*>(&unix_address),
                                                        sizeof unix_address));
    const socket_address a = v4("10.0.0.1");
    EXPECT_FALSE(address_prefix::parse("10.0.0.0/8").contains(a.get(), sizeof(sockaddr_in) - 1));
    EXPECT_FALSE(address_prefix::parse("10.0.0.0/8").contains(nullptr, 0));
    EXPECT_FALSE(address_prefix().contains(a.get(), a.length));
    EXPECT_EQ(address_prefix().to_string(), "none");
}

TEST(PeerFilter, EmptyAdmitsEveryoneAndChecksNothing) {
    const scgi::peer_filter filter;
    EXPECT_FALSE(filter.checks_addresses());
    EXPECT_FALSE(filter.checks_credentials());
    EXPECT_TRUE(filter.admits_address(v4("203.0.113.9").get(), sizeof(sockaddr_in)));
    EXPECT_TRUE(filter.admits_credentials(12345, 12345));
    EXPECT_EQ(filter.refusal_log_interval, 60s);
    EXPECT_EQ(filter.refusal_log_peers, 64u);
}

TEST(PeerFilter, AddressesAreAnAllowlist) {
    scgi::peer_filter filter;
    filter.allowed_addresses = {address_prefix::parse("127.0.0.1"), address_prefix::parse("fd00::/8")};
    EXPECT_TRUE(filter.checks_addresses());
    EXPECT_FALSE(filter.checks_credentials());
    EXPECT_TRUE(filter.admits_address(v4("127.0.0.1").get(), sizeof(sockaddr_in)));
    EXPECT_TRUE(filter.admits_address(v6("fd00::5").get(), sizeof(sockaddr_in6)));
    EXPECT_FALSE(filter.admits_address(v4("127.0.0.2").get(), sizeof(sockaddr_in)));
    EXPECT_FALSE(filter.admits_address(v6("::1").get(), sizeof(sockaddr_in6)));
    EXPECT_TRUE(filter.admits_credentials(12345, 12345));  // not a Unix filter
}

TEST(PeerFilter, UidsOrGidsAdmit) {
    scgi::peer_filter filter;
    filter.allowed_uids = {1000};
    EXPECT_TRUE(filter.checks_credentials());
    EXPECT_FALSE(filter.checks_addresses());
    EXPECT_TRUE(filter.admits_credentials(1000, 5));
    EXPECT_FALSE(filter.admits_credentials(1001, 5));
    filter.allowed_gids = {33};
    EXPECT_TRUE(filter.admits_credentials(1001, 33));  // either one is enough
    EXPECT_FALSE(filter.admits_credentials(1001, 34));
    filter.allowed_uids.clear();
    EXPECT_TRUE(filter.checks_credentials());
    EXPECT_FALSE(filter.admits_credentials(1000, 5));
    EXPECT_TRUE(filter.admits_address(v4("203.0.113.9").get(), sizeof(sockaddr_in)));  // not a TCP filter
}

// ---- the refusal log's limiter --------------------------------------------------

using scgi::detail::refusal_log;

refusal_log::peer_key key(unsigned char n) {
    refusal_log::peer_key k;
    k.bytes[15] = n;
    return k;
}

TEST(RefusalLog, OneLinePerPeerAndIntervalCountingTheRest) {
    refusal_log log(60s, 4);
    const auto t0 = refusal_log::clock::time_point() + 1h;
    auto v = log.note(key(1), t0);
    EXPECT_TRUE(v.log);
    EXPECT_FALSE(v.untracked);
    EXPECT_EQ(v.unlogged, 0u);
    for (int i = 0; i < 1000; ++i) EXPECT_FALSE(log.note(key(1), t0 + 59s).log);
    EXPECT_TRUE(log.note(key(2), t0 + 1s).log);  // another peer has its own line
    v = log.note(key(1), t0 + 60s);
    EXPECT_TRUE(v.log);
    EXPECT_EQ(v.unlogged, 1000u);
    EXPECT_FALSE(log.note(key(1), t0 + 61s).log);
    v = log.note(key(1), t0 + 200s);
    EXPECT_TRUE(v.log);
    EXPECT_EQ(v.unlogged, 1u);
}

TEST(RefusalLog, ManyPeersShareOneLinePerIntervalBeyondTheTable) {
    refusal_log log(60s, 4);
    const auto t0 = refusal_log::clock::time_point() + 1h;
    for (unsigned char p = 0; p < 4; ++p) EXPECT_TRUE(log.note(key(p), t0).log) << int(p);
    // A flood of distinct peers: one shared line, then silence, in bounded memory.
    auto v = log.note(key(100), t0 + 1s);
    EXPECT_TRUE(v.log);
    EXPECT_TRUE(v.untracked);
    std::size_t lines = 0;
    for (unsigned p = 0; p < 10000; ++p) lines += log.note(key(static_cast<unsigned char>(p % 200 + 50)), t0 + 2s).log;
    EXPECT_EQ(lines, 0u);
    v = log.note(key(101), t0 + 61s);  // the tracked peers' intervals are over: a place for it
    EXPECT_TRUE(v.log);
    EXPECT_FALSE(v.untracked);
    for (unsigned char p = 102; p < 105; ++p) EXPECT_TRUE(log.note(key(p), t0 + 61s).log);
    v = log.note(key(200), t0 + 62s);  // full again; the shared line's interval is over
    EXPECT_TRUE(v.log);
    EXPECT_TRUE(v.untracked);
    EXPECT_EQ(v.unlogged, 10000u);
}

// A verdict's fields, comparable and printable: log, untracked, unlogged, forgotten.
std::tuple<bool, bool, std::uint64_t, std::uint64_t> fields(const refusal_log::verdict& v) {
    return {v.log, v.untracked, v.unlogged, v.forgotten};
}

// A peer counted refusals after its line, then its interval ended without
// another: the count was reported by no line. When a new peer takes its
// place the count goes on the new peer's line, and a place with nothing
// unlogged is taken first.
TEST(RefusalLog, ATakenPlaceHandsItsUnloggedCountToTheNewPeersLine) {
    using fields_t = decltype(fields({}));
    refusal_log log(60s, 2);
    const auto t0 = refusal_log::clock::time_point() + 1h;
    EXPECT_TRUE(log.note(key(1), t0).log);
    for (int i = 0; i < 3; ++i) EXPECT_FALSE(log.note(key(1), t0 + 1s).log);
    EXPECT_TRUE(log.note(key(2), t0 + 2s).log);
    // Both intervals over: the new peer takes key(2)'s place, which counted nothing.
    EXPECT_EQ(fields(log.note(key(3), t0 + 62s)), fields_t(true, false, 0, 0));
    // Only key(1)'s place is free to take now: its three refusals come along.
    EXPECT_EQ(fields(log.note(key(4), t0 + 63s)), fields_t(true, false, 0, 3));
    // Reported once: key(1) comes back as a new peer, with no place free.
    EXPECT_EQ(fields(log.note(key(1), t0 + 64s)), fields_t(true, true, 0, 0));
    // A tracked peer's own line never carries another's count.
    EXPECT_EQ(fields(log.note(key(4), t0 + 200s)), fields_t(true, false, 0, 0));
}

TEST(RefusalLog, ZeroCapacityStillLogsOncePerInterval) {
    refusal_log log(60s, 0);
    const auto t0 = refusal_log::clock::time_point() + 1h;
    EXPECT_TRUE(log.note(key(1), t0).log);
    EXPECT_FALSE(log.note(key(2), t0).log);
    EXPECT_TRUE(log.note(key(3), t0 + 60s).log);
}

// ---- a server behind a filter, over real sockets --------------------------------

using scgi::test::peer;
using scgi::test::running_server;

scgi::server_options short_timeouts() {
    scgi::server_options options;
    options.head_timeout = 500ms;
    options.body_timeout = 500ms;
    options.write_timeout = 500ms;
    options.stop_timeout = 500ms;
    return options;
}

std::string request() { return scgi::test::post("/echo", "hello"); }

// Served: the echo of the body.
void expect_served(const scgi::endpoint& where) {
    const std::string response = scgi::test::round_trip(where, request());
    EXPECT_EQ(scgi::test::status_of(response), 200) << response;
    EXPECT_EQ(scgi::test::body_of(response), "hello");
}

// Refused: the connection ends (a close, or a reset as the request was left
// unread) and not one byte came back.
void expect_refused(const scgi::endpoint& where) {
    peer p(where);
    ASSERT_TRUE(p.connected());
    p.send(request());  // may fail once the server has closed; irrelevant
    int end = -1;
    const std::string response = p.receive_all(end);
    EXPECT_EQ(response, "");
    EXPECT_TRUE(end == 0 || end == ECONNRESET) << std::strerror(end);  // not the 10 s receive timeout
}

bool can_bind_ipv6_loopback() {
    const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_addr = in6addr_loopback;
    const bool bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return bound;
}

TEST(PeerFilterServer, TcpAllowedAddressIsServed) {
    scgi::server_options options = short_timeouts();
    options.peers.allowed_addresses = {address_prefix::parse("10.0.0.0/8"), address_prefix::parse("127.0.0.1")};
    running_server s(options);
    const scgi::endpoint where = s.listen_tcp();
    s.server->start();
    expect_served(where);
    s.stop_and_wait();
    EXPECT_FALSE(s.log.contains_now("refused a connection"));
}

TEST(PeerFilterServer, TcpOtherAddressIsClosedWithoutAByteAndLogged) {
    scgi::server_options options = short_timeouts();
    options.peers.allowed_addresses = {address_prefix::parse("10.0.0.0/8")};
    running_server s(options);
    const scgi::endpoint where = s.listen_tcp();
    s.server->start();
    expect_refused(where);
    ASSERT_TRUE(scgi::test::eventually([&] { return s.log.contains("refused a connection from 127.0.0.1"); }));
    EXPECT_TRUE(s.log.contains("warning: refused a connection from 127.0.0.1 on " + where.to_string() +
                               " (not in peer_filter::allowed_addresses)"));
    EXPECT_EQ(s.server->active_connections(), 0u);
}

TEST(PeerFilterServer, TcpIpv6LoopbackBothPaths) {
    if (!can_bind_ipv6_loopback()) GTEST_SKIP() << "::1 cannot be bound here";
    {
        scgi::server_options options = short_timeouts();
        options.peers.allowed_addresses = {address_prefix::parse("::1")};
        running_server s(options);
        const scgi::endpoint where = s.server->listen(scgi::endpoint::parse("[::1]:0"));
        s.server->start();
        expect_served(where);
    }
    scgi::server_options options = short_timeouts();
    options.peers.allowed_addresses = {address_prefix::parse("127.0.0.1"), address_prefix::parse("fd00::/8")};
    running_server s(options);
    const scgi::endpoint where = s.server->listen(scgi::endpoint::parse("[::1]:0"));
    s.server->start();
    expect_refused(where);
    EXPECT_TRUE(scgi::test::eventually([&] { return s.log.contains("refused a connection from ::1 "); }));
}

TEST(PeerFilterServer, AFloodFromOnePeerIsLoggedOncePerInterval) {
    scgi::server_options options = short_timeouts();
    options.peers.allowed_addresses = {address_prefix::parse("10.0.0.0/8")};
    running_server s(options);
    const scgi::endpoint where = s.listen_tcp();
    const scgi::endpoint unix_where = s.listen_unix();
    s.server->start();
    constexpr int flood = 50;
    // Each one is closed, after its line if it gets one, before the next starts.
    for (int i = 0; i < flood; ++i) expect_refused(where);
    // An address filter does not apply to a Unix socket.
    expect_served(unix_where);
    s.stop_and_wait();
    EXPECT_EQ(s.log.count("refused a connection"), 1u);
}

// Refused like expect_refused, connecting from `source` (any 127.0.0.0/8
// address is the loopback's on Linux). False if `source` cannot be bound.
bool refused_from(const char* source, const scgi::endpoint& where) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in from{};
    from.sin_family = AF_INET;
    ::inet_pton(AF_INET, source, &from.sin_addr);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(where.port());
    ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&from), sizeof from) != 0 ||
        ::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
        ::close(fd);
        return false;
    }
    const timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    // A request, as a front end sends at once (a listener may not report a
    // connection before its first byte): may fail once the server has closed.
    const std::string bytes = request();
    (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    char byte = 0;
    const ssize_t got = ::recv(fd, &byte, 1, 0);  // the close (or a reset), not a byte
    const int end = got < 0 ? errno : 0;
    ::close(fd);
    EXPECT_LE(got, 0) << source;
    EXPECT_TRUE(end == 0 || end == ECONNRESET) << std::strerror(end);
    return true;
}

// A table of one place: the second peer takes the first one's place once its
// interval is over, and its line reports the first one's unlogged refusal.
TEST(PeerFilterServer, APeerLeavingTheTableLeavesItsUnloggedCountToTheNextLine) {
    scgi::server_options options = short_timeouts();
    options.peers.allowed_addresses = {address_prefix::parse("10.0.0.0/8")};
    options.peers.refusal_log_interval = 1s;
    options.peers.refusal_log_peers = 1;
    running_server s(options);
    const scgi::endpoint where = s.listen_tcp();
    s.server->start();
    if (!refused_from("127.0.0.2", where)) GTEST_SKIP() << "127.0.0.2 cannot be bound here";
    ASSERT_TRUE(refused_from("127.0.0.2", where));  // counted, not logged
    std::this_thread::sleep_for(1100ms);            // 127.0.0.2's interval is over
    ASSERT_TRUE(refused_from("127.0.0.3", where));
    s.stop_and_wait();
    EXPECT_EQ(s.log.count("refused a connection from 127.0.0.2 on"), 1u);
    EXPECT_TRUE(s.log.contains_now("refused a connection from 127.0.0.3 on " + where.to_string() +
                                   " (not in peer_filter::allowed_addresses): closed without an answer; 1 "
                                   "refusal(s) of a peer no longer tracked (this one took its place) went unlogged"))
        << ::testing::PrintToString(s.log.all());
}

TEST(PeerFilterServer, UnixOwnUidIsServedOtherUidRefused) {
    {
        scgi::server_options options = short_timeouts();
        options.peers.allowed_uids = {::geteuid()};
        running_server s(options);
        const scgi::endpoint where = s.listen_unix();
        s.server->start();
        expect_served(where);
        s.stop_and_wait();
        EXPECT_FALSE(s.log.contains_now("refused"));
    }
    scgi::server_options options = short_timeouts();
    options.peers.allowed_uids = {::geteuid() + 1};
    running_server s(options);
    const scgi::endpoint where = s.listen_unix();
    const scgi::endpoint tcp_where = s.listen_tcp();
    s.server->start();
    expect_refused(where);
    expect_refused(where);
    // And TCP is not filtered by a uid.
    expect_served(tcp_where);
    s.stop_and_wait();
    EXPECT_EQ(s.log.count("refused a connection"), 1u);
    EXPECT_TRUE(s.log.contains_now("refused a connection from uid " + std::to_string(::geteuid()) + " gid " +
                                   std::to_string(::getegid()) + " (pid " + std::to_string(::getpid()) + ") on " +
                                   where.to_string()));
}

TEST(PeerFilterServer, UnixOwnGidIsServedOtherGidRefused) {
    {
        scgi::server_options options = short_timeouts();
        options.peers.allowed_uids = {::geteuid() + 1};
        options.peers.allowed_gids = {::getegid()};  // either admits
        running_server s(options);
        const scgi::endpoint where = s.listen_unix();
        s.server->start();
        expect_served(where);
    }
    scgi::server_options options = short_timeouts();
    options.peers.allowed_gids = {::getegid() + 1};
    running_server s(options);
    const scgi::endpoint where = s.listen_unix();
    s.server->start();
    expect_refused(where);
    EXPECT_TRUE(scgi::test::eventually([&] { return s.log.contains("neither in peer_filter::allowed_uids"); }));
}

}  // namespace
