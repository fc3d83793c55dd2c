// How far past its data the request parser's NUL scan may read: the header
// block's storage keeps this many readable bytes beyond the block. A tuning
// detail shared by find_nul.hpp and request_parser.hpp; not public API.
#pragma once

#include <cstddef>

namespace scgi::detail {

/// How many readable bytes past the end a `nul_cursor` may load (one 64-byte
/// chunk).
inline constexpr std::size_t nul_scan_padding = 64;

}  // namespace scgi::detail
