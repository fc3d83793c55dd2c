#include <scgi/response_head.hpp>

#include <scgi/error.hpp>

#include <gtest/gtest.h>

#include <iterator>
#include <string>

namespace {

using namespace std::string_literals;
using scgi::error;

static_assert(std::random_access_iterator<scgi::response_head::iterator>);

TEST(ResponseHead, DefaultIs200WithNoHeaders) {
    const scgi::response_head head;
    EXPECT_EQ(head.status(), 200);
    EXPECT_EQ(head.reason(), "OK");
    EXPECT_TRUE(head.empty());
    std::string out;
    head.serialize(out);
    EXPECT_EQ(out, "Status: 200 OK\r\n\r\n");
    EXPECT_EQ(out.size(), head.serialized_size());
}

TEST(ResponseHead, SerializesInCgiStatusForm) {
    scgi::response_head head;
    ASSERT_FALSE(head.set_status(404));
    ASSERT_FALSE(head.add("Content-Type", "text/plain; charset=utf-8"));
    ASSERT_FALSE(head.add("Set-Cookie", "a=1"));
    ASSERT_FALSE(head.add("Set-Cookie", "b=2"));
    head.add_content_length(9);
    std::string out = "x";
    head.serialize(out);
    EXPECT_EQ(out,
              "xStatus: 404 Not Found\r\n"
              "Content-Type: text/plain; charset=utf-8\r\n"
              "Set-Cookie: a=1\r\n"
              "Set-Cookie: b=2\r\n"
              "Content-Length: 9\r\n"
              "\r\n");
    EXPECT_EQ(out.size(), 1 + head.serialized_size());
    EXPECT_EQ(head.size(), 4u);
    EXPECT_EQ(head[3], (scgi::header{"Content-Length", "9"}));
}

TEST(ResponseHead, CustomReasonAndUnknownStatus) {
    scgi::response_head head;
    ASSERT_FALSE(head.set_status(299, "Custom Thing"));
    EXPECT_EQ(head.reason(), "Custom Thing");
    ASSERT_FALSE(head.set_status(599));
    EXPECT_EQ(head.reason(), "Unknown");
    ASSERT_FALSE(head.set_status(100));
    ASSERT_FALSE(head.set_status(999));
    std::string out;
    head.serialize(out);
    EXPECT_EQ(out, "Status: 999 Unknown\r\n\r\n");
}

TEST(ResponseHead, RefusesInvalidStatus) {
    scgi::response_head head;
    EXPECT_EQ(head.set_status(99), error::invalid_status);
    EXPECT_EQ(head.set_status(1000), error::invalid_status);
    EXPECT_EQ(head.set_status(-200), error::invalid_status);
    EXPECT_EQ(head.set_status(200, "OK\r\nX-Injected: 1"), error::invalid_header_value);
    EXPECT_EQ(head.set_status(200, "O\0K"s), error::invalid_header_value);
    EXPECT_EQ(head.status(), 200);  // unchanged
    EXPECT_EQ(head.reason(), "OK");
}

TEST(ResponseHead, RefusesHeadersThatCouldForgeLines) {
    scgi::response_head head;
    EXPECT_EQ(head.add("", "v"), error::invalid_header_name);
    EXPECT_EQ(head.add("Bad Name", "v"), error::invalid_header_name);
    EXPECT_EQ(head.add("Bad:Name", "v"), error::invalid_header_name);
    EXPECT_EQ(head.add("N\xc3\xa4me", "v"), error::invalid_header_name);
    EXPECT_EQ(head.add("Status", "500"), error::invalid_header_name);
    EXPECT_EQ(head.add("status", "500"), error::invalid_header_name);
    EXPECT_EQ(head.add("X", "a\r\nSet-Cookie: evil"), error::invalid_header_value);
    EXPECT_EQ(head.add("X", "a\nb"), error::invalid_header_value);
    EXPECT_EQ(head.add("X", "a\rb"), error::invalid_header_value);
    EXPECT_EQ(head.add("X", "a\0b"s), error::invalid_header_value);
    EXPECT_EQ(head.add("X", "a\0b"s), scgi::condition::invalid_argument);
    EXPECT_TRUE(head.empty());  // nothing half-added
    // Tabs, obs-text and empty values are fine.
    EXPECT_FALSE(head.add("X-Tab", "a\tb \xff"));
    EXPECT_FALSE(head.add("X-Empty", ""));
    EXPECT_EQ(head.size(), 2u);
}

TEST(ResponseHead, FindIgnoresCase) {
    scgi::response_head head;
    ASSERT_FALSE(head.add("Content-Type", "text/html"));
    EXPECT_EQ(head.find("content-type"), "text/html");
    EXPECT_EQ(head.find("CONTENT-TYPE"), "text/html");
    EXPECT_EQ(head.find("Content-Length"), std::nullopt);
}

TEST(ResponseHead, ClearKeepsNothingButCapacity) {
    scgi::response_head head;
    ASSERT_FALSE(head.set_status(500, "Oops"));
    ASSERT_FALSE(head.add("A", "b"));
    head.clear();
    EXPECT_EQ(head.status(), 200);
    EXPECT_EQ(head.reason(), "OK");
    EXPECT_TRUE(head.empty());
}

}  // namespace
