/// @file
/// The result of a response write or a body discard: an error code that a
/// compiler can flag when it is dropped.
#pragma once

#include <system_error>

namespace scgi {

/// What `response_writer::write`, `finish`, `send` and
/// `request::discard_body` complete with: a `std::error_code`, empty on
/// success, and usable as one (compare it with `scgi::error` values or
/// conditions, test it with `if`, assign it to a `std::error_code`).
///
/// It is its own type only to carry `[[nodiscard]]`, so that a dropped
/// result is a warning: a front end that went away must not go unnoticed.
/// What each compiler reports, as tried with g++ 12 and clang 14:
///
/// - `co_await writer.write(piece);` with the result dropped: clang warns
///   (-Wunused-result), because the `co_await` expression has this
///   `[[nodiscard]]` class type (`tests/asio/discarded_result` checks it). g++
///   12 does not diagnose a discarded `co_await` result at all, neither for a
///   `[[nodiscard]]` type nor for a `[[nodiscard]]` `await_resume`; and an
///   `asio::awaitable` accepts no awaiter of one's own anyway.
/// - `writer.write(piece);` without `co_await`, which writes nothing (an
///   `asio::awaitable` does nothing until awaited): both compilers warn,
///   through `[[nodiscard]]` on the functions themselves.
///
/// To drop a result on purpose, say so: `(void)co_await writer.finish();`.
class [[nodiscard]] io_result : public std::error_code {
public:
    /// Success.
    io_result() noexcept = default;

    /// The outcome `ec`.
    io_result(std::error_code ec) noexcept : std::error_code(ec) {}  // NOLINT(google-explicit-constructor)
};

}  // namespace scgi
