#include "body_spool.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

namespace scgi::detail {
namespace {

std::error_code last_error() noexcept { return {errno, std::system_category()}; }

std::string spool_directory(const spool_options& options) {
    if (!options.directory.empty()) return options.directory;
    const char* tmp = std::getenv("TMPDIR");
    return tmp && *tmp ? tmp : "/tmp";
}

}  // namespace

body_spool::body_spool(const spool_options& options) : options_(&options), directory_(spool_directory(options)) {}

void body_spool::reserve(std::uint64_t expected) {
    memory_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(expected, options_->memory_bytes)));
}

std::error_code body_spool::append(std::string_view bytes) {
    const std::size_t room = options_->memory_bytes > memory_.size() ? options_->memory_bytes - memory_.size() : 0;
    const std::size_t to_memory = file_ < 0 ? std::min(room, bytes.size()) : 0;
    memory_.append(bytes.data(), to_memory);
    bytes.remove_prefix(to_memory);
    if (bytes.empty()) return {};
    if (file_ < 0) {
        if (const auto ec = open_file()) return ec;
    }
    return write_file(bytes);
}

std::string_view body_spool::next(std::size_t max, std::error_code& ec) {
    if (read_ < memory_.size()) {
        const auto n = std::min<std::uint64_t>(max, memory_.size() - read_);
        const std::string_view piece(memory_.data() + read_, static_cast<std::size_t>(n));
        read_ += n;
        return piece;
    }
    if (read_ == size()) return {};
    staging(max);
    const auto offset = read_ - memory_.size();
    const auto wanted = static_cast<std::size_t>(std::min<std::uint64_t>(max, file_size_ - offset));
    for (;;) {
        const ssize_t n = ::pread(file_, chunk_.get(), wanted, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            ec = last_error();
            return {};
        }
        if (n == 0) {  // the file shrank under us: someone else's doing
            ec = std::make_error_code(std::errc::io_error);
            return {};
        }
        read_ += static_cast<std::uint64_t>(n);
        return {chunk_.get(), static_cast<std::size_t>(n)};
    }
}

std::span<char> body_spool::staging(std::size_t n) {
    if (chunk_size_ < n) {
        chunk_ = std::make_unique_for_overwrite<char[]>(n);
        chunk_size_ = n;
    }
    return {chunk_.get(), n};
}

void body_spool::clear() noexcept {
    std::string().swap(memory_);
    if (file_ >= 0) ::close(file_);
    file_ = -1;
    file_size_ = 0;
    read_ = 0;
    chunk_.reset();
    chunk_size_ = 0;
}

// O_TMPFILE: a file with no name at all, so a crash cannot leave one behind.
// File systems without it get a named file, unlinked before anything is
// written to it.
std::error_code body_spool::open_file() {
    const std::string& directory = directory_;
    file_ = ::open(directory.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (file_ >= 0) return {};
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) return last_error();
    std::string path = directory + "/scgi-spool-XXXXXX";
    file_ = ::mkostemp(path.data(), O_CLOEXEC);
    if (file_ < 0) return last_error();
    ::unlink(path.c_str());
    return {};
}

std::error_code body_spool::write_file(std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(file_, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return last_error();
        bytes.remove_prefix(static_cast<std::size_t>(n));
        file_size_ += static_cast<std::uint64_t>(n);
    }
    return {};
}

}  // namespace scgi::detail
