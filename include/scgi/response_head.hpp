/// @file
/// The head of a CGI response: a status and header lines.
#pragma once

#include <scgi/detail/header_entry.hpp>
#include <scgi/detail/indexed_iterator.hpp>
#include <scgi/header.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace scgi {

class response_parser;

/// The head of a CGI response, as an SCGI server writes it and an SCGI client
/// reads it: a status code, a reason phrase and header lines, owning their
/// bytes.
///
/// A server builds one with `set_status` and `add` and appends its wire form
/// with `serialize`. As in Asio, each call that can fail comes in two forms:
/// one throws (a bad name or value written into the program is a bug), one
/// takes a `std::error_code&` (for names and values that come from a peer). The wire form is CGI's `Status:` form, which nginx, Apache
/// httpd and lighttpd all accept (Apache refuses an `HTTP/1.1 200 OK` line):
///
///     Status: 200 OK\r\n
///     Content-Type: text/plain\r\n
///     \r\n
///
/// A client gets one from `response_parser`. Every `std::string_view` it
/// returns points into its own storage and stays valid until the next
/// modifying call (`set_status`, `add`, `clear`, assignment) or destruction.
/// `clear()` keeps capacity, so a reused head builds without allocating.
class response_head {
public:
    /// Random-access iterator yielding `header` values that point into the head.
    using iterator = detail::indexed_iterator<response_head, header>;

    /// Status 200, no headers.
    response_head() = default;

    /// Sets the status code and reason phrase. An empty `reason` means the
    /// standard phrase (`reason_phrase(status)`).
    /// Throws `std::invalid_argument`, naming the status or the bad byte of
    /// `reason`, unless 100 <= status <= 999 and `reason` is free of CR, LF
    /// and NUL. On error the head is unchanged.
    void set_status(int status, std::string_view reason = {});

    /// As above, for a status or reason that comes from a peer (a gateway
    /// relaying an upstream's answer): errors are returned in `ec` instead,
    /// `error::invalid_status` or `error::invalid_header_value`; `ec` is
    /// cleared on success. On error the head is unchanged.
    void set_status(int status, std::string_view reason, std::error_code& ec);

    /// The status code (200 unless set or parsed otherwise).
    int status() const noexcept { return status_; }

    /// The reason phrase: as set or received, or the standard phrase if none.
    std::string_view reason() const noexcept;

    /// Appends a header line. Names are HTTP tokens; `Status` is refused
    /// because the status is set with `set_status`. Repeated names are kept as
    /// separate lines. Values may not hold CR, LF or NUL: they would let the
    /// value forge lines.
    /// Throws `std::invalid_argument` for a bad name or value; its message
    /// names the header and the offending byte and its offset. On error the
    /// head is unchanged.
    void add(std::string_view name, std::string_view value);

    /// As above, for names or values that come from a peer or a user:
    /// errors are returned in `ec` instead, `error::invalid_header_name` (an
    /// empty or non-token name, or `Status`) or `error::invalid_header_value`;
    /// `ec` is cleared on success. On error the head is unchanged.
    void add(std::string_view name, std::string_view value, std::error_code& ec);

    /// Appends `Content-Length: <length>`. Without one, the body ends where the
    /// connection ends, which SCGI front ends accept.
    void add_content_length(std::uint64_t length);

    /// Number of header lines (the status is not one of them).
    std::size_t size() const noexcept { return entries_.size(); }

    /// True if there are no header lines.
    bool empty() const noexcept { return entries_.empty(); }

    /// The header line at `index`. Precondition: `index < size()`.
    header operator[](std::size_t index) const noexcept {
        return entries_[index].view(storage_.data());
    }

    /// The first header line.
    iterator begin() const noexcept { return {this, 0}; }
    /// Past the last header line.
    iterator end() const noexcept { return {this, size()}; }

    /// The value of the first header whose name equals `name` ignoring ASCII
    /// case, if any.
    std::optional<std::string_view> find(std::string_view name) const noexcept;

    /// Back to status 200 with no headers, keeping allocated storage.
    void clear() noexcept;

    /// The exact number of bytes `serialize` appends.
    std::size_t serialized_size() const noexcept;

    /// Appends the CGI wire form (`Status:` line, header lines, blank line),
    /// all lines ending in CRLF.
    void serialize(std::string& out) const;

    /// As `serialize`, with `Content-Length: <length>` after the other header
    /// lines: for a writer that knows the body's size when the head does not
    /// state it. The head itself is unchanged.
    void serialize(std::string& out, std::uint64_t content_length) const;

private:
    friend class response_parser;

    using entry = detail::header_entry;

    // The status line and header lines, not the blank line that ends the
    // head; reserves room for `extra` more bytes.
    void serialize_fields(std::string& out, std::size_t extra) const;

    std::string storage_;          // reason phrase and header bytes
    std::vector<entry> entries_;
    int status_ = 200;
    std::uint32_t reason_offset_ = 0;
    std::uint32_t reason_size_ = 0;
};

}  // namespace scgi
