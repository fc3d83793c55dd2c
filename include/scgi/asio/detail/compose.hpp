// Shared shape of the Asio layer's composed read operations.
// Not part of the public API.
#pragma once

#include <asio/error.hpp>

#include <cstdint>

namespace scgi::detail {

/// Where a composed read operation is. An operation that can finish without
/// reading posts itself once (`completing`) so that it never completes inside
/// the initiating call, as Asio's rules require.
enum class op_state : std::uint8_t { starting, reading, completing };

}  // namespace scgi::detail
