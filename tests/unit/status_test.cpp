#include <scgi/status.hpp>

#include <gtest/gtest.h>

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

}  // namespace
