// The server's private body spool on its own: memory, then an unlinked
// temporary file, read back in order in pieces of any size.
#include "body_spool.hpp"

#include <gtest/gtest.h>

#include "temp_dir.hpp"

#include <filesystem>
#include <random>
#include <string>

namespace {

using scgi::detail::body_spool;

std::string pattern(std::size_t size, unsigned seed) {
    std::mt19937 random(seed);
    std::string out(size, '\0');
    for (auto& c : out) c = static_cast<char>(random());
    return out;
}

std::string read_all(body_spool& spool, std::size_t piece) {
    std::string out;
    for (;;) {
        std::error_code ec;
        const std::string_view next = spool.next(piece, ec);
        EXPECT_FALSE(ec) << ec.message();
        if (ec || next.empty()) return out;
        EXPECT_LE(next.size(), piece);
        out += next;
    }
}

TEST(BodySpool, BytesComeBackInOrderAcrossTheMemoryFileBoundary) {
    scgi::test::temp_dir dir;
    scgi::spool_options options;
    options.memory_bytes = 1000;
    options.directory = dir.file("");
    for (const std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{999}, std::size_t{1000},
                                   std::size_t{1001}, std::size_t{300'000}}) {
        body_spool spool(options);
        const std::string body = pattern(size, static_cast<unsigned>(size));
        spool.reserve(size);
        // Appended in uneven pieces, read back in others.
        std::mt19937 random(7);
        for (std::size_t at = 0; at < size;) {
            const std::size_t n = std::min<std::size_t>(size - at, 1 + random() % 5000);
            ASSERT_FALSE(spool.append(std::string_view(body).substr(at, n)));
            at += n;
        }
        EXPECT_EQ(spool.size(), size);
        EXPECT_EQ(spool.unread(), size);
        EXPECT_EQ(spool.has_file(), size > 1000) << size;
        EXPECT_TRUE(std::filesystem::is_empty(dir.file(""))) << "the file has a name";
        EXPECT_TRUE(read_all(spool, 777) == body) << size;
        EXPECT_EQ(spool.unread(), 0u);
    }
}

TEST(BodySpool, ClearForgetsEverythingAndTheSpoolIsReusable) {
    scgi::test::temp_dir dir;
    scgi::spool_options options;
    options.memory_bytes = 10;
    options.directory = dir.file("");
    body_spool spool(options);
    ASSERT_FALSE(spool.append("0123456789abcdef"));
    EXPECT_TRUE(spool.has_file());
    spool.clear();
    EXPECT_FALSE(spool.has_file());
    EXPECT_EQ(spool.size(), 0u);
    ASSERT_FALSE(spool.append("again, past the memory part"));
    EXPECT_EQ(read_all(spool, 4), "again, past the memory part");
}

TEST(BodySpool, MissingDirectoryIsTheFileSystemsError) {
    scgi::test::temp_dir dir;
    scgi::spool_options options;
    options.memory_bytes = 4;
    options.directory = dir.file("missing");
    body_spool spool(options);
    EXPECT_FALSE(spool.append("1234"));  // fits in memory: no file needed
    EXPECT_EQ(spool.append("5"), std::errc::no_such_file_or_directory);
    EXPECT_FALSE(spool.has_file());
}

TEST(BodySpool, EmptyDirectoryMeansTmpdir) {
    scgi::test::temp_dir dir;
    ::setenv("TMPDIR", dir.file("").c_str(), 1);
    scgi::spool_options options;
    options.memory_bytes = 0;
    body_spool spool(options);
    ASSERT_FALSE(spool.append("on disk"));
    EXPECT_TRUE(spool.has_file());
    EXPECT_EQ(scgi::test::open_files_under(dir.file("")).size(), 1u);
    ::unsetenv("TMPDIR");
    EXPECT_EQ(read_all(spool, 100), "on disk");
}

}  // namespace
