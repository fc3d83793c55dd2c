#include <scgi/encode_request.hpp>

#include <scgi/detail/name_table.hpp>
#include <scgi/error.hpp>

#include <array>
#include <charconv>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

namespace scgi {
namespace {

constexpr std::string_view content_length_name = "CONTENT_LENGTH";
constexpr std::string_view scgi_name = "SCGI";

// Decimal digits of a 64-bit value: at most 20.
struct decimal {
    explicit decimal(std::uint64_t value) noexcept {
        size = static_cast<std::size_t>(std::to_chars(digits.data(), digits.data() + digits.size(), value).ptr -
                                        digits.data());
    }
    std::string_view view() const noexcept { return {digits.data(), size}; }

    std::array<char, 20> digits{};
    std::size_t size = 0;
};

// Checks the caller's headers; on success sets `block_size` to the header
// block's length (the `<len>` of the netstring).
std::optional<error> validate(std::span<const header> headers, std::string_view length,
                              std::size_t& block_size) {
    // Duplicate detection: a stack table serves the usual header counts, so
    // encoding allocates nothing; very large sets get a heap table.
    constexpr std::size_t stack_names = 128;
    std::array<std::uint32_t, detail::name_table_size(stack_names)> stack_slots{};
    std::vector<std::uint32_t> heap_slots;
    std::span<std::uint32_t> slots(stack_slots);
    if (headers.size() > stack_names) {
        heap_slots.assign(detail::name_table_size(headers.size()), 0);
        slots = heap_slots;
    } else {
        slots = slots.first(detail::name_table_size(headers.size()));
    }
    detail::name_table names(slots, headers.size());

    block_size = content_length_name.size() + 1 + length.size() + 1 + scgi_name.size() + 1 + 2;
    for (std::size_t i = 0; i < headers.size(); ++i) {
        const header& h = headers[i];
        if (h.name.empty()) return error::empty_name;
        if (h.name.find('\0') != std::string_view::npos) return error::nul_in_name;
        if (h.value.find('\0') != std::string_view::npos) return error::nul_in_value;
        const auto name_at = [&](std::uint32_t j) { return headers[j].name; };
        if (names.insert(h.name, static_cast<std::uint32_t>(i), name_at) >= 0) {
            return h.name == content_length_name ? error::content_length_duplicate
                                                 : error::duplicate_header;
        }
        if (h.name == content_length_name) {
            if (h.value != length) return error::content_length_mismatch;
        } else if (h.name == scgi_name) {
            if (h.value != "1") return error::scgi_header_invalid;
        } else {
            block_size += h.name.size() + 1 + h.value.size() + 1;
        }
    }
    return std::nullopt;
}

char* append(char* out, std::string_view s) noexcept {
    if (!s.empty()) std::memcpy(out, s.data(), s.size());
    return out + s.size();
}

char* append_string(char* out, std::string_view s) noexcept {
    out = append(out, s);
    *out = '\0';
    return out + 1;
}

}  // namespace

std::size_t encoded_size(std::span<const header> headers, std::uint64_t body_length,
                         std::error_code& ec) {
    ec.clear();
    const decimal length(body_length);
    std::size_t block_size = 0;
    if (const auto e = validate(headers, length.view(), block_size)) {
        ec = *e;
        return 0;
    }
    return decimal(block_size).size + 1 + block_size + 1;
}

std::error_code encode_request(std::span<const header> headers, std::uint64_t body_length,
                               std::string& out) {
    const decimal length(body_length);
    std::size_t block_size = 0;
    if (const auto e = validate(headers, length.view(), block_size)) return *e;
    const decimal prefix(block_size);

    const std::size_t old_size = out.size();
    out.resize(old_size + prefix.size + 1 + block_size + 1);
    char* p = out.data() + old_size;
    p = append(p, prefix.view());
    *p++ = ':';
    p = append_string(p, content_length_name);
    p = append_string(p, length.view());
    p = append_string(p, scgi_name);
    p = append_string(p, "1");
    for (const header& h : headers) {
        if (h.name == content_length_name || h.name == scgi_name) continue;
        p = append_string(p, h.name);
        p = append_string(p, h.value);
    }
    *p = ',';
    return {};
}

}  // namespace scgi
