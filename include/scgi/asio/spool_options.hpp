/// @file
/// Where a server keeps a request body it had to receive before answering.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace scgi {

/// Bounds of the body spool: the store a `scgi::server` fills when a handler
/// starts its response while body bytes are still unread (see
/// `server_options::receive_body_before_response`). The handler's later reads
/// get the spooled bytes back, in order, byte for byte.
///
/// The spool is per request: memory first, then an unlinked temporary file
/// (no name in any directory, so nothing is left behind whatever happens to
/// the process). A request whose body has been received by the time the
/// response starts (it came with the head, or the handler read it first)
/// never touches it.
struct spool_options {
    /// Body bytes kept in memory per request before the rest goes to a
    /// temporary file. The memory is allocated when spooling starts (at most
    /// this much, or the body's size if smaller) and freed with the request;
    /// so is a staging buffer of `server_options::read_buffer_size` that
    /// bytes are received into (also when the server only drops a body).
    std::size_t memory_bytes = 64 * 1024;

    /// The most body bytes one request may spool (memory and file together),
    /// inclusive. A response started while more than this remains unread is
    /// refused before anything is received: the handler's write returns
    /// `error::spool_limit_exceeded`, and the server answers
    /// `413 Content Too Large` with a log line. It bounds the disk one
    /// request can use, not the total: `max_connections` requests may each
    /// spool this much.
    std::uint64_t max_bytes = std::uint64_t{1} << 30;

    /// Directory for the temporary files. Empty: `$TMPDIR` as it is when the
    /// server is made, or `/tmp` if unset. Files are opened with O_TMPFILE
    /// (never visible in the directory); where the file system lacks it,
    /// created with mkstemp(3) and unlinked at once. Mode 0600. On a tmpfs
    /// (a `/tmp` of Debian 13, systemd's `PrivateTmp=`) the "disk" is memory:
    /// it does not count in the process's RSS, but it is RAM.
    std::string directory;
};

}  // namespace scgi
