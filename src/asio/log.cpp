#include <scgi/asio/log.hpp>

#include <string>
#include <unistd.h>

namespace scgi {

std::string_view to_string(log_level level) noexcept {
    switch (level) {
    case log_level::error: return "error";
    case log_level::warning: return "warning";
    case log_level::info: return "info";
    }
    return "unknown";
}

void log_to_stderr(log_level level, std::string_view message) noexcept {
    try {
        std::string line = "scgi: ";
        line += to_string(level);
        line += ": ";
        line += message;
        line += '\n';
        // One write per line: lines from several threads stay whole.
        const char* p = line.data();
        std::size_t left = line.size();
        while (left > 0) {
            const ssize_t n = ::write(STDERR_FILENO, p, left);
            if (n <= 0) return;
            p += n;
            left -= static_cast<std::size_t>(n);
        }
    } catch (...) {
        // Out of memory while logging: drop the line rather than the server.
    }
}

}  // namespace scgi
