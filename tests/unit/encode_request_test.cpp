#include <scgi/encode_request.hpp>

#include <scgi/error.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace std::string_literals;
using scgi::error;

TEST(EncodeRequest, ProtocolExample) {
    std::string out;
    ASSERT_FALSE(scgi::encode_request({{"REQUEST_METHOD", "POST"}, {"REQUEST_URI", "/deepthought"}},
                                      27, out));
    EXPECT_EQ(out,
              "70:CONTENT_LENGTH\00027\0SCGI\0001\0REQUEST_METHOD\0POST\0REQUEST_URI\0/deepthought\0,"s);
}

TEST(EncodeRequest, AppendsAndSizesExactly) {
    const std::vector<scgi::header> headers{{"A", "1"}, {"EMPTY", ""}};
    std::error_code ec;
    const std::size_t size = scgi::encoded_size(headers, 12345, ec);
    ASSERT_FALSE(ec);
    std::string out = "prefix";
    ASSERT_FALSE(scgi::encode_request(headers, 12345, out));
    EXPECT_EQ(out.size(), 6 + size);
    EXPECT_EQ(out.substr(0, 6), "prefix");
    EXPECT_EQ(out.substr(6), "39:CONTENT_LENGTH\00012345\0SCGI\0001\0A\0001\0EMPTY\0\0,"s);
}

TEST(EncodeRequest, NoHeaders) {
    std::string out;
    ASSERT_FALSE(scgi::encode_request({}, 0, out));
    EXPECT_EQ(out, "24:CONTENT_LENGTH\0000\0SCGI\0001\0,"s);
}

TEST(EncodeRequest, LargestBodyLength) {
    std::string out;
    ASSERT_FALSE(scgi::encode_request({}, 18446744073709551615u, out));
    EXPECT_NE(out.find("\00018446744073709551615\0"s), std::string::npos);
}

TEST(EncodeRequest, GivenContentLengthAndScgiAreCheckedAndMovedFirst) {
    std::string out;
    ASSERT_FALSE(scgi::encode_request({{"X", "y"}, {"SCGI", "1"}, {"CONTENT_LENGTH", "5"}}, 5, out));
    EXPECT_EQ(out, "28:CONTENT_LENGTH\0005\0SCGI\0001\0X\0y\0,"s);

    out.clear();
    EXPECT_EQ(scgi::encode_request({{"CONTENT_LENGTH", "6"}}, 5, out), error::content_length_mismatch);
    EXPECT_EQ(scgi::encode_request({{"CONTENT_LENGTH", "05"}}, 5, out), error::content_length_mismatch);
    EXPECT_EQ(scgi::encode_request({{"SCGI", "2"}}, 5, out), error::scgi_header_invalid);
    EXPECT_TRUE(out.empty());
}

TEST(EncodeRequest, RefusesWhatSCGICannotCarry) {
    std::string out = "keep";
    EXPECT_EQ(scgi::encode_request({{"", "v"}}, 0, out), error::empty_name);
    EXPECT_EQ(scgi::encode_request({{"A\0B"s, "v"}}, 0, out), error::nul_in_name);
    EXPECT_EQ(scgi::encode_request({{"A", "v\0"s}}, 0, out), error::nul_in_value);
    EXPECT_EQ(scgi::encode_request({{"A", "1"}, {"B", "2"}, {"A", "3"}}, 0, out), error::duplicate_header);
    EXPECT_EQ(scgi::encode_request({{"CONTENT_LENGTH", "0"}, {"CONTENT_LENGTH", "0"}}, 0, out),
              error::content_length_duplicate);
    EXPECT_EQ(out, "keep");  // unchanged on every error

    std::error_code ec;
    EXPECT_EQ(scgi::encoded_size(std::vector<scgi::header>{{"A\0"s, ""}}, 0, ec), 0u);
    EXPECT_EQ(ec, error::nul_in_name);
    EXPECT_EQ(ec, scgi::condition::invalid_argument);
}

TEST(EncodeRequest, ManyHeadersUseTheHeapTable) {
    std::vector<std::string> names;
    for (int i = 0; i < 1000; ++i) names.push_back("H" + std::to_string(i));
    std::vector<scgi::header> headers;
    for (const auto& n : names) headers.push_back({n, "v"});
    std::string out;
    ASSERT_FALSE(scgi::encode_request(headers, 0, out));
    headers.push_back({"H999", "again"});
    EXPECT_EQ(scgi::encode_request(headers, 0, out), error::duplicate_header);
}

}  // namespace
