#include <scgi/asio/endpoint.hpp>

#include <scgi/error.hpp>

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>

namespace {

using namespace std::string_literals;
using scgi::endpoint;
using kind = scgi::endpoint::kind;

endpoint parse_ok(std::string_view text) {
    std::error_code ec = scgi::error::need_more;  // must be cleared
    endpoint ep = endpoint::parse(text, ec);
    EXPECT_FALSE(ec) << text << ": " << ec.message();
    return ep;
}

std::error_code parse_error(std::string_view text) {
    std::error_code ec;
    const endpoint ep = endpoint::parse(text, ec);
    EXPECT_EQ(ep, endpoint()) << text << ": a failed parse returns the empty endpoint";
    return ec;
}

void expect_tcp(std::string_view text, const std::string& host, std::uint16_t port) {
    const endpoint ep = parse_ok(text);
    EXPECT_EQ(ep.type(), kind::tcp) << text;
    EXPECT_EQ(ep.host(), host) << text;
    EXPECT_EQ(ep.port(), port) << text;
    EXPECT_EQ(ep.path(), "") << text;
}

void expect_unix(std::string_view text, const std::string& path) {
    const endpoint ep = parse_ok(text);
    EXPECT_EQ(ep.type(), kind::unix_socket) << text;
    EXPECT_EQ(ep.path(), path) << text;
    EXPECT_EQ(ep.host(), "") << text;
    EXPECT_EQ(ep.port(), 0) << text;
}

// --- valid text ----------------------------------------------------------------

TEST(EndpointParse, TcpHostPort) {
    expect_tcp("127.0.0.1:9000", "127.0.0.1", 9000);
    expect_tcp("localhost:0", "localhost", 0);
    expect_tcp("example.com:65535", "example.com", 65535);
    expect_tcp("h:1", "h", 1);
    expect_tcp("0.0.0.0:8080", "0.0.0.0", 8080);
}

TEST(EndpointParse, BracketedHosts) {
    expect_tcp("[::1]:80", "::1", 80);
    expect_tcp("[::]:0", "::", 0);
    expect_tcp("[fe80::1%lo]:9000", "fe80::1%lo", 9000);
    // Brackets are how a host named "unix" is written; any host may use them.
    expect_tcp("[unix]:80", "unix", 80);
    expect_tcp("[localhost]:80", "localhost", 80);
}

TEST(EndpointParse, PortDigits) {
    expect_tcp("h:00080", "h", 80);  // five digits, leading zeros allowed
    expect_tcp("h:0", "h", 0);
    expect_tcp("h:65535", "h", 65535);
}

TEST(EndpointParse, UnixPrefix) {
    expect_unix("unix:/tmp/x.sock", "/tmp/x.sock");
    expect_unix("unix:relative.sock", "relative.sock");
    expect_unix("unix:80", "80");  // the prefix wins over host:port
    expect_unix("unix:unix:x", "unix:x");
    expect_unix("unix:[::1]:80", "[::1]:80");
}

TEST(EndpointParse, AnyTextWithSlashIsAPath) {
    expect_unix("/tmp/x.sock", "/tmp/x.sock");
    expect_unix("./rel/x.sock", "./rel/x.sock");
    expect_unix("rel/x.sock", "rel/x.sock");
    expect_unix("/tmp/host:80", "/tmp/host:80");
    expect_unix("[::1]:80/", "[::1]:80/");
    expect_unix("/", "/");
}

TEST(EndpointParse, UnixPrefixIsCaseSensitive) {
    EXPECT_EQ(parse_error("UNIX:x.sock"), scgi::error::endpoint_invalid_port);  // host "UNIX", port "x.sock"
}

TEST(EndpointParse, UnixPathLengthBoundary) {
    ASSERT_EQ(endpoint::max_unix_path_length, sizeof(sockaddr_un::sun_path) - 1);
    const std::string longest = "/" + std::string(endpoint::max_unix_path_length - 1, 'a');
    expect_unix(longest, longest);
    expect_unix("unix:" + longest, longest);
    EXPECT_EQ(parse_error(longest + "a"), scgi::error::endpoint_path_too_long);
    EXPECT_EQ(parse_error("unix:" + longest + "a"), scgi::error::endpoint_path_too_long);
    EXPECT_EQ(parse_error("unix:" + std::string(endpoint::max_unix_path_length + 1, 'a')),
              scgi::error::endpoint_path_too_long);
}

TEST(EndpointParse, ThrowingOverload) {
    EXPECT_EQ(endpoint::parse("127.0.0.1:9000"), endpoint::tcp("127.0.0.1", 9000));
    try {
        (void)endpoint::parse("localhost");
        FAIL() << "no exception";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), scgi::error::endpoint_missing_port);
        EXPECT_NE(std::string(e.what()).find("localhost"), std::string::npos) << e.what();
    }
}

// --- every error value ---------------------------------------------------------

TEST(EndpointParse, Empty) {
    EXPECT_EQ(parse_error(""), scgi::error::endpoint_empty);
}

TEST(EndpointParse, InvalidPath) {
    EXPECT_EQ(parse_error("unix:"), scgi::error::endpoint_invalid_path);
    EXPECT_EQ(parse_error("unix:a\0b"s), scgi::error::endpoint_invalid_path);
    EXPECT_EQ(parse_error("/tmp/a\0b"s), scgi::error::endpoint_invalid_path);
    EXPECT_EQ(parse_error("unix:\0abstract"s), scgi::error::endpoint_invalid_path);
}

TEST(EndpointParse, MissingPort) {
    EXPECT_EQ(parse_error("localhost"), scgi::error::endpoint_missing_port);
    EXPECT_EQ(parse_error("127.0.0.1"), scgi::error::endpoint_missing_port);
    EXPECT_EQ(parse_error("unix"), scgi::error::endpoint_missing_port);
    EXPECT_EQ(parse_error("[::1]"), scgi::error::endpoint_missing_port);
}

TEST(EndpointParse, InvalidPort) {
    for (const char* text : {"h:", "h:65536", "h:99999", "h:100000", "h:000000", "h:-1", "h:+1", "h: 80",
                             "h:80 ", "h:8a", "h:0x10", "h:http", "[::1]:", "[::1]:65536", "[::1]:x"}) {
        EXPECT_EQ(parse_error(text), scgi::error::endpoint_invalid_port) << text;
    }
    // Non-ASCII digits (here U+0661 ARABIC-INDIC DIGIT ONE) are not digits.
    EXPECT_EQ(parse_error("h:\xd9\xa1"), scgi::error::endpoint_invalid_port);
}

TEST(EndpointParse, InvalidHost) {
    for (const char* text : {":8080", ":", "[]:80", "[::1:80", "[::1", "[", "[::1]80", "[::1]x:80",
                             "[::1]]:80", "::1:80", "a:b:80", "[a[b]:80", "a]:80", "a[:80", " h:80",
                             "h h:80", "h\t:80", "\x7f:80"}) {
        EXPECT_EQ(parse_error(text), scgi::error::endpoint_invalid_host) << text;
    }
    EXPECT_EQ(parse_error("a\0b:80"s), scgi::error::endpoint_invalid_host);
}

TEST(EndpointParse, ErrorsAreInvalidArguments) {
    std::error_code ec;
    (void)endpoint::parse(":80", ec);
    EXPECT_EQ(ec, scgi::condition::invalid_argument);
}

// --- factories, validate, to_string ----------------------------------------------

TEST(Endpoint, Factories) {
    const endpoint t = endpoint::tcp("::1", 443);
    EXPECT_EQ(t.type(), kind::tcp);
    EXPECT_EQ(t.host(), "::1");
    EXPECT_EQ(t.port(), 443);
    EXPECT_EQ(t.path(), "");
    const endpoint u = endpoint::unix_socket("/run/app.sock");
    EXPECT_EQ(u.type(), kind::unix_socket);
    EXPECT_EQ(u.path(), "/run/app.sock");
    EXPECT_EQ(u.host(), "");
    EXPECT_EQ(u.port(), 0);
    const endpoint d;
    EXPECT_EQ(d.type(), kind::tcp);
    EXPECT_EQ(d.host(), "");
    EXPECT_EQ(d.port(), 0);
}

TEST(Endpoint, Equality) {
    EXPECT_EQ(endpoint::tcp("h", 1), endpoint::tcp("h", 1));
    EXPECT_NE(endpoint::tcp("h", 1), endpoint::tcp("h", 2));
    EXPECT_NE(endpoint::tcp("h", 1), endpoint::tcp("g", 1));
    EXPECT_NE(endpoint::tcp("localhost", 80), endpoint::tcp("127.0.0.1", 80));
    EXPECT_EQ(endpoint::unix_socket("/a"), endpoint::unix_socket("/a"));
    EXPECT_NE(endpoint::unix_socket("/a"), endpoint::unix_socket("/b"));
    EXPECT_NE(endpoint::unix_socket("a"), endpoint::tcp("a", 0));
}

TEST(Endpoint, Validate) {
    EXPECT_FALSE(endpoint::tcp("localhost", 0).validate());
    EXPECT_FALSE(endpoint::tcp("::1", 80).validate());
    EXPECT_FALSE(endpoint::unix_socket("x").validate());
    EXPECT_EQ(endpoint().validate(), scgi::error::endpoint_invalid_host);
    EXPECT_EQ(endpoint::tcp("", 80).validate(), scgi::error::endpoint_invalid_host);
    EXPECT_EQ(endpoint::tcp("[::1]", 80).validate(), scgi::error::endpoint_invalid_host);
    EXPECT_EQ(endpoint::tcp("a/b", 80).validate(), scgi::error::endpoint_invalid_host);
    EXPECT_EQ(endpoint::tcp("a b", 80).validate(), scgi::error::endpoint_invalid_host);
    EXPECT_EQ(endpoint::tcp("a\0b"s, 80).validate(), scgi::error::endpoint_invalid_host);
    EXPECT_EQ(endpoint::unix_socket("").validate(), scgi::error::endpoint_invalid_path);
    EXPECT_EQ(endpoint::unix_socket("a\0b"s).validate(), scgi::error::endpoint_invalid_path);
    EXPECT_FALSE(endpoint::unix_socket(std::string(endpoint::max_unix_path_length, 'a')).validate());
    EXPECT_EQ(endpoint::unix_socket(std::string(endpoint::max_unix_path_length + 1, 'a')).validate(),
              scgi::error::endpoint_path_too_long);
}

TEST(Endpoint, ToString) {
    EXPECT_EQ(endpoint::tcp("127.0.0.1", 9000).to_string(), "127.0.0.1:9000");
    EXPECT_EQ(endpoint::tcp("localhost", 0).to_string(), "localhost:0");
    EXPECT_EQ(endpoint::tcp("::1", 80).to_string(), "[::1]:80");
    EXPECT_EQ(endpoint::tcp("unix", 80).to_string(), "[unix]:80");
    EXPECT_EQ(endpoint::tcp("h", 65535).to_string(), "h:65535");
    EXPECT_EQ(endpoint::unix_socket("/tmp/x.sock").to_string(), "unix:/tmp/x.sock");
    EXPECT_EQ(endpoint::unix_socket("relative.sock").to_string(), "unix:relative.sock");
}

TEST(Endpoint, ToStringRoundTrips) {
    const endpoint cases[] = {
        endpoint::tcp("127.0.0.1", 9000),
        endpoint::tcp("localhost", 0),
        endpoint::tcp("::1", 80),
        endpoint::tcp("fe80::1%lo", 1),
        endpoint::tcp("unix", 80),
        endpoint::tcp("example.com", 65535),
        endpoint::unix_socket("/tmp/x.sock"),
        endpoint::unix_socket("./rel/x.sock"),
        endpoint::unix_socket("relative.sock"),
        endpoint::unix_socket("80"),
        endpoint::unix_socket("unix:x"),
        endpoint::unix_socket("[::1]:80"),
        endpoint::unix_socket(std::string(endpoint::max_unix_path_length, 'p')),
    };
    for (const endpoint& ep : cases) {
        ASSERT_FALSE(ep.validate()) << ep.to_string();
        EXPECT_EQ(parse_ok(ep.to_string()), ep) << ep.to_string();
    }
    // And text -> endpoint -> text is stable once normalised.
    for (const char* text : {"127.0.0.1:9000", "[::1]:80", "unix:/tmp/x.sock", "unix:relative.sock"}) {
        EXPECT_EQ(parse_ok(text).to_string(), text);
    }
    EXPECT_EQ(parse_ok("/tmp/x.sock").to_string(), "unix:/tmp/x.sock");
    EXPECT_EQ(parse_ok("[localhost]:80").to_string(), "localhost:80");
    EXPECT_EQ(parse_ok("h:00080").to_string(), "h:80");
}

// --- resolve -------------------------------------------------------------------

std::uint16_t port_of(const asio::generic::stream_protocol::endpoint& address) {
    // sin_port and sin6_port sit at the same offset, in network byte order.
    unsigned char bytes[2];
    std::memcpy(bytes, reinterpret_cast<const unsigned char*>(address.data()) + offsetof(sockaddr_in, sin_port), 2);
    return static_cast<std::uint16_t>(bytes[0] << 8 | bytes[1]);
}

TEST(EndpointResolve, Ipv4Literal) {
    std::error_code ec;
    const auto addresses = scgi::resolve(endpoint::parse("127.0.0.1:80"), ec);
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_EQ(addresses.size(), 1u);
    EXPECT_EQ(addresses[0].data()->sa_family, AF_INET);
    EXPECT_EQ(addresses[0].size(), sizeof(sockaddr_in));
    EXPECT_EQ(addresses[0].protocol().family(), AF_INET);
    EXPECT_EQ(addresses[0].protocol().type(), SOCK_STREAM);
    EXPECT_EQ(port_of(addresses[0]), 80);
    sockaddr_in in{};
    std::memcpy(&in, addresses[0].data(), sizeof in);
    EXPECT_EQ(in.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
}

TEST(EndpointResolve, Ipv6Literal) {
    std::error_code ec;
    const auto addresses = scgi::resolve(endpoint::parse("[::1]:80"), ec);
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_EQ(addresses.size(), 1u);
    EXPECT_EQ(addresses[0].data()->sa_family, AF_INET6);
    EXPECT_EQ(addresses[0].size(), sizeof(sockaddr_in6));
    EXPECT_EQ(addresses[0].protocol().family(), AF_INET6);
    EXPECT_EQ(port_of(addresses[0]), 80);
    sockaddr_in6 in6{};
    std::memcpy(&in6, addresses[0].data(), sizeof in6);
    EXPECT_TRUE(IN6_IS_ADDR_LOOPBACK(&in6.sin6_addr));
}

TEST(EndpointResolve, NameGivesEveryAddressWithThePort) {
    std::error_code ec;
    const auto addresses = scgi::resolve(endpoint::parse("localhost:8080"), ec);
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_FALSE(addresses.empty());
    for (const auto& address : addresses) {
        const int family = address.data()->sa_family;
        EXPECT_TRUE(family == AF_INET || family == AF_INET6) << family;
        EXPECT_EQ(port_of(address), 8080);
    }
}

TEST(EndpointResolve, UnixPath) {
    std::error_code ec;
    const auto addresses = scgi::resolve(endpoint::parse("/tmp/x.sock"), ec);
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_EQ(addresses.size(), 1u);
    const auto& address = addresses[0];
    EXPECT_EQ(address.data()->sa_family, AF_UNIX);
    EXPECT_EQ(address.protocol().family(), AF_UNIX);
    EXPECT_EQ(address.protocol().type(), SOCK_STREAM);
    const std::size_t offset = offsetof(sockaddr_un, sun_path);
    ASSERT_GE(address.size(), offset + std::strlen("/tmp/x.sock"));
    const std::string path(reinterpret_cast<const char*>(address.data()) + offset, std::strlen("/tmp/x.sock"));
    EXPECT_EQ(path, "/tmp/x.sock");

    const std::string longest(endpoint::max_unix_path_length, 'a');
    EXPECT_EQ(scgi::resolve(endpoint::unix_socket(longest), ec).size(), 1u);
    EXPECT_FALSE(ec) << ec.message();
}

TEST(EndpointResolve, RefusesInvalidEndpoints) {
    const endpoint bad[] = {endpoint(), endpoint::tcp("", 80), endpoint::tcp("a/b", 80), endpoint::unix_socket(""),
                            endpoint::unix_socket(std::string(endpoint::max_unix_path_length + 1, 'a'))};
    const scgi::error expected[] = {scgi::error::endpoint_invalid_host, scgi::error::endpoint_invalid_host,
                                    scgi::error::endpoint_invalid_host, scgi::error::endpoint_invalid_path,
                                    scgi::error::endpoint_path_too_long};
    for (std::size_t i = 0; i < std::size(bad); ++i) {
        std::error_code ec;
        EXPECT_TRUE(scgi::resolve(bad[i], ec).empty()) << i;
        EXPECT_EQ(ec, expected[i]) << i;
    }
}

TEST(EndpointResolve, UnknownNameFails) {
    // RFC 6761 reserves .invalid: no resolver answers it. This may send one
    // DNS query, bounded by the resolver's own timeout.
    std::error_code ec;
    EXPECT_TRUE(scgi::resolve(endpoint::tcp("scgi-test.invalid", 80), ec).empty());
    EXPECT_TRUE(ec);
}

}  // namespace
