// Where a tool's request body comes from: bytes on the command line, a file,
// or stdin; read in pieces, never loaded whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

namespace scgi::tools {

/// The body of a request, of a length known before the request head is
/// written (SCGI sends CONTENT_LENGTH first).
///
/// - `DATA`: the argument's bytes;
/// - `@FILE`: a regular file is read where it lies, its length from fstat(2)
///   when opened;
/// - `@-`, or a FILE that is not a regular file (a pipe, `<(command)`, a
///   terminal): read to its end first, into an unnamed temporary file
///   (O_TMPFILE in `$TMPDIR`, else `/tmp`; nothing is left behind), whose
///   length is then known. So the body is never held in memory, and the
///   request goes out only once the input has ended (as curl does for `@-`,
///   which it reads into memory). Stdin that is a regular file
///   (`< file`) is read where it lies, from its current offset.
///
/// Reads are positional (`read_at`), so one source serves any number of
/// requests (scgi-bench) and may be read from any thread. Move-only; closes
/// its file.
class body_source {
public:
    /// No body.
    body_source() = default;
    ~body_source();
    body_source(body_source&& other) noexcept;
    body_source& operator=(body_source&& other) noexcept;
    body_source(const body_source&) = delete;
    body_source& operator=(const body_source&) = delete;

    /// The body a `-d` / `--data-binary` argument names (see the class
    /// comment). Throws std::system_error whose what() names the file and
    /// the cause: it cannot be opened or read, or the temporary file cannot
    /// be written.
    static body_source open(std::string_view argument);

    /// The body read from descriptor `fd` (not taken over: the caller closes
    /// it), named `name` in messages, as `open` reads `@-` from stdin.
    static body_source from_descriptor(int fd, std::string name);

    /// The body `bytes` (copied).
    static body_source from_bytes(std::string_view bytes);

    /// Length in bytes.
    std::uint64_t size() const noexcept { return size_; }

    /// Where it comes from, for messages: `data` (bytes given), the file's
    /// path, `stdin`.
    const std::string& name() const noexcept { return name_; }

    /// The bytes, when they are in memory (a `DATA` argument); empty for a
    /// file. Lets a caller send a short body without copying it.
    std::string_view bytes() const noexcept { return bytes_; }

    /// Reads up to `buffer.size()` bytes at `offset` (< `size()`) into
    /// `buffer`; returns how many (fewer only at the end of the body).
    /// Errors: the file's (`std::system_category`), and `body_file_shrank`
    /// if the file ended before `size()`. Messages: `name() + ": " +
    /// ec.message()`.
    std::size_t read_at(std::uint64_t offset, std::span<char> buffer, std::error_code& ec) const;

    /// The error `read_at` reports for a file that ended before the length
    /// it had when it was opened (the request head announced that length).
    static std::error_code body_file_shrank() noexcept;

private:
    int fd_ = -1;
    std::uint64_t offset_ = 0;  // where the body starts in the file
    std::uint64_t size_ = 0;
    std::string bytes_;
    std::string name_;
};

}  // namespace scgi::tools
