// tools/common/body_source.hpp: bodies from the command line, from files,
// and from pipes (spooled to an unnamed temporary file first).
#include "common/body_source.hpp"

#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace {

using scgi::test::temp_dir;
using scgi::tools::body_source;

// Every byte of `source`, read in pieces of `piece` bytes.
std::string read_all(const body_source& source, std::size_t piece = 7) {
    std::string out;
    std::vector<char> buffer(piece);
    for (;;) {
        std::error_code ec;
        const std::size_t n = source.read_at(out.size(), buffer, ec);
        EXPECT_FALSE(ec) << ec.message();
        if (ec || n == 0) return out;
        out.append(buffer.data(), n);
    }
}

void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
}

// A pattern with every byte value, NUL included.
std::string pattern(std::size_t size) {
    std::string out(size, '\0');
    for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>(i * 7 % 256);
    return out;
}

TEST(BodySource, NoBody) {
    const body_source none;
    EXPECT_EQ(none.size(), 0u);
    EXPECT_EQ(read_all(none), "");
}

TEST(BodySource, DataArgumentIsTheBytes) {
    const body_source source = body_source::open("a=1&b=2");
    EXPECT_EQ(source.size(), 7u);
    EXPECT_EQ(source.bytes(), "a=1&b=2");
    EXPECT_EQ(source.name(), "data");
    EXPECT_EQ(read_all(source, 3), "a=1&b=2");
    EXPECT_EQ(body_source::open("").size(), 0u);
}

TEST(BodySource, RegularFileIsReadWhereItLies) {
    temp_dir dir;
    const std::string path = dir.file("body");
    const std::string bytes = pattern(100000);
    write_file(path, bytes);
    const body_source source = body_source::open("@" + path);
    EXPECT_EQ(source.size(), bytes.size());
    EXPECT_EQ(source.name(), path);
    EXPECT_TRUE(source.bytes().empty());
    EXPECT_EQ(read_all(source, 4096), bytes);
    // Positional: any offset, any number of times.
    std::vector<char> buffer(10);
    std::error_code ec;
    ASSERT_EQ(source.read_at(99995, buffer, ec), 5u);
    EXPECT_EQ(std::string(buffer.data(), 5), bytes.substr(99995));
    EXPECT_EQ(source.read_at(100000, buffer, ec), 0u);
    EXPECT_FALSE(ec);
}

TEST(BodySource, MissingFileThrowsWithItsName) {
    try {
        (void)body_source::open("@/nonexistent/body");
        FAIL() << "no exception";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), std::errc::no_such_file_or_directory);
        EXPECT_NE(std::string(e.what()).find("/nonexistent/body"), std::string::npos) << e.what();
    }
}

TEST(BodySource, FileOpenedAtAnOffsetStartsThere) {
    // stdin redirected from a file that someone has already read from.
    temp_dir dir;
    const std::string path = dir.file("body");
    write_file(path, "skip:the rest");
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::lseek(fd, 5, SEEK_SET), 5);
    const body_source source = body_source::from_descriptor(fd, "stdin");
    ::close(fd);  // the source keeps its own descriptor
    EXPECT_EQ(source.size(), 8u);
    EXPECT_EQ(read_all(source), "the rest");
}

TEST(BodySource, PipeIsSpooledToAnUnnamedFile) {
    temp_dir dir;
    const std::string old_tmpdir = std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "";
    ::setenv("TMPDIR", dir.file("").c_str(), 1);
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    const std::string bytes = pattern(3 << 20);  // far more than a pipe holds
    std::thread writer([&] {
        std::string_view rest = bytes;
        while (!rest.empty()) {
            const ssize_t n = ::write(fds[1], rest.data(), rest.size());
            if (n <= 0) break;
            rest.remove_prefix(static_cast<std::size_t>(n));
        }
        ::close(fds[1]);
    });
    const body_source source = body_source::from_descriptor(fds[0], "stdin");
    writer.join();
    ::close(fds[0]);
    if (old_tmpdir.empty()) {
        ::unsetenv("TMPDIR");
    } else {
        ::setenv("TMPDIR", old_tmpdir.c_str(), 1);
    }
    EXPECT_EQ(source.size(), bytes.size());
    EXPECT_EQ(source.name(), "stdin");
    // Nothing with a name in the directory, but an open (deleted) file.
    EXPECT_TRUE(std::filesystem::is_empty(dir.file("")));
    EXPECT_EQ(scgi::test::open_files_under(dir.file("")).size(), 1u);
    EXPECT_EQ(read_all(source, 65536), bytes);
}

TEST(BodySource, EmptyPipeIsAnEmptyBody) {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    ::close(fds[1]);
    const body_source source = body_source::from_descriptor(fds[0], "stdin");
    ::close(fds[0]);
    EXPECT_EQ(source.size(), 0u);
}

TEST(BodySource, FileThatShrinksIsAnError) {
    temp_dir dir;
    const std::string path = dir.file("body");
    write_file(path, pattern(1000));
    const body_source source = body_source::open("@" + path);
    ASSERT_EQ(::truncate(path.c_str(), 600), 0);
    std::vector<char> buffer(1000);
    std::error_code ec;
    EXPECT_EQ(source.read_at(0, buffer, ec), 600u);
    EXPECT_FALSE(ec);
    EXPECT_EQ(source.read_at(600, buffer, ec), 0u);
    EXPECT_EQ(ec, body_source::body_file_shrank());
    EXPECT_NE(ec.message().find("shrank"), std::string::npos);
}

TEST(BodySource, FileThatGrowsIsReadToItsOpeningLength) {
    temp_dir dir;
    const std::string path = dir.file("body");
    write_file(path, "12345");
    const body_source source = body_source::open("@" + path);
    std::ofstream(path, std::ios::app) << "678";
    EXPECT_EQ(read_all(source), "12345");
}

TEST(BodySource, MovesItsFile) {
    temp_dir dir;
    const std::string path = dir.file("body");
    write_file(path, "moved");
    body_source a = body_source::open("@" + path);
    body_source b = std::move(a);
    EXPECT_EQ(read_all(b), "moved");
    body_source c;
    c = std::move(b);
    EXPECT_EQ(read_all(c), "moved");
    EXPECT_EQ(c.name(), path);
}

}  // namespace
