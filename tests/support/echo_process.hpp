// Test support: the `echo` example (SCGI_ECHO_BINARY) as a child process,
// started on an endpoint and waited for until it says where it listens.
#pragma once

#include <functional>

#include "child_process.hpp"

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include <sys/resource.h>

namespace scgi::test {

class echo_process : public child_process {
public:
    /// `echo ENDPOINT`, its stdout on a pipe (for "Listening on"), its stderr
    /// in `stderr_path`, or with `stderr_path` empty on a pipe nobody reads
    /// (so every log line gets EPIPE). `max_files` caps its descriptors.
    /// `also_in_child` runs in the child just before exec (after the limit).
    echo_process(const std::string& endpoint, const std::string& stderr_path,
                 std::optional<rlim_t> max_files = std::nullopt, std::function<void()> also_in_child = {})
        : child_process(options(endpoint, stderr_path, max_files, std::move(also_in_child))) {}

    /// Waits (at most 10 s) for the "Listening on ENDPOINT" line.
    bool wait_listening() {
        constexpr std::string_view marker = "Listening on ";
        const std::string seen = read_stdout([&](std::string_view text) {
            const auto at = text.find(marker);
            return at != std::string_view::npos && text.find('\n', at) != std::string_view::npos;
        });
        const auto at = seen.find(marker);
        const auto end = seen.find('\n', at);
        if (at == std::string::npos || end == std::string::npos) return false;
        listening_on_ = seen.substr(at + marker.size(), end - at - marker.size());
        return true;
    }

    /// Where it listens, as it printed it ("unix:/path" or "127.0.0.1:PORT").
    const std::string& listening_on() const { return listening_on_; }

private:
    static child_options options(const std::string& endpoint, const std::string& stderr_path,
                                 std::optional<rlim_t> max_files, std::function<void()> also_in_child) {
        child_options o;
        o.argv = {SCGI_ECHO_BINARY, endpoint};
        o.stderr_path = stderr_path;
        o.dead_stderr = stderr_path.empty();
        o.in_child = [max_files, also = std::move(also_in_child)] {
            if (max_files) {
                const rlimit limit{*max_files, *max_files};
                ::setrlimit(RLIMIT_NOFILE, &limit);
            }
#if defined(__SANITIZE_ADDRESS__)
            // ASan keeps freed memory in quarantine (256 MiB by default), which
            // would count as resident memory in the bounded-memory tests.
            std::string asan = std::getenv("ASAN_OPTIONS") ? std::getenv("ASAN_OPTIONS") : "";
            asan += ":quarantine_size_mb=4";
            ::setenv("ASAN_OPTIONS", asan.c_str(), 1);
#endif
            if (also) also();
        };
        return o;
    }

    std::string listening_on_;
};

}  // namespace scgi::test
