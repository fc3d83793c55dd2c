// The rest of a request body, received before the response started and kept
// until the handler reads it. Private to the server.
#pragma once

#include <scgi/asio/spool_options.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

namespace scgi::detail {

/// A byte queue that is written once, front to back, and then read once,
/// front to back: memory up to `spool_options::memory_bytes`, the rest in an
/// unlinked temporary file. One per connection slot; `clear()` between
/// requests frees the memory and closes the file.
///
/// Errors are the file system's (`no_space_on_device`, a missing directory,
/// ...) as `std::system_category` codes; after one the spool is unusable until
/// `clear()`.
class body_spool {
public:
    /// `options` must outlive the spool. An empty `options.directory` is
    /// resolved here, once: `$TMPDIR`, else `/tmp`.
    explicit body_spool(const spool_options& options);
    ~body_spool() { clear(); }
    body_spool(const body_spool&) = delete;
    body_spool& operator=(const body_spool&) = delete;

    /// Prepares for about `expected` bytes: reserves memory for
    /// min(expected, memory_bytes) of them, so filling it does not reallocate.
    void reserve(std::uint64_t expected);

    /// Appends `bytes` after those appended before. Precondition: nothing has
    /// been read yet (`next` not called since the last `clear`).
    std::error_code append(std::string_view bytes);

    /// The next unread bytes, at most `max` of them (`max` > 0), in the order
    /// appended; empty once all were read. The view is valid until the next
    /// call on the spool.
    std::string_view next(std::size_t max, std::error_code& ec);

    /// A scratch area of `n` bytes to receive body bytes into before they are
    /// appended (allocated on first use, then kept until `clear`). Shared with
    /// `next`: its views are invalidated by a later `staging` and vice versa.
    std::span<char> staging(std::size_t n);

    /// Bytes appended since the last `clear`.
    std::uint64_t size() const noexcept { return memory_.size() + file_size_; }

    /// Bytes appended and not yet read.
    std::uint64_t unread() const noexcept { return size() - read_; }

    /// True while a temporary file is open.
    bool has_file() const noexcept { return file_ >= 0; }

    /// Forgets every byte: frees the memory, closes (and so deletes) the file.
    void clear() noexcept;

private:
    std::error_code open_file();
    std::error_code write_file(std::string_view bytes);

    const spool_options* options_;
    std::string directory_;        // where the file goes
    std::string memory_;           // the first bytes, up to memory_bytes
    int file_ = -1;                // the rest, if any
    std::uint64_t file_size_ = 0;
    std::uint64_t read_ = 0;       // bytes handed out by next()
    std::unique_ptr<char[]> chunk_;  // staging(), and file reads in next()
    std::size_t chunk_size_ = 0;
};

}  // namespace scgi::detail
