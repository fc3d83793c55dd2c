#include <scgi/status.hpp>

#include <scgi/error.hpp>

#include <gtest/gtest.h>

#include <system_error>

namespace {

TEST(Status, StandardPhrases) {
    EXPECT_EQ(scgi::reason_phrase(200), "OK");
    EXPECT_EQ(scgi::reason_phrase(302), "Found");
    EXPECT_EQ(scgi::reason_phrase(400), "Bad Request");
    EXPECT_EQ(scgi::reason_phrase(404), "Not Found");
    EXPECT_EQ(scgi::reason_phrase(413), "Content Too Large");
    EXPECT_EQ(scgi::reason_phrase(431), "Request Header Fields Too Large");
    EXPECT_EQ(scgi::reason_phrase(500), "Internal Server Error");
    EXPECT_EQ(scgi::reason_phrase(503), "Service Unavailable");
}

TEST(Status, UnknownCodes) {
    EXPECT_EQ(scgi::reason_phrase(299), "Unknown");
    EXPECT_EQ(scgi::reason_phrase(999), "Unknown");
    EXPECT_EQ(scgi::reason_phrase(-1), "Unknown");
}

TEST(StatusFor, EachRefusalItsStatus) {
    using scgi::error;
    using scgi::make_error_code;
    EXPECT_EQ(scgi::status_for(make_error_code(error::head_timeout)), 408);
    EXPECT_EQ(scgi::status_for(make_error_code(error::body_timeout)), 408);
    EXPECT_EQ(scgi::status_for(make_error_code(error::body_too_large)), 413);
    EXPECT_EQ(scgi::status_for(make_error_code(error::spool_limit_exceeded)), 413);
    EXPECT_EQ(scgi::status_for(make_error_code(error::header_block_too_large)), 431);
    EXPECT_EQ(scgi::status_for(make_error_code(error::too_many_headers)), 431);
    EXPECT_EQ(scgi::status_for(make_error_code(error::content_length_disagrees)), 400);
    EXPECT_EQ(scgi::status_for(make_error_code(error::header_unterminated)), 400);
    EXPECT_EQ(scgi::status_for(make_error_code(error::scgi_header_missing)), 400);
}

TEST(StatusFor, NobodyToAnswer) {
    EXPECT_EQ(scgi::status_for({}), 0);
    EXPECT_EQ(scgi::status_for(scgi::make_error_code(scgi::error::partial_request)), 0);
    EXPECT_EQ(scgi::status_for(std::make_error_code(std::errc::connection_reset)), 0);
    EXPECT_EQ(scgi::status_for(scgi::make_error_code(scgi::error::write_timeout)), 0);
    EXPECT_EQ(scgi::status_for(scgi::make_error_code(scgi::error::endpoint_empty)), 0);
}

}  // namespace
