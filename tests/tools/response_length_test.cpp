// tools/common/response_length.hpp: the body length a response must have.
#include "common/response_length.hpp"

#include <scgi/error.hpp>
#include <scgi/response_parser.hpp>

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace {

using scgi::tools::body_length_of;

scgi::response_head parse(std::string_view head) {
    scgi::response_parser parser;
    std::error_code ec;
    parser.put(head, ec);
    EXPECT_FALSE(ec) << head << ": " << ec.message();
    return parser.head();
}

TEST(BodyLengthOf, ContentLengthIsTheExpectedLength) {
    const auto rule = body_length_of(parse("Status: 200 OK\r\nContent-Length: 42\r\n\r\n"), "GET");
    EXPECT_FALSE(rule.malformed);
    EXPECT_EQ(rule.expected, 42u);
    EXPECT_EQ(body_length_of(parse("Content-Length: 0\r\n\r\n"), "POST").expected, 0u);
    EXPECT_EQ(body_length_of(parse("Content-Length: 18446744073709551615\r\n\r\n"), "GET").expected,
              18446744073709551615u);
}

TEST(BodyLengthOf, WithoutContentLengthAnyLength) {
    const auto rule = body_length_of(parse("Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n"), "GET");
    EXPECT_FALSE(rule.malformed);
    EXPECT_FALSE(rule.expected);
}

TEST(BodyLengthOf, ResponsesWithoutABodyAreNotChecked) {
    EXPECT_FALSE(body_length_of(parse("Status: 200 OK\r\nContent-Length: 42\r\n\r\n"), "HEAD").expected);
    for (const char* status : {"100 Continue", "204 No Content", "304 Not Modified"}) {
        const std::string head = std::string("Status: ") + status + "\r\nContent-Length: 42\r\n\r\n";
        const auto rule = body_length_of(parse(head), "GET");
        EXPECT_FALSE(rule.expected) << status;
        EXPECT_FALSE(rule.malformed) << status;
    }
    EXPECT_EQ(body_length_of(parse("Status: 205 Reset Content\r\nContent-Length: 0\r\n\r\n"), "GET").expected, 0u);
}

// Read as the server's response writer reads it: repeats of one value are
// one length (RFC 9110, 8.6); different values are malformed.
TEST(BodyLengthOf, RepeatsOfOneValueAreOneLengthAndDifferentOnesAreMalformed) {
    EXPECT_EQ(body_length_of(parse("Content-Length: 5, 5\r\nContent-Length: 5\r\n\r\n"), "GET").expected, 5u);
    EXPECT_TRUE(body_length_of(parse("Content-Length: 5\r\nContent-Length: 6\r\n\r\n"), "GET").malformed);
    EXPECT_TRUE(body_length_of(parse("Content-Length: 5, 6\r\n\r\n"), "HEAD").malformed);
}

TEST(BodyLengthOf, AContentLengthThatIsNotANumberIsMalformed) {
    for (const char* value : {"-1", "1x", "0x10", "1 2", "18446744073709551616"}) {
        const std::string head = std::string("Content-Length: ") + value + "\r\n\r\n";
        EXPECT_TRUE(body_length_of(parse(head), "GET").malformed) << value;
        EXPECT_TRUE(body_length_of(parse(head), "HEAD").malformed) << value;
    }
}

}  // namespace
