#include "common/body_source.hpp"

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <utility>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

namespace scgi::tools {
namespace {

std::error_code last_error() noexcept { return {errno, std::system_category()}; }

[[noreturn]] void throw_error(std::error_code ec, const std::string& name) { throw std::system_error(ec, name); }

// Closes a descriptor when the scope ends, unless released.
struct descriptor {
    int fd = -1;
    ~descriptor() {
        if (fd >= 0) ::close(fd);
    }
    int release() noexcept { return std::exchange(fd, -1); }
};

// An unnamed file for the spooled body: O_TMPFILE, so nothing is left behind
// even if the tool is killed; a named file unlinked at once where the file
// system lacks O_TMPFILE.
int open_temporary_file(std::error_code& ec) {
    const char* tmp = std::getenv("TMPDIR");
    const std::string directory = tmp && *tmp ? tmp : "/tmp";
    int fd = ::open(directory.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0) return fd;
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
        ec = last_error();
        return -1;
    }
    std::string path = directory + "/scgi-body-XXXXXX";
    fd = ::mkostemp(path.data(), O_CLOEXEC);
    if (fd < 0) {
        ec = last_error();
        return -1;
    }
    ::unlink(path.c_str());
    return fd;
}

// Copies `in` to its end into `out`; the number of bytes. Throws with `name`
// (the input) or "temporary file" in the message.
std::uint64_t copy_to_end(int in, int out, const std::string& name) {
    constexpr std::size_t chunk_size = 256 * 1024;
    const auto chunk = std::make_unique_for_overwrite<char[]>(chunk_size);
    std::uint64_t total = 0;
    for (;;) {
        const ssize_t n = ::read(in, chunk.get(), chunk_size);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_error(last_error(), name);
        if (n == 0) return total;
        for (std::size_t done = 0; done < static_cast<std::size_t>(n);) {
            const ssize_t w = ::write(out, chunk.get() + done, static_cast<std::size_t>(n) - done);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) throw_error(last_error(), name + ": temporary file");
            done += static_cast<std::size_t>(w);
        }
        total += static_cast<std::uint64_t>(n);
    }
}

// The error category of body_file_shrank(): one value, with a message that
// says what happened (EIO's "Input/output error" would not).
class body_category final : public std::error_category {
public:
    const char* name() const noexcept override { return "scgi-tools body"; }
    std::string message(int) const override {
        return "the file ended before the length it had when the request started (it shrank)";
    }
};

}  // namespace

body_source::~body_source() {
    if (fd_ >= 0) ::close(fd_);
}

body_source::body_source(body_source&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      offset_(other.offset_),
      size_(std::exchange(other.size_, 0)),
      bytes_(std::move(other.bytes_)),
      name_(std::move(other.name_)) {}

body_source& body_source::operator=(body_source&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = std::exchange(other.fd_, -1);
        offset_ = other.offset_;
        size_ = std::exchange(other.size_, 0);
        bytes_ = std::move(other.bytes_);
        name_ = std::move(other.name_);
    }
    return *this;
}

body_source body_source::open(std::string_view argument) {
    if (!argument.starts_with('@')) {
        return from_bytes(argument);
    }
    const std::string path(argument.substr(1));
    if (path == "-") return from_descriptor(STDIN_FILENO, "stdin");
    descriptor file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (file.fd < 0) throw_error(last_error(), path);
    return from_descriptor(file.fd, path);
}

body_source body_source::from_descriptor(int fd, std::string name) {
    body_source source;
    source.name_ = std::move(name);
    struct stat st{};
    if (::fstat(fd, &st) != 0) throw_error(last_error(), source.name_);
    if (S_ISREG(st.st_mode)) {
        // Read where it lies, from the current offset (stdin redirected from
        // a file may have been read from already).
        const off_t at = ::lseek(fd, 0, SEEK_CUR);
        if (at < 0) throw_error(last_error(), source.name_);
        source.fd_ = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (source.fd_ < 0) throw_error(last_error(), source.name_);
        source.offset_ = static_cast<std::uint64_t>(at);
        source.size_ = st.st_size > at ? static_cast<std::uint64_t>(st.st_size - at) : 0;
        return source;
    }
    // A pipe, a terminal, a socket: its length is known only at its end.
    std::error_code ec;
    descriptor spool{open_temporary_file(ec)};
    if (spool.fd < 0) throw_error(ec, source.name_ + ": temporary file");
    source.size_ = copy_to_end(fd, spool.fd, source.name_);
    source.fd_ = spool.release();
    return source;
}

body_source body_source::from_bytes(std::string_view bytes) {
    body_source source;
    source.bytes_ = bytes;
    source.size_ = bytes.size();
    source.name_ = "data";
    return source;
}

std::size_t body_source::read_at(std::uint64_t offset, std::span<char> buffer, std::error_code& ec) const {
    if (offset >= size_) return 0;
    const auto wanted = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), size_ - offset));
    if (fd_ < 0) {
        bytes_.copy(buffer.data(), wanted, static_cast<std::size_t>(offset));
        return wanted;
    }
    for (;;) {
        const ssize_t n = ::pread(fd_, buffer.data(), wanted, static_cast<off_t>(offset_ + offset));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            ec = last_error();
            return 0;
        }
        if (n == 0) {
            ec = body_file_shrank();
            return 0;
        }
        return static_cast<std::size_t>(n);
    }
}

std::error_code body_source::body_file_shrank() noexcept {
    static const body_category category;
    return {1, category};
}

}  // namespace scgi::tools
