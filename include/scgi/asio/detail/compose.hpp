// Shared shape of the Asio layer's composed read operations.
// Not part of the public API.
#pragma once

#include <asio/error.hpp>
#include <asio/post.hpp>

#include <cstdint>
#include <utility>

namespace scgi::detail {

/// Where a composed read operation is. An operation that can finish without
/// reading posts itself once (`completing`) so that it never completes inside
/// the initiating call, as Asio's rules require.
///
/// It posts to the *stream's* executor, as Asio's own operations complete
/// immediately: from there Asio dispatches the operation to its associated
/// (the handler's) executor, where it completes. Posting straight to the
/// handler's executor would, for `use_future`, run and destroy the operation
/// on a system thread after the future is ready, while its work guard still
/// refers to the stream's io_context, which the caller may have destroyed.
enum class op_state : std::uint8_t { starting, reading, completing };

/// Resumes `self` (a composed operation about to complete without I/O) from
/// the stream's executor, as described above.
template <class Stream, class Self>
void resume_from_stream_executor(Stream& stream, Self&& self) {
    asio::post(stream.get_executor(), std::forward<Self>(self));
}

}  // namespace scgi::detail
