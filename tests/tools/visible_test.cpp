// tools/scgi-call/visible.hpp: how scgi-call -v shows the bytes it sends,
// for well-formed heads and for the malformed ones --raw sends.
#include "visible.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace std::string_literals;
using scgi::tools::describe_request_head;
using scgi::tools::visible;

TEST(Visible, EveryByteUnambiguous) {
    EXPECT_EQ(visible("plain text ~"), "plain text ~");
    EXPECT_EQ(visible("a\0b"s), "a\u2400b");
    EXPECT_EQ(visible("\\x41"), "\\\\x41");  // a backslash cannot pass for an escape
    EXPECT_EQ(visible("\r\n\t\x7f\xff"), "\\x0d\\x0a\\x09\\x7f\\xff");
    EXPECT_EQ(visible("\u2400"), "\\xe2\\x90\\x80");  // a real U+2400 is not a NUL
}

TEST(DescribeRequestHead, AVariableALine) {
    const std::string head = "24:CONTENT_LENGTH\0" "5\0SCGI\0" "1\0,hello"s;
    const auto lines = describe_request_head(head);
    EXPECT_EQ(lines.lines, (std::vector<std::string>{"24:", "CONTENT_LENGTH\u24005\u2400", "SCGI\u24001\u2400", ","}));
    EXPECT_EQ(lines.size, head.size() - 5);  // the body starts after the comma
}

TEST(DescribeRequestHead, MalformedHeadsAreShownAsFarAsTheyGo) {
    // The block is shorter than announced: what there is, nothing after it.
    auto lines = describe_request_head("99:A\0B\0C"s);
    EXPECT_EQ(lines.lines, (std::vector<std::string>{"99:", "A\u2400B\u2400", "C"}));
    EXPECT_EQ(lines.size, 8u);

    // The byte after the block is shown whatever it is.
    lines = describe_request_head("4:A\0B\0;rest"s);
    EXPECT_EQ(lines.lines, (std::vector<std::string>{"4:", "A\u2400B\u2400", ";"}));
    EXPECT_EQ(lines.size, 7u);

    // No length: a line per two NULs from the first byte.
    lines = describe_request_head("A\0B\0C\0"s);
    EXPECT_EQ(lines.lines, (std::vector<std::string>{"A\u2400B\u2400", "C\u2400"}));
    EXPECT_EQ(lines.size, 6u);

    // A length with a leading zero is still a length to show.
    lines = describe_request_head("01:A");
    EXPECT_EQ(lines.lines, (std::vector<std::string>{"01:", "A"}));

    // At most 4 KiB of what is not a netstring.
    lines = describe_request_head(std::string(10000, 'x'));
    EXPECT_EQ(lines.size, 4096u);
    ASSERT_EQ(lines.lines.size(), 1u);
    EXPECT_EQ(lines.lines[0].size(), 4096u);

    EXPECT_TRUE(describe_request_head("").lines.empty());
}

}  // namespace
