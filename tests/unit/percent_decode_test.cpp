#include <scgi/percent_decode.hpp>

#include <scgi/error.hpp>

#include <gtest/gtest.h>

#include <string>

namespace {

using namespace std::string_literals;

std::string decode(std::string_view in, scgi::plus_decoding plus = scgi::plus_decoding::keep) {
    std::string out;
    EXPECT_FALSE(scgi::percent_decode(in, out, plus)) << in;
    return out;
}

TEST(PercentDecode, DecodesEscapes) {
    EXPECT_EQ(decode("a%20b"), "a b");
    EXPECT_EQ(decode("%41%62%2f%2F"), "Ab//");
    EXPECT_EQ(decode("%e2%82%AC"), "\xe2\x82\xac");
    EXPECT_EQ(decode("%00"), "\0"s);
    EXPECT_EQ(decode("%ff%FE"), "\xff\xfe");
    EXPECT_EQ(decode(""), "");
    EXPECT_EQ(decode("plain"), "plain");
    EXPECT_EQ(decode("%25%32%30"), "%20");  // decoded once, not twice
}

TEST(PercentDecode, PlusHandling) {
    EXPECT_EQ(decode("a+b"), "a+b");
    EXPECT_EQ(decode("a+b", scgi::plus_decoding::to_space), "a b");
    EXPECT_EQ(decode("a%2Bb", scgi::plus_decoding::to_space), "a+b");
}

TEST(PercentDecode, MalformedEscapes) {
    for (const char* bad : {"%", "%2", "a%", "%g0", "%0g", "%%", "x%2", "%-1", "% 20"}) {
        std::string out = "keep";
        EXPECT_EQ(scgi::percent_decode(bad, out), scgi::error::bad_percent_encoding) << bad;
        EXPECT_EQ(out, "keep") << bad;
    }
    std::string out;
    EXPECT_EQ(scgi::percent_decode("%", out), scgi::condition::protocol_violation);
}

TEST(PercentDecode, Appends) {
    std::string out = "x=";
    ASSERT_FALSE(scgi::percent_decode("%31", out));
    EXPECT_EQ(out, "x=1");
}

}  // namespace
