#include <scgi/header.hpp>

#include <gtest/gtest.h>

#include <string>

namespace {

TEST(Header, ComparesByContent) {
    const std::string name = "REQUEST_METHOD";
    const scgi::header a{name, "GET"};
    const scgi::header b{"REQUEST_METHOD", "GET"};
    EXPECT_EQ(a, b);
    EXPECT_NE(a, (scgi::header{"REQUEST_METHOD", "POST"}));
    EXPECT_NE(a, (scgi::header{"REQUEST_URI", "GET"}));
}

}  // namespace
