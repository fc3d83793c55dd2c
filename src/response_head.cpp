#include <scgi/response_head.hpp>

#include <scgi/detail/ascii.hpp>
#include <scgi/error.hpp>
#include <scgi/status.hpp>

#include <array>
#include <charconv>

namespace scgi {
namespace {

// CR and LF would let a value forge header lines (response splitting); NUL
// is refused by front ends.
bool is_safe_field_value(std::string_view s) noexcept {
    return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// Status codes serialise as exactly three digits.
std::array<char, 3> three_digits(int status) noexcept {
    return {static_cast<char>('0' + status / 100), static_cast<char>('0' + status / 10 % 10),
            static_cast<char>('0' + status % 10)};
}

}  // namespace

std::error_code response_head::set_status(int status, std::string_view reason) {
    if (status < 100 || status > 999) return error::invalid_status;
    if (!is_safe_field_value(reason)) return error::invalid_header_value;
    status_ = status;
    reason_offset_ = static_cast<std::uint32_t>(storage_.size());
    reason_size_ = static_cast<std::uint32_t>(reason.size());
    storage_.append(reason);
    return {};
}

std::string_view response_head::reason() const noexcept {
    if (reason_size_ == 0) return reason_phrase(status_);
    return {storage_.data() + reason_offset_, reason_size_};
}

std::error_code response_head::add(std::string_view name, std::string_view value) {
    if (!detail::is_token(name) || detail::iequals(name, "status")) {
        return error::invalid_header_name;
    }
    if (!is_safe_field_value(value)) return error::invalid_header_value;
    entry e{};
    e.name_offset = static_cast<std::uint32_t>(storage_.size());
    e.name_size = static_cast<std::uint32_t>(name.size());
    e.value_offset = static_cast<std::uint32_t>(storage_.size() + name.size());
    e.value_size = static_cast<std::uint32_t>(value.size());
    entries_.reserve(entries_.size() + 1);  // so a failure below leaves no half entry
    storage_.append(name);
    storage_.append(value);
    entries_.push_back(e);
    return {};
}

void response_head::add_content_length(std::uint64_t length) {
    std::array<char, 20> digits{};
    const auto end = std::to_chars(digits.data(), digits.data() + digits.size(), length).ptr;
    // Cannot fail: the name is a token and digits are a safe value.
    (void)add("Content-Length", std::string_view(digits.data(), static_cast<std::size_t>(end - digits.data())));
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
