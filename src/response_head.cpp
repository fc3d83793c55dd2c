#include <scgi/response_head.hpp>

#include <scgi/detail/ascii.hpp>
#include <scgi/error.hpp>
#include <scgi/status.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <stdexcept>
#include <string>

namespace scgi {
namespace {

constexpr std::string_view line_breakers("\r\n\0", 3);

// CR and LF would let a value forge header lines (response splitting); NUL
// is refused by front ends.
bool is_safe_field_value(std::string_view s) noexcept {
    return s.find_first_of(line_breakers) == std::string_view::npos;
}

// Status codes serialise as exactly three digits.
std::array<char, 3> three_digits(int status) noexcept {
    return {static_cast<char>('0' + status / 100), static_cast<char>('0' + status / 10 % 10),
            static_cast<char>('0' + status % 10)};
}

std::error_code check_status(int status, std::string_view reason) noexcept {
    if (status < 100 || status > 999) return error::invalid_status;
    if (!is_safe_field_value(reason)) return error::invalid_header_value;
    return {};
}

std::error_code check_header(std::string_view name, std::string_view value) noexcept {
    if (!detail::is_token(name) || detail::iequals(name, "status")) return error::invalid_header_name;
    if (!is_safe_field_value(value)) return error::invalid_header_value;
    return {};
}

// The two hexadecimal digits of a byte.
std::string hex(char c) {
    constexpr std::string_view digits = "0123456789abcdef";
    const auto byte = static_cast<unsigned char>(c);
    return {digits[byte >> 4], digits[byte & 0xf]};
}

// `s` in double quotes, bytes outside printable ASCII as \xNN, cut after 64
// bytes: an exception message must not itself carry the bytes it reports.
std::string quoted(std::string_view s) {
    constexpr std::size_t shown = 64;
    std::string out = "\"";
    for (const char c : s.substr(0, shown)) {
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            out += c;
        } else {
            out += "\\x" + hex(c);
        }
    }
    out += '"';
    if (s.size() > shown) out += "...";
    return out;
}

// "byte 0x0a at offset 3"
std::string bad_byte(std::string_view s, std::size_t at) {
    return "byte 0x" + hex(s[at]) + " at offset " + std::to_string(at);
}

[[noreturn]] void throw_bad_status(int status, std::string_view reason, std::error_code ec) {
    std::string what = "scgi::response_head::set_status: ";
    if (ec == error::invalid_status) {
        what += "status " + std::to_string(status) + " is not within 100..999";
    } else {
        what += "reason phrase " + quoted(reason) + " has " + bad_byte(reason, reason.find_first_of(line_breakers)) +
                " (CR, LF and NUL would forge header lines)";
    }
    throw std::invalid_argument(what);
}

[[noreturn]] void throw_bad_header(std::string_view name, std::string_view value, std::error_code ec) {
    std::string what = "scgi::response_head::add: ";
    if (ec == error::invalid_header_value) {
        what += "the value of header " + quoted(name) + " has " +
                bad_byte(value, value.find_first_of(line_breakers)) + " (CR, LF and NUL would forge header lines)";
    } else if (name.empty()) {
        what += "empty header name";
    } else if (detail::is_token(name)) {
        what += "header name " + quoted(name) + " is refused: the status is set with set_status";
    } else {
        const auto at = static_cast<std::size_t>(
            std::find_if_not(name.begin(), name.end(), detail::is_token_char) - name.begin());
        what += "header name " + quoted(name) + " has " + bad_byte(name, at) + ", which is not a token character";
    }
    throw std::invalid_argument(what);
}

}  // namespace

void response_head::set_status(int status, std::string_view reason, std::error_code& ec) {
    ec = check_status(status, reason);
    if (ec) return;
    status_ = status;
    reason_offset_ = static_cast<std::uint32_t>(storage_.size());
    reason_size_ = static_cast<std::uint32_t>(reason.size());
    storage_.append(reason);
}

void response_head::set_status(int status, std::string_view reason) {
    std::error_code ec;
    set_status(status, reason, ec);
    if (ec) throw_bad_status(status, reason, ec);
}

std::string_view response_head::reason() const noexcept {
    if (reason_size_ == 0) return reason_phrase(status_);
    return {storage_.data() + reason_offset_, reason_size_};
}

void response_head::add(std::string_view name, std::string_view value, std::error_code& ec) {
    ec = check_header(name, value);
    if (ec) return;
    entry e{};
    e.name_offset = static_cast<std::uint32_t>(storage_.size());
    e.name_size = static_cast<std::uint32_t>(name.size());
    e.value_offset = static_cast<std::uint32_t>(storage_.size() + name.size());
    e.value_size = static_cast<std::uint32_t>(value.size());
    entries_.reserve(entries_.size() + 1);  // so a failure below leaves no half entry
    storage_.append(name);
    storage_.append(value);
    entries_.push_back(e);
}

void response_head::add(std::string_view name, std::string_view value) {
    std::error_code ec;
    add(name, value, ec);
    if (ec) throw_bad_header(name, value, ec);
}

void response_head::add_content_length(std::uint64_t length) {
    std::array<char, 20> digits{};
    const auto end = std::to_chars(digits.data(), digits.data() + digits.size(), length).ptr;
    add("Content-Length", std::string_view(digits.data(), static_cast<std::size_t>(end - digits.data())));
}

std::optional<std::string_view> response_head::find(std::string_view name) const noexcept {
    for (const entry& e : entries_) {
        if (detail::iequals(e.name(storage_.data()), name)) return e.value(storage_.data());
    }
    return std::nullopt;
}

void response_head::clear() noexcept {
    storage_.clear();
    entries_.clear();
    status_ = 200;
    reason_offset_ = 0;
    reason_size_ = 0;
}

std::size_t response_head::serialized_size() const noexcept {
    constexpr std::size_t status_line = std::string_view("Status: 200 \r\n").size();
    std::size_t size = status_line + reason().size() + 2;
    for (const entry& e : entries_) size += e.name_size + 2 + e.value_size + 2;
    return size;
}

void response_head::serialize(std::string& out) const {
    serialize_fields(out, 0);
    out.append("\r\n");
}

void response_head::serialize(std::string& out, std::uint64_t content_length) const {
    std::array<char, 20> digits{};
    const auto end = std::to_chars(digits.data(), digits.data() + digits.size(), content_length).ptr;
    const std::string_view length(digits.data(), static_cast<std::size_t>(end - digits.data()));
    constexpr std::string_view name = "Content-Length: ";
    serialize_fields(out, name.size() + length.size() + 2);
    out.append(name);
    out.append(length);
    out.append("\r\n\r\n");
}

void response_head::serialize_fields(std::string& out, std::size_t extra) const {
    out.reserve(out.size() + serialized_size() + extra);
    const auto digits = three_digits(status_);
    out.append("Status: ");
    out.append(digits.data(), digits.size());
    out.push_back(' ');
    out.append(reason());
    out.append("\r\n");
    for (const entry& e : entries_) {
        out.append(e.name(storage_.data()));
        out.append(": ");
        out.append(e.value(storage_.data()));
        out.append("\r\n");
    }
}

}  // namespace scgi
