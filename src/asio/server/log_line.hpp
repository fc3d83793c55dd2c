// The server's lines to the user's log hook. Private to the server.
#pragma once

#include <scgi/asio/log.hpp>
#include <scgi/asio/server_options.hpp>

#include <exception>
#include <string>
#include <string_view>

namespace scgi::detail {

// Hands one line to the user's log hook; a failing hook must not take a
// connection down.
inline void log_line(const server_options& options, log_level level, std::string_view message) noexcept {
    if (!options.log) return;
    try {
        options.log(level, message);
    } catch (...) {
    }
}

// What an exception says, for a log line.
inline std::string describe(std::exception_ptr failure) {
    try {
        std::rethrow_exception(std::move(failure));
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "an exception not derived from std::exception";
    }
}

// Logs `what` followed by what `failure` says, without throwing another
// exception (building the line may).
inline void log_failure(const server_options& options, log_level level, std::string_view what,
                        std::exception_ptr failure) noexcept {
    try {
        log_line(options, level, std::string(what) + describe(std::move(failure)));
    } catch (...) {
        log_line(options, level, what);
    }
}

}  // namespace scgi::detail
