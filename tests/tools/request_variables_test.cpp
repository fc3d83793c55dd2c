// tools/common/request_variables.hpp: the SCGI variables of a tool's request,
// as nginx with Debian's scgi_params would send them.
#include "common/request_variables.hpp"

#include <scgi/request_parser.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace std::string_literals;
using scgi::tools::request_options;
using scgi::tools::request_variables;
using scgi::tools::variable;

std::vector<std::string> names(const request_variables& vars) {
    std::vector<std::string> out;
    for (const variable& v : vars.list()) out.push_back(v.name);
    return out;
}

request_options with_headers(std::vector<std::string> headers) {
    request_options options;
    options.headers = std::move(headers);
    return options;
}

TEST(RequestVariables, GetIsNginxsScgiParamsInItsOrder) {
    request_options options;
    options.uri = "/app/env?a=1&b=%41";
    const auto vars = request_variables::build(options, std::nullopt);
    // tests/integration/test_nginx.py observes this order (with SCGI in the
    // middle, which the encoder moves up to second place).
    const std::vector<variable> expected{
        {"REQUEST_METHOD", "GET"},        {"REQUEST_URI", "/app/env?a=1&b=%41"},
        {"QUERY_STRING", "a=1&b=%41"},    {"CONTENT_TYPE", ""},
        {"DOCUMENT_URI", "/app/env"},     {"DOCUMENT_ROOT", "/var/www/html"},
        {"SERVER_PROTOCOL", "HTTP/1.1"},  {"REQUEST_SCHEME", "http"},
        {"REMOTE_ADDR", "127.0.0.1"},     {"REMOTE_PORT", "0"},
        {"SERVER_PORT", "80"},            {"SERVER_NAME", "localhost"},
        {"HTTP_HOST", "localhost"},
    };
    EXPECT_EQ(vars.list(), expected);
}

TEST(RequestVariables, EncodesWithContentLengthAndScgiFirst) {
    request_options options;
    options.uri = "/x";
    const auto vars = request_variables::build(options, std::uint64_t{5});
    std::string head;
    ASSERT_FALSE(vars.encode(5, head));
    EXPECT_EQ(head.substr(head.find(':') + 1, 25), "CONTENT_LENGTH\0" "5\0SCGI\0" "1\0R"s);

    // And a strict parser takes it back, variable for variable.
    scgi::request_parser parser;
    std::error_code ec;
    parser.put(head + "hello", ec);
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_TRUE(parser.is_head_done());
    std::vector<variable> received;
    for (const scgi::header h : parser.head()) received.push_back({std::string(h.name), std::string(h.value)});
    ASSERT_EQ(received.size(), vars.list().size() + 2);
    EXPECT_EQ(received[0], (variable{"CONTENT_LENGTH", "5"}));
    EXPECT_EQ(received[1], (variable{"SCGI", "1"}));
    EXPECT_EQ(std::vector<variable>(received.begin() + 2, received.end()), vars.list());
}

TEST(RequestVariables, ABodyMakesAPostWithCurlsHeaders) {
    const auto vars = request_variables::build(request_options{}, std::uint64_t{42});
    EXPECT_EQ(vars.find("REQUEST_METHOD"), "POST");
    EXPECT_EQ(vars.find("CONTENT_TYPE"), "application/x-www-form-urlencoded");
    EXPECT_EQ(vars.find("HTTP_CONTENT_LENGTH"), "42");
    EXPECT_EQ(vars.find("HTTP_CONTENT_TYPE"), "application/x-www-form-urlencoded");
    const auto n = names(vars);
    EXPECT_EQ(std::vector<std::string>(n.end() - 3, n.end()),
              (std::vector<std::string>{"HTTP_HOST", "HTTP_CONTENT_LENGTH", "HTTP_CONTENT_TYPE"}));

    // An empty body is a body: curl -d '' posts Content-Length: 0.
    EXPECT_EQ(request_variables::build(request_options{}, std::uint64_t{0}).find("HTTP_CONTENT_LENGTH"), "0");
}

TEST(RequestVariables, MethodFromTheOptionWinsOverTheBody) {
    request_options options;
    options.method = "PUT";
    EXPECT_EQ(request_variables::build(options, std::uint64_t{1}).find("REQUEST_METHOD"), "PUT");
    options.method = "DELETE";
    EXPECT_EQ(request_variables::build(options, std::nullopt).find("REQUEST_METHOD"), "DELETE");
}

TEST(RequestVariables, DocumentUriIsTheDecodedPathOrTheRawOneIfItCannotBe) {
    request_options options;
    options.uri = "/a%2Fb%20c?x=%41";
    EXPECT_EQ(request_variables::build(options, std::nullopt).find("DOCUMENT_URI"), "/a/b c");
    options.uri = "/bad%zz";
    EXPECT_EQ(request_variables::build(options, std::nullopt).find("DOCUMENT_URI"), "/bad%zz");
    options.uri = "/nul%00";  // SCGI cannot carry a NUL
    EXPECT_EQ(request_variables::build(options, std::nullopt).find("DOCUMENT_URI"), "/nul%00");
    options.uri = "/q?";
    EXPECT_EQ(request_variables::build(options, std::nullopt).find("QUERY_STRING"), "");
    options.uri = "/q?a?b";
    EXPECT_EQ(request_variables::build(options, std::nullopt).find("QUERY_STRING"), "a?b");
}

TEST(RequestVariables, HeadersBecomeHttpVariablesAfterTheDefaults) {
    const auto vars = request_variables::build(with_headers({"X-Foo: bar", "user-agent: t/1"}), std::nullopt);
    const auto n = names(vars);
    EXPECT_EQ(std::vector<std::string>(n.end() - 3, n.end()),
              (std::vector<std::string>{"HTTP_HOST", "HTTP_X_FOO", "HTTP_USER_AGENT"}));
    EXPECT_EQ(vars.find("HTTP_X_FOO"), "bar");
    EXPECT_EQ(vars.find("HTTP_USER_AGENT"), "t/1");
}

TEST(RequestVariables, ContentTypeSetsCgiVariableAndHeaderLikeNginx) {
    const auto vars = request_variables::build(with_headers({"Content-Type: text/x-test"}), std::uint64_t{3});
    EXPECT_EQ(vars.find("CONTENT_TYPE"), "text/x-test");
    EXPECT_EQ(vars.find("HTTP_CONTENT_TYPE"), "text/x-test");
    // In place: CONTENT_TYPE stays fourth.
    EXPECT_EQ(names(vars)[3], "CONTENT_TYPE");

    const auto removed = request_variables::build(with_headers({"Content-Type:"}), std::uint64_t{3});
    EXPECT_EQ(removed.find("CONTENT_TYPE"), "");  // scgi_params sends it even empty
    EXPECT_FALSE(removed.find("HTTP_CONTENT_TYPE"));
}

TEST(RequestVariables, ContentLengthHeaderIsOnlyTheForwardedOne) {
    // CONTENT_LENGTH is the encoder's (the body's real length); the header
    // goes where nginx puts the client's.
    const auto vars = request_variables::build(with_headers({"Content-Length: 99"}), std::uint64_t{3});
    EXPECT_EQ(vars.find("HTTP_CONTENT_LENGTH"), "99");
    EXPECT_FALSE(vars.find("CONTENT_LENGTH"));
    std::string head;
    ASSERT_FALSE(vars.encode(3, head));
    EXPECT_NE(head.find("CONTENT_LENGTH\0" "3\0"s), std::string::npos);

    const auto removed = request_variables::build(with_headers({"Content-Length:"}), std::uint64_t{3});
    EXPECT_FALSE(removed.find("HTTP_CONTENT_LENGTH"));
}

TEST(RequestVariables, HostIsNginxsHostWithoutThePort) {
    EXPECT_EQ(request_variables::build(with_headers({"Host: Example.COM:8080"}), std::nullopt).find("HTTP_HOST"),
              "example.com");
    EXPECT_EQ(request_variables::build(with_headers({"host: [::1]:8080"}), std::nullopt).find("HTTP_HOST"), "[::1]");
    EXPECT_EQ(request_variables::build(with_headers({"Host: example.org."}), std::nullopt).find("HTTP_HOST"),
              "example.org");
    EXPECT_FALSE(request_variables::build(with_headers({"Host:"}), std::nullopt).find("HTTP_HOST"));
}

TEST(RequestVariables, RepeatedHeadersAreJoined) {
    const auto vars = request_variables::build(
        with_headers({"Accept: a", "X-Empty;", "accept: b", "Cookie: c=1", "Cookie: d=2"}), std::nullopt);
    EXPECT_EQ(vars.find("HTTP_ACCEPT"), "a, b");
    EXPECT_EQ(vars.find("HTTP_COOKIE"), "c=1; d=2");
    EXPECT_EQ(vars.find("HTTP_X_EMPTY"), "");
}

TEST(RequestVariables, AHeaderRemovedThenGivenAgainStartsAfresh) {
    const auto vars = request_variables::build(
        with_headers({"X-A: 1", "X-A:", "X-A: 2", "Content-Type: a/b", "Content-Type:", "Content-Type: c/d"}),
        std::nullopt);
    EXPECT_EQ(vars.find("HTTP_X_A"), "2");
    EXPECT_EQ(vars.find("HTTP_CONTENT_TYPE"), "c/d");
    EXPECT_EQ(vars.find("CONTENT_TYPE"), "c/d");
}

TEST(RequestVariables, VariablesReplaceInPlaceAppendAndRemove) {
    request_options options = with_headers({"X-Foo: from -H"});
    options.variables = {"REMOTE_ADDR=10.1.2.3", "HTTP_X_FOO=from -e", "MY_VAR=1", "DOCUMENT_ROOT", "EMPTY="};
    const auto vars = request_variables::build(options, std::nullopt);
    EXPECT_EQ(names(vars)[7], "REMOTE_ADDR");
    EXPECT_EQ(vars.find("REMOTE_ADDR"), "10.1.2.3");
    EXPECT_EQ(vars.find("HTTP_X_FOO"), "from -e");
    EXPECT_FALSE(vars.find("DOCUMENT_ROOT"));
    const auto n = names(vars);
    EXPECT_EQ(std::vector<std::string>(n.end() - 2, n.end()), (std::vector<std::string>{"MY_VAR", "EMPTY"}));
    EXPECT_EQ(vars.find("EMPTY"), "");
}

TEST(RequestVariables, RefusesWhatTheOptionsWouldHave) {
    EXPECT_THROW(request_variables::build(with_headers({"no colon"}), std::nullopt), std::invalid_argument);
    request_options options;
    options.variables = {"CONTENT_LENGTH=1"};
    EXPECT_THROW(request_variables::build(options, std::nullopt), std::invalid_argument);
}

TEST(RequestVariables, SetAndRemove) {
    auto vars = request_variables::build(request_options{}, std::nullopt);
    vars.set("SERVER_PORT", "8080");
    vars.set("NEW", "x");
    vars.remove("HTTP_HOST");
    vars.remove("ABSENT");
    EXPECT_EQ(names(vars)[10], "SERVER_PORT");
    EXPECT_EQ(vars.find("SERVER_PORT"), "8080");
    EXPECT_EQ(names(vars).back(), "NEW");
    EXPECT_FALSE(vars.find("HTTP_HOST"));
    const auto views = vars.headers();
    ASSERT_EQ(views.size(), vars.list().size());
    EXPECT_EQ(views.back(), (scgi::header{"NEW", "x"}));
}

TEST(HttpVariableName, NginxsMapping) {
    EXPECT_EQ(scgi::tools::http_variable_name("X-Forwarded-For"), "HTTP_X_FORWARDED_FOR");
    EXPECT_EQ(scgi::tools::http_variable_name("accept"), "HTTP_ACCEPT");
    EXPECT_EQ(scgi::tools::http_variable_name("X_Under"), "HTTP_X_UNDER");
}

}  // namespace
