#include <scgi/limits.hpp>

#include <gtest/gtest.h>

#include <limits>

namespace {

TEST(Limits, DocumentedDefaults) {
    const scgi::limits l;
    EXPECT_EQ(l.header_block_bytes, 64u * 1024u);
    EXPECT_EQ(l.header_count, scgi::limits::no_count_limit);
    EXPECT_EQ(scgi::limits::no_count_limit, std::numeric_limits<std::size_t>::max());
    EXPECT_EQ(l.body_bytes, std::numeric_limits<std::uint64_t>::max());
    EXPECT_EQ(scgi::limits::max_header_block_bytes, 0xFFFFFFF0u);
}

}  // namespace
