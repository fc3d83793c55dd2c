#include <scgi/request_head.hpp>

#include <scgi/encode_request.hpp>
#include <scgi/request_parser.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <ranges>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace std::string_literals;

// Builds a head the only way the library does: by parsing a request.
scgi::request_head parse(std::initializer_list<scgi::header> headers) {
    std::string wire;
    EXPECT_FALSE(scgi::encode_request(headers, 0, wire));
    scgi::request_parser parser;
    std::error_code ec;
    parser.put(wire, ec);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_TRUE(parser.is_done());
    return parser.release_head();
}

static_assert(std::random_access_iterator<scgi::request_head::iterator>);
static_assert(std::ranges::random_access_range<scgi::request_head>);

TEST(RequestHead, EmptyByDefault) {
    const scgi::request_head head;
    EXPECT_TRUE(head.empty());
    EXPECT_EQ(head.size(), 0u);
    EXPECT_EQ(head.begin(), head.end());
    EXPECT_EQ(head.content_length(), 0u);
    EXPECT_EQ(head.method(), "");
    EXPECT_EQ(head.find("SCGI"), std::nullopt);
}

TEST(RequestHead, IterationInReceivedOrder) {
    const auto head = parse({{"REQUEST_METHOD", "GET"}, {"B", "2"}, {"A", "1"}});
    std::vector<std::string> names;
    for (const scgi::header h : head) names.emplace_back(h.name);
    EXPECT_EQ(names, (std::vector<std::string>{"CONTENT_LENGTH", "SCGI", "REQUEST_METHOD", "B", "A"}));
    EXPECT_EQ(head.end() - head.begin(), 5);
    EXPECT_EQ(head.begin()[4], (scgi::header{"A", "1"}));
    EXPECT_EQ(*(head.end() - 1), (scgi::header{"A", "1"}));
    auto it = head.begin();
    ++it;
    EXPECT_EQ((*it).name, "SCGI");
    EXPECT_TRUE(head.begin() < it);
    EXPECT_EQ(std::ranges::count_if(head, [](scgi::header h) { return h.value.size() == 1; }), 4);
}

TEST(RequestHead, FindIsExactAndCaseSensitive) {
    const auto head = parse({{"REQUEST_METHOD", "GET"}, {"EMPTY", ""}});
    EXPECT_EQ(head.find("REQUEST_METHOD"), "GET");
    EXPECT_EQ(head.find("request_method"), std::nullopt);
    EXPECT_EQ(head.find("REQUEST_METHO"), std::nullopt);
    ASSERT_TRUE(head.find("EMPTY").has_value());  // present but empty
    EXPECT_EQ(*head.find("EMPTY"), "");
    EXPECT_EQ(head.value_or("MISSING", "fallback"), "fallback");
    EXPECT_EQ(head.value_or("EMPTY", "fallback"), "");
}

TEST(RequestHead, CgiAccessors) {
    const auto head = parse({{"REQUEST_METHOD", "POST"},
                             {"REQUEST_URI", "/app/a%20b?x=1&y=2#frag"},
                             {"QUERY_STRING", "x=1&y=2"},
                             {"CONTENT_TYPE", "application/json"}});
    EXPECT_EQ(head.method(), "POST");
    EXPECT_EQ(head.uri(), "/app/a%20b?x=1&y=2#frag");
    EXPECT_EQ(head.path(), "/app/a%20b");
    EXPECT_EQ(head.query(), "x=1&y=2");
    EXPECT_EQ(head.content_type(), "application/json");
    EXPECT_EQ(head.content_length(), 0u);
}

TEST(RequestHead, QueryFallsBackToTheUri) {
    EXPECT_EQ(parse({{"REQUEST_URI", "/p?a=1#f"}}).query(), "a=1");
    EXPECT_EQ(parse({{"REQUEST_URI", "/p?a=1"}}).query(), "a=1");
    EXPECT_EQ(parse({{"REQUEST_URI", "/p"}}).query(), "");
    EXPECT_EQ(parse({{"REQUEST_URI", "/p#x?y"}}).path(), "/p");
    // A '?' inside the fragment starts no query (RFC 3986).
    EXPECT_EQ(parse({{"REQUEST_URI", "/p#x?y"}}).query(), "");
    // QUERY_STRING wins, even when empty.
    EXPECT_EQ(parse({{"REQUEST_URI", "/p?a=1"}, {"QUERY_STRING", ""}}).query(), "");
    EXPECT_EQ(parse({}).path(), "");
}

TEST(RequestHead, PathBelowAMountPoint) {
    const auto below = [](std::string_view uri, std::string_view mount) {
        return parse({{"REQUEST_URI", uri}}).path_below(mount);
    };
    for (const std::string_view mount : {"/app", "/app/"}) {
        EXPECT_EQ(below("/app/users/7?x=1", mount), "/users/7") << mount;
        EXPECT_EQ(below("/app/", mount), "/") << mount;
        EXPECT_EQ(below("/app", mount), "") << mount;
        EXPECT_EQ(below("/app?x", mount), "") << mount;
        EXPECT_EQ(below("/application", mount), std::nullopt) << mount;
        EXPECT_EQ(below("/other/app/x", mount), std::nullopt) << mount;
        EXPECT_EQ(below("/ap", mount), std::nullopt) << mount;
    }
    EXPECT_EQ(below("/a/b", "/"), "/a/b");
    EXPECT_EQ(below("/a/b", ""), "/a/b");
    EXPECT_EQ(below("/a/b/c", "/a/b"), "/c");
    // Raw bytes: an encoded slash is not a segment boundary.
    EXPECT_EQ(below("/app%2Fx", "/app"), std::nullopt);
    EXPECT_EQ(parse({}).path_below("/app"), std::nullopt);
    EXPECT_EQ(parse({}).path_below(""), "");
}

TEST(RequestHead, HttpHeaderByItsHttpName) {
    const auto head = parse({{"CONTENT_TYPE", "text/plain"},
                             {"HTTP_X_FORWARDED_FOR", "10.0.0.1"},
                             {"HTTP_USER_AGENT", "curl/7.88"},
                             {"HTTP_HOST", "example.org"}});
    EXPECT_EQ(head.http_header("X-Forwarded-For"), "10.0.0.1");
    EXPECT_EQ(head.http_header("x-forwarded-for"), "10.0.0.1");
    EXPECT_EQ(head.http_header("User-Agent"), "curl/7.88");
    EXPECT_EQ(head.http_header("HOST"), "example.org");
    EXPECT_EQ(head.http_header("Content-Type"), "text/plain");
    EXPECT_EQ(head.http_header("content-length"), "0");
    EXPECT_EQ(head.http_header("Accept"), std::nullopt);
    EXPECT_EQ(head.http_header(""), std::nullopt);
    // CGI variables that are not HTTP headers are not found by HTTP name.
    EXPECT_EQ(head.http_header("SCGI"), std::nullopt);
    EXPECT_EQ(head.http_header("X-Forwarded"), std::nullopt);
}

TEST(RequestHead, CopiesAndMovesKeepTheirBytes) {
    auto original = parse({{"REQUEST_URI", "/x"}});
    const std::string_view view = original.uri();
    scgi::request_head copy = original;
    EXPECT_EQ(copy.uri(), "/x");
    EXPECT_NE(copy.uri().data(), view.data());  // its own storage

    scgi::request_head moved = std::move(original);
    EXPECT_EQ(moved.uri().data(), view.data());  // views survive a move
    EXPECT_EQ(view, "/x");

    copy = moved;
    EXPECT_EQ(copy.find("SCGI"), "1");
}

}  // namespace
