#include <scgi/response_head.hpp>

#include <scgi/error.hpp>

#include <gtest/gtest.h>

#include <initializer_list>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

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
    head.set_status(404);
    head.add("Content-Type", "text/plain; charset=utf-8");
    head.add("Set-Cookie", "a=1");
    head.add("Set-Cookie", "b=2");
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

// For a writer that knows the body's size: the length goes after the other
// lines, before the blank line, and the head itself is not changed.
TEST(ResponseHead, SerializesWithAContentLengthItDoesNotHold) {
    scgi::response_head head;
    head.set_status(201);
    head.add("Content-Type", "text/plain");
    std::string out = "x";
    head.serialize(out, 18446744073709551615u);
    EXPECT_EQ(out,
              "xStatus: 201 Created\r\n"
              "Content-Type: text/plain\r\n"
              "Content-Length: 18446744073709551615\r\n"
              "\r\n");
    EXPECT_EQ(head.size(), 1u);
    EXPECT_FALSE(head.find("Content-Length"));
    std::string empty_head;
    scgi::response_head().serialize(empty_head, 0);
    EXPECT_EQ(empty_head, "Status: 200 OK\r\nContent-Length: 0\r\n\r\n");
}

TEST(ResponseHead, CustomReasonAndUnknownStatus) {
    scgi::response_head head;
    head.set_status(299, "Custom Thing");
    EXPECT_EQ(head.reason(), "Custom Thing");
    head.set_status(599);
    EXPECT_EQ(head.reason(), "Unknown");
    head.set_status(100);
    head.set_status(999);
    std::string out;
    head.serialize(out);
    EXPECT_EQ(out, "Status: 999 Unknown\r\n\r\n");
}

// The throwing form throws std::invalid_argument whose message holds every
// one of `parts`.
template <class Call>
void expect_refusal(Call call, std::initializer_list<std::string_view> parts) {
    try {
        call();
        ADD_FAILURE() << "no exception; expected one naming " << *parts.begin();
    } catch (const std::invalid_argument& e) {
        const std::string_view what = e.what();
        for (const std::string_view part : parts) EXPECT_NE(what.find(part), what.npos) << what << "\nlacks: " << part;
    }
}

// Both forms of set_status: the error code, and the exception's message.
void expect_bad_status(int status, std::string_view reason, std::error_code code,
                       std::initializer_list<std::string_view> parts) {
    scgi::response_head head;
    std::error_code ec = error::need_more;  // set to something, so clearing shows
    head.set_status(status, reason, ec);
    EXPECT_EQ(ec, code) << status;
    expect_refusal([&] { head.set_status(status, reason); }, parts);
    EXPECT_EQ(head.status(), 200);  // unchanged
    EXPECT_EQ(head.reason(), "OK");
}

TEST(ResponseHead, RefusesInvalidStatus) {
    const std::string_view prefix = "scgi::response_head::set_status: ";
    expect_bad_status(99, {}, error::invalid_status, {prefix, "status 99 is not within 100..999"});
    expect_bad_status(1000, {}, error::invalid_status, {"status 1000 is not within"});
    expect_bad_status(-200, "OK", error::invalid_status, {"status -200 is not within"});
    expect_bad_status(200, "OK\r\nX-Injected: 1", error::invalid_header_value,
                      {prefix, R"(reason phrase "OK\x0d\x0aX-Injected: 1" has byte 0x0d at offset 2)", "forge"});
    expect_bad_status(200, "OK\nX", error::invalid_header_value, {"byte 0x0a at offset 2"});
    expect_bad_status(200, "O\0K"s, error::invalid_header_value, {R"("O\x00K" has byte 0x00 at offset 1)"});
}

TEST(ResponseHead, ErrorCodeFormClearsOnSuccess) {
    scgi::response_head head;
    std::error_code ec = error::invalid_status;
    head.set_status(404, "Gone Fishing", ec);
    EXPECT_FALSE(ec);
    EXPECT_EQ(head.reason(), "Gone Fishing");
    ec = error::invalid_status;
    head.add("X-From-Peer", "v", ec);
    EXPECT_FALSE(ec);
    EXPECT_EQ(head.find("X-From-Peer"), "v");
}

// Both forms of add: the error code, and the exception's message.
void expect_bad_header(std::string_view name, std::string_view value, std::error_code code,
                       std::initializer_list<std::string_view> parts) {
    scgi::response_head head;
    std::error_code ec;
    head.add(name, value, ec);
    EXPECT_EQ(ec, code) << name;
    EXPECT_EQ(ec, scgi::condition::invalid_argument);
    expect_refusal([&] { head.add(name, value); }, parts);
    EXPECT_TRUE(head.empty());  // nothing half-added
}

TEST(ResponseHead, RefusesHeadersThatCouldForgeLines) {
    const std::string_view prefix = "scgi::response_head::add: ";
    expect_bad_header("", "v", error::invalid_header_name, {prefix, "empty header name"});
    expect_bad_header("Bad Name", "v", error::invalid_header_name,
                      {prefix, R"(header name "Bad Name" has byte 0x20 at offset 3, which is not a token character)"});
    expect_bad_header("Bad:Name", "v", error::invalid_header_name, {"byte 0x3a at offset 3"});
    expect_bad_header("N\xc3\xa4me", "v", error::invalid_header_name,
                      {R"(header name "N\xc3\xa4me" has byte 0xc3 at offset 1)"});
    expect_bad_header("Status", "500", error::invalid_header_name,
                      {R"(header name "Status" is refused: the status is set with set_status)"});
    expect_bad_header("status", "500", error::invalid_header_name, {R"("status" is refused)"});
    expect_bad_header("X", "a\r\nSet-Cookie: evil", error::invalid_header_value,
                      {prefix, R"(the value of header "X" has byte 0x0d at offset 1)", "forge header lines"});
    expect_bad_header("X", "a\nb", error::invalid_header_value, {"byte 0x0a at offset 1"});
    expect_bad_header("X", "ab\rb", error::invalid_header_value, {"byte 0x0d at offset 2"});
    expect_bad_header("X", "a\0b"s, error::invalid_header_value, {"byte 0x00 at offset 1"});
    // A long name is cut in the message; quotes and backslashes are escaped.
    expect_bad_header(std::string(100, 'n') + "\"", "v", error::invalid_header_name,
                      {'"' + std::string(64, 'n') + "\"...", "byte 0x22 at offset 100"});
    expect_bad_header("a\\b", "v", error::invalid_header_name, {R"("a\x5cb" has byte 0x5c at offset 1)"});
}

TEST(ResponseHead, AcceptsTabsObsTextAndEmptyValues) {
    scgi::response_head head;
    head.add("X-Tab", "a\tb \xff");
    head.add("X-Empty", "");
    EXPECT_EQ(head.size(), 2u);
}

TEST(ResponseHead, FindIgnoresCase) {
    scgi::response_head head;
    head.add("Content-Type", "text/html");
    EXPECT_EQ(head.find("content-type"), "text/html");
    EXPECT_EQ(head.find("CONTENT-TYPE"), "text/html");
    EXPECT_EQ(head.find("Content-Length"), std::nullopt);
}

TEST(ResponseHead, ClearKeepsNothingButCapacity) {
    scgi::response_head head;
    head.set_status(500, "Oops");
    head.add("A", "b");
    head.clear();
    EXPECT_EQ(head.status(), 200);
    EXPECT_EQ(head.reason(), "OK");
    EXPECT_TRUE(head.empty());
}

}  // namespace
