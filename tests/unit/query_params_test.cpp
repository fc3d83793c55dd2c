#include <scgi/query_params.hpp>

#include <scgi/error.hpp>

#include <gtest/gtest.h>

#include <iterator>
#include <string>
#include <vector>

namespace {

static_assert(std::forward_iterator<scgi::query_params::iterator>);

std::vector<scgi::query_param> split(std::string_view q) {
    std::vector<scgi::query_param> out;
    for (const scgi::query_param p : scgi::query_params(q)) out.push_back(p);
    return out;
}

TEST(QueryParams, SplitsRawPairs) {
    EXPECT_EQ(split("a=1&b=2"), (std::vector<scgi::query_param>{{"a", "1"}, {"b", "2"}}));
    EXPECT_EQ(split("a=1&&b=&c"), (std::vector<scgi::query_param>{{"a", "1"}, {"b", ""}, {"c", ""}}));
    EXPECT_EQ(split("&&"), std::vector<scgi::query_param>{});
    EXPECT_EQ(split(""), std::vector<scgi::query_param>{});
    EXPECT_EQ(split("x=a%20b+c"), (std::vector<scgi::query_param>{{"x", "a%20b+c"}}));
    EXPECT_EQ(split("k=v=w"), (std::vector<scgi::query_param>{{"k", "v=w"}}));
    EXPECT_EQ(split("=v"), (std::vector<scgi::query_param>{{"", "v"}}));
}

TEST(QueryParams, FindDecodes) {
    std::error_code ec;
    EXPECT_EQ(scgi::find_query_param("q=life+universe%21&n=1", "q", ec), "life universe!");
    EXPECT_FALSE(ec);
    EXPECT_EQ(scgi::find_query_param("q=1&q=2", "q", ec), "1");
    EXPECT_EQ(scgi::find_query_param("first%20name=Ann", "first name", ec), "Ann");
    EXPECT_EQ(scgi::find_query_param("flag", "flag", ec), "");
    EXPECT_EQ(scgi::find_query_param("a=1", "b", ec), std::nullopt);
    EXPECT_FALSE(ec);
}

TEST(QueryParams, FindReportsMalformedEscapes) {
    std::error_code ec;
    EXPECT_EQ(scgi::find_query_param("q=%zz", "q", ec), std::nullopt);
    EXPECT_EQ(ec, scgi::error::bad_percent_encoding);
    EXPECT_EQ(scgi::find_query_param("bad%=1&q=2", "q", ec), std::nullopt);
    EXPECT_EQ(ec, scgi::error::bad_percent_encoding);
    // A malformed value of another parameter does not matter.
    EXPECT_EQ(scgi::find_query_param("a=%&q=2", "q", ec), "2");
    EXPECT_FALSE(ec);
}

TEST(QueryParams, DecodeAll) {
    std::vector<std::pair<std::string, std::string>> out;
    ASSERT_FALSE(scgi::decode_query("a=1&b=x+y&c", out));
    EXPECT_EQ(out, (std::vector<std::pair<std::string, std::string>>{{"a", "1"}, {"b", "x y"}, {"c", ""}}));
    EXPECT_EQ(scgi::decode_query("d=4&e=%4", out), scgi::error::bad_percent_encoding);
    EXPECT_EQ(out.size(), 3u);  // unchanged on error
}

}  // namespace
