#include <scgi/parser_options.hpp>

#include <gtest/gtest.h>

namespace {

TEST(ParserOptions, StrictByDefault) {
    const scgi::parser_options o;
    EXPECT_FALSE(o.allow_missing_scgi);
    EXPECT_FALSE(o.allow_content_length_anywhere);
    EXPECT_FALSE(o.allow_missing_content_length);
    EXPECT_EQ(o.duplicates, scgi::duplicate_policy::reject);
    EXPECT_EQ(o.limits.header_block_bytes, scgi::limits{}.header_block_bytes);
}

}  // namespace
