#include <scgi/response_parser.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace std::string_literals;
using scgi::error;

struct parsed {
    std::error_code ec;
    std::size_t consumed = 0;
    int status = 0;
    std::string reason;
    std::vector<std::pair<std::string, std::string>> headers;
};

parsed parse(std::string_view input, std::size_t limit = scgi::response_parser::default_head_limit) {
    scgi::response_parser parser(limit);
    parsed out;
    out.consumed = parser.put(input, out.ec);
    if (!out.ec) {
        EXPECT_TRUE(parser.is_head_done());
        out.status = parser.head().status();
        out.reason = parser.head().reason();
        for (const scgi::header h : parser.head()) out.headers.emplace_back(h.name, h.value);
    }
    return out;
}

TEST(ResponseParser, CgiStatusForm) {
    const std::string input = "Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nbody";
    const auto out = parse(input);
    ASSERT_FALSE(out.ec) << out.ec.message();
    EXPECT_EQ(out.consumed, input.size() - 4);
    EXPECT_EQ(out.status, 404);
    EXPECT_EQ(out.reason, "Not Found");
    ASSERT_EQ(out.headers.size(), 1u);  // Status is not kept as a header
    EXPECT_EQ(out.headers[0].first, "Content-Type");
}

TEST(ResponseParser, HttpStatusLine) {
    auto out = parse("HTTP/1.1 201 Created\r\nLocation: /x\r\n\r\n");
    ASSERT_FALSE(out.ec);
    EXPECT_EQ(out.status, 201);  // Location does not override a status
    EXPECT_EQ(out.reason, "Created");
    out = parse("HTTP/1.0 503\r\n\r\n");
    ASSERT_FALSE(out.ec);
    EXPECT_EQ(out.status, 503);
    EXPECT_EQ(out.reason, "Service Unavailable");
    // A Status header overrides the status line.
    out = parse("HTTP/1.1 200 OK\r\nStatus: 500 Broken\r\n\r\n");
    EXPECT_EQ(out.status, 500);
    EXPECT_EQ(out.reason, "Broken");
}

TEST(ResponseParser, DefaultsAndRedirect) {
    auto out = parse("Content-Type: text/html\n\n");
    ASSERT_FALSE(out.ec);
    EXPECT_EQ(out.status, 200);
    EXPECT_EQ(out.reason, "OK");
    out = parse("Location: https://example.org/\r\n\r\n");
    EXPECT_EQ(out.status, 302);
    out = parse("location: /elsewhere\n\n");
    EXPECT_EQ(out.status, 302);
    out = parse("Status: 301 Moved\nLocation: /x\n\n");
    EXPECT_EQ(out.status, 301);
    out = parse("\r\nrest");
    ASSERT_FALSE(out.ec);
    EXPECT_EQ(out.consumed, 2u);
    EXPECT_TRUE(out.headers.empty());
}

TEST(ResponseParser, ValuesAreTrimmedAndMayBeEmpty) {
    const auto out = parse("A:   spaced out \t\r\nB:\r\nC:x\n\n");
    ASSERT_FALSE(out.ec);
    ASSERT_EQ(out.headers.size(), 3u);
    EXPECT_EQ(out.headers[0].second, "spaced out");
    EXPECT_EQ(out.headers[1].second, "");
    EXPECT_EQ(out.headers[2].second, "x");
}

TEST(ResponseParser, Errors) {
    EXPECT_EQ(parse("HTTP/2 200 OK\r\n\r\n").ec, error::bad_status_line);
    EXPECT_EQ(parse("HTTP/1.1 20 OK\r\n\r\n").ec, error::bad_status_line);
    EXPECT_EQ(parse("HTTP/1.1 2000 OK\r\n\r\n").ec, error::bad_status_line);
    EXPECT_EQ(parse("HTTP/1.1 099 OK\r\n\r\n").ec, error::bad_status_line);
    EXPECT_EQ(parse("HTTP/1.1  200 OK\r\n\r\n").ec, error::bad_status_line);
    EXPECT_EQ(parse("Status: abc\r\n\r\n").ec, error::bad_status_line);
    EXPECT_EQ(parse("Status:\r\n\r\n").ec, error::bad_status_line);
    EXPECT_EQ(parse("Status: 200OK\r\n\r\n").ec, error::bad_status_line);
    EXPECT_EQ(parse("No colon here\r\n\r\n").ec, error::bad_header_line);
    EXPECT_EQ(parse("A: b\r\nHTTP/1.1 200 OK\r\n\r\n").ec, error::bad_header_line);
    EXPECT_EQ(parse(": empty name\r\n\r\n").ec, error::bad_header_name);
    EXPECT_EQ(parse("Bad Name: v\r\n\r\n").ec, error::bad_header_name);
    EXPECT_EQ(parse("A: b\r\n folded\r\n\r\n").ec, error::obsolete_line_folding);
    EXPECT_EQ(parse("A: b\rc\r\n\r\n").ec, error::bad_header_value);
    EXPECT_EQ(parse("A: b\0c\r\n\r\n"s).ec, error::bad_header_value);
    EXPECT_EQ(parse("HTTP/1.1 200 O\rK\r\n\r\n").ec, error::bad_status_line);
    EXPECT_EQ(parse("Bad Name: v\r\n\r\n").ec, scgi::condition::protocol_violation);
}

TEST(ResponseParser, HeadLimitAtTheBoundary) {
    const std::string head = "Status: 200 OK\r\nX: 12345\r\n\r\n";
    EXPECT_FALSE(parse(head + "body", head.size()).ec);
    const auto out = parse(head, head.size() - 1);
    EXPECT_EQ(out.ec, error::response_head_too_large);
    EXPECT_EQ(out.ec, scgi::condition::limit_exceeded);
    // Reported as soon as the limit is passed, before the head ends.
    scgi::response_parser parser(10);
    std::error_code ec;
    parser.put("Status: 20", ec);
    EXPECT_EQ(ec, error::need_more);
    parser.put("0", ec);
    EXPECT_EQ(ec, error::response_head_too_large);
}

TEST(ResponseParser, IncrementalAndSticky) {
    const std::string input = "Status: 200 OK\r\nA: b\r\n\r\nBODY";
    scgi::response_parser parser;
    std::error_code ec;
    std::size_t total = 0;
    for (char c : input) {
        total += parser.put(std::string_view(&c, 1), ec);
        if (parser.is_head_done()) break;
        EXPECT_EQ(ec, error::need_more);
    }
    EXPECT_FALSE(ec);
    EXPECT_EQ(total, input.size() - 4);
    EXPECT_EQ(parser.head().find("a"), "b");
    // Done: nothing more is consumed.
    EXPECT_EQ(parser.put("BODY", ec), 0u);
    EXPECT_FALSE(ec);
    parser.put_eof(ec);
    EXPECT_FALSE(ec);

    scgi::response_parser failing;
    failing.put("bad line\n\n", ec);
    EXPECT_EQ(ec, error::bad_header_line);
    EXPECT_EQ(failing.put("A: b\n\n", ec), 0u);
    EXPECT_EQ(ec, error::bad_header_line);
    failing.put_eof(ec);
    EXPECT_EQ(ec, error::bad_header_line);
    failing.reset();
    failing.put("A: b\n\n", ec);
    EXPECT_FALSE(ec);
}

TEST(ResponseParser, EofBeforeTheEndOfTheHead) {
    scgi::response_parser parser;
    std::error_code ec;
    parser.put("Status: 200 OK\r\n", ec);
    EXPECT_EQ(ec, error::need_more);
    parser.put_eof(ec);
    EXPECT_EQ(ec, error::partial_response);
}

TEST(ResponseParser, ReleaseHeadAndReuse) {
    scgi::response_parser parser;
    std::error_code ec;
    parser.put("Status: 418 Teapot\n\n", ec);
    ASSERT_FALSE(ec);
    const scgi::response_head head = parser.release_head();
    parser.reset();
    parser.put("Status: 204\n\n", ec);
    ASSERT_FALSE(ec);
    EXPECT_EQ(head.status(), 418);
    EXPECT_EQ(head.reason(), "Teapot");
    EXPECT_EQ(parser.head().status(), 204);
    EXPECT_EQ(parser.head().reason(), "No Content");
}

TEST(ResponseParser, RoundTripsTheWriter) {
    scgi::response_head written;
    written.set_status(307, "Go There");
    written.add("Location", "/there");
    written.add("X-Empty", "");
    std::string wire;
    written.serialize(wire);
    const auto out = parse(wire);
    ASSERT_FALSE(out.ec);
    EXPECT_EQ(out.consumed, wire.size());
    EXPECT_EQ(out.status, 307);
    EXPECT_EQ(out.reason, "Go There");
    ASSERT_EQ(out.headers.size(), 2u);
    EXPECT_EQ(out.headers[0], (std::pair<std::string, std::string>{"Location", "/there"}));
}

}  // namespace
