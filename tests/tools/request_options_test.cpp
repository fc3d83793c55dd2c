// tools/common/request_options.hpp: the request options on a CLI11 app, and
// the -H / -e argument syntax.
#include "common/request_options.hpp"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

#include <initializer_list>
#include <string>
#include <vector>

namespace {

using scgi::tools::request_options;

// Parses `args` (after the program name) the way a tool does: its ENDPOINT
// first, then the shared options. Returns CLI11's message on an error.
struct parsed {
    request_options options;
    std::string endpoint;
    std::string error;
};

parsed parse(std::initializer_list<const char*> args) {
    parsed out;
    CLI::App app("test");
    app.add_option("ENDPOINT", out.endpoint)->required();
    scgi::tools::add_request_options(app, out.options);
    std::vector<const char*> argv{"tool"};
    argv.insert(argv.end(), args);
    try {
        app.parse(static_cast<int>(argv.size()), argv.data());
    } catch (const CLI::ParseError& e) {
        out.error = e.what();
    }
    return out;
}

TEST(RequestOptions, DefaultsWithOnlyTheEndpoint) {
    const parsed p = parse({"unix:/run/app.sock"});
    ASSERT_EQ(p.error, "");
    EXPECT_EQ(p.endpoint, "unix:/run/app.sock");
    EXPECT_EQ(p.options.uri, "/");
    EXPECT_EQ(p.options.method, "");
    EXPECT_TRUE(p.options.headers.empty());
    EXPECT_TRUE(p.options.variables.empty());
    EXPECT_FALSE(p.options.data.has_value());
}

TEST(RequestOptions, EveryOptionInOrder) {
    const parsed p = parse({"-X", "PUT", "-H", "X-A: 1", "127.0.0.1:4000", "/app/env?a=1", "-H", "X-B: 2", "-e",
                            "REMOTE_ADDR=10.0.0.1", "--env", "DOCUMENT_ROOT", "--data-binary", "@-"});
    ASSERT_EQ(p.error, "");
    EXPECT_EQ(p.endpoint, "127.0.0.1:4000");
    EXPECT_EQ(p.options.uri, "/app/env?a=1");
    EXPECT_EQ(p.options.method, "PUT");
    EXPECT_EQ(p.options.headers, (std::vector<std::string>{"X-A: 1", "X-B: 2"}));
    EXPECT_EQ(p.options.variables, (std::vector<std::string>{"REMOTE_ADDR=10.0.0.1", "DOCUMENT_ROOT"}));
    EXPECT_EQ(p.options.data, "@-");
}

TEST(RequestOptions, DataMayBeEmpty) {
    const parsed p = parse({"-d", "", "e"});
    ASSERT_EQ(p.error, "");
    EXPECT_EQ(p.options.data, "");
}

TEST(RequestOptions, OneBodyOptionOnly) {
    EXPECT_NE(parse({"e", "-d", "a", "--data-binary", "b"}).error, "");
    EXPECT_NE(parse({"e", "-d", "a", "-d", "b"}).error, "");
}

TEST(RequestOptions, LongOnlyLeavesDashDToTheTool) {
    request_options options;
    double duration = 0;
    CLI::App app("bench");
    app.add_option("-d,--duration", duration);
    scgi::tools::add_request_options(app, options, scgi::tools::data_flags::long_only);
    const char* argv[] = {"tool", "-d", "2.5", "--data", "@body", "/x"};
    ASSERT_NO_THROW(app.parse(6, argv));
    EXPECT_EQ(duration, 2.5);
    EXPECT_EQ(options.data, "@body");
    EXPECT_EQ(options.uri, "/x");
}

TEST(RequestOptions, RefusesMalformedArguments) {
    EXPECT_NE(parse({"e", "-H", "no colon"}).error.find("-H wants 'Name: value'"), std::string::npos);
    EXPECT_NE(parse({"e", "-H", "Bad Name: x"}).error.find("is not an HTTP header name"), std::string::npos);
    EXPECT_NE(parse({"e", "-H", "X: a\r\nInjected: b"}).error.find("CR or LF"), std::string::npos);
    EXPECT_NE(parse({"e", "-e", "=value"}).error.find("-e wants NAME=VALUE"), std::string::npos);
    EXPECT_NE(parse({"e", "-e", "CONTENT_LENGTH=3"}).error.find("cannot set CONTENT_LENGTH"), std::string::npos);
    EXPECT_NE(parse({"e", "-e", "SCGI"}).error.find("cannot set SCGI"), std::string::npos);
    EXPECT_NE(parse({"e", "-X", ""}).error, "");
    EXPECT_NE(parse({"e", "/a", "/b"}).error, "");  // one URI
}

TEST(HeaderArgument, Forms) {
    std::string reason;
    auto h = scgi::tools::parse_header_argument("X-Foo:  a: b \t", reason);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->name, "X-Foo");
    EXPECT_EQ(h->value, "a: b");
    EXPECT_FALSE(h->remove);

    h = scgi::tools::parse_header_argument("X-Foo:", reason);
    ASSERT_TRUE(h);
    EXPECT_TRUE(h->remove);
    h = scgi::tools::parse_header_argument("X-Foo:  ", reason);
    ASSERT_TRUE(h);
    EXPECT_TRUE(h->remove);

    h = scgi::tools::parse_header_argument("X-Empty;", reason);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->name, "X-Empty");
    EXPECT_EQ(h->value, "");
    EXPECT_FALSE(h->remove);
    EXPECT_EQ(reason, "");

    EXPECT_FALSE(scgi::tools::parse_header_argument(": value", reason));
    EXPECT_FALSE(scgi::tools::parse_header_argument(";", reason));
    EXPECT_FALSE(scgi::tools::parse_header_argument("X-Foo", reason));
    EXPECT_FALSE(scgi::tools::parse_header_argument("X(Foo): v", reason));
}

TEST(VariableArgument, Forms) {
    std::string reason;
    auto v = scgi::tools::parse_variable_argument("NAME=a=b", reason);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->name, "NAME");
    EXPECT_EQ(v->value, "a=b");
    EXPECT_FALSE(v->remove);

    v = scgi::tools::parse_variable_argument("NAME=", reason);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->value, "");
    EXPECT_FALSE(v->remove);

    v = scgi::tools::parse_variable_argument("NAME", reason);
    ASSERT_TRUE(v);
    EXPECT_TRUE(v->remove);

    // Names are raw bytes: SCGI does not restrict them.
    v = scgi::tools::parse_variable_argument("lower case=x", reason);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->name, "lower case");
    EXPECT_EQ(reason, "");

    EXPECT_FALSE(scgi::tools::parse_variable_argument("", reason));
    EXPECT_FALSE(scgi::tools::parse_variable_argument("CONTENT_LENGTH", reason));
    EXPECT_FALSE(scgi::tools::parse_variable_argument("SCGI=1", reason));
}

}  // namespace
