/// @file
/// The per-connection input buffer the Asio-layer read operations share.
#pragma once

#include <asio/buffer.hpp>

#include <cstddef>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string_view>

namespace scgi {

/// A fixed-capacity byte buffer for one connection's input: a socket reads
/// into its free tail, parsers take bytes from its front. Its storage is
/// allocated by the first `prepare()` and kept: a connection that never
/// reads through it (one waiting for its head) costs no buffer memory, and
/// reading requests or responses through it allocates nothing more.
///
/// Bytes handed out as views (body pieces) stay valid until the next call
/// that reads into the buffer (`prepare`), which may move unconsumed bytes to
/// the front.
class read_buffer {
public:
    /// Default capacity: 16 KiB, enough for a typical request head in one
    /// read, and the largest body piece a read operation hands out.
    static constexpr std::size_t default_capacity = 16 * 1024;

    /// Throws std::invalid_argument if `capacity` is 0. Allocates nothing.
    explicit read_buffer(std::size_t capacity = default_capacity)
        : capacity_(capacity != 0 ? capacity : throw std::invalid_argument("scgi::read_buffer: capacity 0")) {}

    /// The bytes received and not consumed yet.
    std::string_view data() const noexcept { return {storage_.get() + begin_, end_ - begin_}; }

    /// True if no unconsumed byte is held.
    bool empty() const noexcept { return begin_ == end_; }

    /// Drops the first `n` bytes of `data()`. Precondition: n <= data().size().
    void consume(std::size_t n) noexcept {
        begin_ += n;
        if (begin_ == end_) begin_ = end_ = 0;
    }

    /// The free space to read into, after moving unconsumed bytes to the front
    /// if that makes room. Empty only if the buffer is full of unconsumed
    /// bytes (the caller must consume first). The first call allocates the
    /// storage (std::bad_alloc if that fails).
    asio::mutable_buffer prepare() {
        if (!storage_) storage_ = std::make_unique_for_overwrite<char[]>(capacity_);
        if (end_ == capacity_ && begin_ != 0) {
            std::memmove(storage_.get(), storage_.get() + begin_, end_ - begin_);
            end_ -= begin_;
            begin_ = 0;
        }
        return {storage_.get() + end_, capacity_ - end_};
    }

    /// Makes `n` bytes written into `prepare()`'s space part of `data()`.
    void commit(std::size_t n) noexcept { end_ += n; }

    /// Forgets every byte held.
    void clear() noexcept { begin_ = end_ = 0; }

    /// The size given to the constructor: the most bytes the buffer holds.
    std::size_t capacity() const noexcept { return capacity_; }

    /// True once `prepare()` has allocated the storage.
    bool is_allocated() const noexcept { return storage_ != nullptr; }

private:
    std::unique_ptr<char[]> storage_;
    std::size_t capacity_;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
};

}  // namespace scgi
