// scgi::read_buffer: lazy storage, the prepare/commit/consume cycle, and the
// move of unconsumed bytes to the front.
#include <scgi/asio/read_buffer.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <stdexcept>
#include <string_view>

namespace {

void put(scgi::read_buffer& buffer, std::string_view bytes) {
    const auto space = buffer.prepare();
    ASSERT_GE(space.size(), bytes.size());
    std::memcpy(space.data(), bytes.data(), bytes.size());
    buffer.commit(bytes.size());
}

TEST(ReadBuffer, AllocatesOnlyWhenFirstReadInto) {
    scgi::read_buffer buffer(64);
    EXPECT_FALSE(buffer.is_allocated());
    EXPECT_TRUE(buffer.empty());
    EXPECT_TRUE(buffer.data().empty());
    EXPECT_EQ(buffer.capacity(), 64u);
    buffer.clear();
    EXPECT_FALSE(buffer.is_allocated());
    EXPECT_EQ(buffer.prepare().size(), 64u);
    EXPECT_TRUE(buffer.is_allocated());
}

TEST(ReadBuffer, ZeroCapacityIsRefused) { EXPECT_THROW(scgi::read_buffer(0), std::invalid_argument); }

TEST(ReadBuffer, CommitConsumeAndCompaction) {
    scgi::read_buffer buffer(8);
    put(buffer, "abcdef");
    EXPECT_EQ(buffer.data(), "abcdef");
    EXPECT_EQ(buffer.prepare().size(), 2u);
    buffer.consume(4);
    EXPECT_EQ(buffer.data(), "ef");
    // Only 2 bytes free at the tail: fill it, then prepare() moves "efgh" to
    // the front to make room.
    put(buffer, "gh");
    EXPECT_EQ(buffer.data(), "efgh");
    EXPECT_EQ(buffer.prepare().size(), 4u);
    EXPECT_EQ(buffer.data(), "efgh");
    put(buffer, "ijkl");
    EXPECT_EQ(buffer.data(), "efghijkl");
    // Full of unconsumed bytes: nothing to read into until the caller consumes.
    EXPECT_EQ(buffer.prepare().size(), 0u);
    buffer.consume(8);
    EXPECT_TRUE(buffer.empty());
    EXPECT_EQ(buffer.prepare().size(), 8u);
    put(buffer, "xy");
    buffer.clear();
    EXPECT_TRUE(buffer.empty());
    EXPECT_TRUE(buffer.is_allocated());
}

}  // namespace
