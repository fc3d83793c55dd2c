#include <scgi/response_parser.hpp>

#include <scgi/detail/ascii.hpp>

#include <cstring>
#include <optional>
#include <utility>

namespace scgi {
namespace {

using detail::is_blank;
using detail::trim_blanks;

// Parses "NNN" or "NNN reason" (the rest of a status line or a Status value).
// Returns false if it is neither.
bool parse_status(std::string_view s, int& status, std::string_view& reason) noexcept {
    if (s.size() < 3 || !detail::is_digit(s[0]) || !detail::is_digit(s[1]) ||
        !detail::is_digit(s[2]) || s[0] == '0') {
        return false;
    }
    if (s.size() > 3 && !is_blank(s[3])) return false;
    status = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    reason = trim_blanks(s.substr(3));
    return true;
}

}  // namespace

response_head response_parser::release_head() noexcept { return std::exchange(head_, response_head{}); }

void response_parser::reset() noexcept {
    head_.clear();
    state_ = state::line_start;
    error_ = error::need_more;
}

std::size_t response_parser::fail(error e, std::size_t consumed, std::error_code& ec) noexcept {
    state_ = state::failed;
    error_ = e;
    ec = e;
    return consumed;
}

std::size_t response_parser::put(std::string_view input, std::error_code& ec) {
    ec.clear();
    if (state_ == state::done) return 0;
    if (state_ == state::failed) {
        ec = error_;
        return 0;
    }

    // Find the end of the head: an empty line, i.e. LF or CR LF right at the
    // start of a line. Mid-line, jump to the next LF with memchr.
    const char* const first = input.data();
    const char* const last = first + input.size();
    const char* p = first;
    bool complete = false;
    while (p != last && !complete) {
        switch (state_) {
        case state::mid_line: {
            const void* lf = std::memchr(p, '\n', static_cast<std::size_t>(last - p));
            if (lf == nullptr) {
                p = last;
            } else {
                p = static_cast<const char*>(lf) + 1;
                state_ = state::line_start;
            }
            break;
        }
        case state::line_start:
            if (*p == '\n') {
                complete = true;
            } else if (*p == '\r') {
                state_ = state::line_start_cr;
            } else {
                state_ = state::mid_line;
            }
            ++p;
            break;
        case state::line_start_cr:
            if (*p == '\n') {
                complete = true;
                ++p;
            } else {
                state_ = state::mid_line;  // a bare CR; parse_head refuses it
            }
            break;
        default:
            break;
        }
    }

    const auto consumed = static_cast<std::size_t>(p - first);
    std::string& text = head_.storage_;
    if (text.size() + consumed > head_limit_) {
        // Consumed up to the limit: the first byte past it is the offending one.
        return fail(error::response_head_too_large, head_limit_ - text.size(), ec);
    }
    text.append(first, consumed);
    if (!complete) {
        ec = error::need_more;
        return consumed;
    }
    if (const auto e = parse_head()) return fail(*e, consumed, ec);
    state_ = state::done;
    return consumed;
}

void response_parser::put_eof(std::error_code& ec) {
    ec.clear();
    if (state_ == state::done) return;
    if (state_ == state::failed) {
        ec = error_;
        return;
    }
    fail(error::partial_response, 0, ec);
}

// Parses the complete head held in the storage into status, reason and
// header entries (offsets into the same storage).
std::optional<error> response_parser::parse_head() {
    response_head& h = head_;
    const std::string_view text = h.storage_;
    bool have_status = false;
    bool first_line = true;
    std::size_t line_start = 0;
    for (;;) {
        const std::size_t lf = text.find('\n', line_start);
        std::string_view line = text.substr(line_start, lf - line_start);
        const std::size_t next = lf + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) break;  // the empty line that ends the head

        const auto offset_of = [&](std::string_view part) {
            return static_cast<std::uint32_t>(part.data() - text.data());
        };
        if (first_line && line.starts_with("HTTP/")) {
            // HTTP/1.x NNN [reason]
            if (line.find_first_of(std::string_view("\r\0", 2)) != std::string_view::npos ||
                line.size() < 9 || line.substr(0, 7) != "HTTP/1." || !detail::is_digit(line[7]) ||
                line[8] != ' ' || !parse_status(line.substr(9), h.status_, line)) {
                return error::bad_status_line;
            }
            h.reason_offset_ = offset_of(line);
            h.reason_size_ = static_cast<std::uint32_t>(line.size());
            have_status = true;
        } else {
            if (is_blank(line.front())) return error::obsolete_line_folding;
            const std::size_t colon = line.find(':');
            if (colon == std::string_view::npos) return error::bad_header_line;
            const std::string_view name = line.substr(0, colon);
            if (!detail::is_token(name)) return error::bad_header_name;
            const std::string_view value = trim_blanks(line.substr(colon + 1));
            if (value.find_first_of(std::string_view("\r\0", 2)) != std::string_view::npos) {
                return error::bad_header_value;
            }
            if (detail::iequals(name, "status")) {
                std::string_view reason;
                if (!parse_status(value, h.status_, reason)) return error::bad_status_line;
                h.reason_offset_ = offset_of(reason);
                h.reason_size_ = static_cast<std::uint32_t>(reason.size());
                have_status = true;
            } else {
                h.entries_.push_back({offset_of(name), static_cast<std::uint32_t>(name.size()),
                                      offset_of(value), static_cast<std::uint32_t>(value.size())});
            }
        }
        first_line = false;
        line_start = next;
    }
    if (!have_status && h.find("location")) h.status_ = 302;
    return std::nullopt;
}

}  // namespace scgi
