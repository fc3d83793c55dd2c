/// @file
/// Size limits applied while parsing a request.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

namespace scgi {

/// Bounds on what a peer may make the request parser hold or accept.
///
/// Every limit is inclusive: a value equal to the limit passes, one more fails
/// with its own error. Limits are checked before anything is allocated, so a
/// hostile length prefix costs nothing.
struct limits {
    /// Largest declared header block (`<len>` of the netstring), in bytes.
    /// Exceeding it: `error::header_block_too_large`, reported as soon as the
    /// digits of `<len>` pass the limit. Must not exceed `max_header_block_bytes`.
    std::size_t header_block_bytes = 64 * 1024;

    /// Most header (name, value) pairs in one request. A front end sends about
    /// 15 CGI variables plus one per HTTP header. Exceeding it:
    /// `error::too_many_headers`.
    std::size_t header_count = 512;

    /// Largest CONTENT_LENGTH accepted. Unlimited by default, because the body
    /// is streamed, never buffered, by the parser; code that collects a body
    /// whole applies its own limit. Exceeding it: `error::body_too_large`,
    /// reported when the head completes, before any body byte is read.
    std::uint64_t body_bytes = std::numeric_limits<std::uint64_t>::max();

    /// The largest value `header_block_bytes` may take: header positions are
    /// stored as 32-bit offsets.
    static constexpr std::size_t max_header_block_bytes = 0xFFFF'FFF0u;
};

}  // namespace scgi
