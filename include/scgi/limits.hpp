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

    /// Most header (name, value) pairs in one request. Exceeding it:
    /// `error::too_many_headers`. Off by default (`no_count_limit`): the
    /// byte limit binds first, since a block of B bytes holds at most B / 3
    /// headers (a name byte and two NULs each), and front ends forward as
    /// many HTTP headers as fit their own buffers (nginx: a head of 2,000
    /// small headers is 27 KB). Parsing stays linear in the block whatever
    /// the count, duplicate detection included.
    std::size_t header_count = no_count_limit;

    /// Largest CONTENT_LENGTH accepted. Unlimited by default, because the body
    /// is streamed, never buffered, by the parser; code that collects a body
    /// whole applies its own limit. Exceeding it: `error::body_too_large`,
    /// reported when the head completes, before any body byte is read.
    std::uint64_t body_bytes = std::numeric_limits<std::uint64_t>::max();

    /// The largest value `header_block_bytes` may take: header positions are
    /// stored as 32-bit offsets.
    static constexpr std::size_t max_header_block_bytes = 0xFFFF'FFF0u;

    /// `header_count`'s default: no limit on the number of headers.
    static constexpr std::size_t no_count_limit = std::numeric_limits<std::size_t>::max();
};

}  // namespace scgi
