#include <scgi/request_parser.hpp>

#include <scgi/detail/ascii.hpp>
#include <scgi/detail/find_nul.hpp>
#include <scgi/detail/name_table.hpp>

#include <algorithm>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <utility>

namespace scgi {
namespace {

constexpr std::string_view content_length_name = "CONTENT_LENGTH";
constexpr std::string_view scgi_name = "SCGI";

}  // namespace

request_parser::request_parser(parser_options options) : options_(options) {
    if (options_.limits.header_block_bytes > limits::max_header_block_bytes) {
        throw std::invalid_argument(
            "scgi::request_parser: limits.header_block_bytes exceeds "
            "limits::max_header_block_bytes");
    }
}

void request_parser::reset() noexcept {
    head_.entries_.clear();
    head_.content_length_ = 0;
    body_piece_ = {};
    body_remaining_ = 0;
    declared_ = 0;
    filled_ = 0;
    digits_ = 0;
    state_ = state::length;
    error_ = error::need_more;
    started_ = false;
}

request_head request_parser::release_head() noexcept { return std::exchange(head_, request_head{}); }

std::size_t request_parser::fail(error e, std::size_t consumed, std::error_code& ec) noexcept {
    state_ = state::failed;
    error_ = e;
    ec = e;
    return consumed;
}

std::size_t request_parser::put(std::string_view input, std::error_code& ec) {
    ec.clear();
    body_piece_ = {};
    const char* const first = input.data();
    const char* const last = first + input.size();
    const char* p = first;
    const auto consumed = [&] { return static_cast<std::size_t>(p - first); };
    if (p != last) started_ = true;

    switch (state_) {
    case state::length:
        // <len>: ASCII digits, no leading zero, checked against the limit at
        // every digit so that a hostile prefix is refused before allocation.
        for (;;) {
            if (p == last) {
                ec = error::need_more;
                return consumed();
            }
            const char c = *p;
            if (detail::is_digit(c)) {
                if (digits_ == 1 && declared_ == 0) return fail(error::length_leading_zero, consumed(), ec);
                // declared_ <= max_header_block_bytes (< 2^32) before this
                // digit, so the 64-bit arithmetic cannot overflow.
                const std::uint64_t value = std::uint64_t{declared_} * 10 + static_cast<unsigned>(c - '0');
                if (value > limits::max_header_block_bytes) {
                    return fail(error::length_overflow, consumed(), ec);
                }
                if (value > options_.limits.header_block_bytes) {
                    return fail(error::header_block_too_large, consumed(), ec);
                }
                declared_ = static_cast<std::size_t>(value);
                ++digits_;
                ++p;
                continue;
            }
            if (digits_ == 0) return fail(error::length_not_digit, consumed(), ec);
            if (c != ':') return fail(error::missing_colon, consumed(), ec);
            ++p;
            begin_block();
            break;
        }
        [[fallthrough]];

    case state::block: {
        const std::size_t wanted = declared_ - filled_;
        const std::size_t available = static_cast<std::size_t>(last - p);
        const std::size_t n = std::min(wanted, available);
        if (n != 0) {
            reserve_block(filled_ + n);
            std::memcpy(head_.storage_.data() + filled_, p, n);
        }
        filled_ += n;
        p += n;
        if (filled_ != declared_) {
            ec = error::need_more;
            return consumed();
        }
        state_ = state::comma;
    }
        [[fallthrough]];

    case state::comma: {
        if (p == last) {
            ec = error::need_more;
            return consumed();
        }
        if (*p != ',') return fail(error::missing_comma, consumed(), ec);
        ++p;
        if (const auto e = parse_block()) return fail(*e, consumed(), ec);
        body_remaining_ = head_.content_length_;
        state_ = body_remaining_ == 0 ? state::done : state::body;
        // Stop at the end of the head so the caller sees it before any body.
        return consumed();
    }

    case state::body: {
        if (p == last) {
            ec = error::need_more;
            return 0;
        }
        const std::size_t available = static_cast<std::size_t>(last - p);
        const std::size_t n = body_remaining_ < available ? static_cast<std::size_t>(body_remaining_)
                                                          : available;
        body_piece_ = std::string_view(p, n);
        body_remaining_ -= n;
        if (body_remaining_ == 0) state_ = state::done;
        return n;
    }

    case state::done:
        if (p != last) {
            state_ = state::failed;
            error_ = error::trailing_data;
            ec = error::trailing_data;
        }
        return 0;

    case state::failed:
        ec = error_;
        return 0;
    }
    return 0;  // unreachable: every state returns above
}

void request_parser::put_eof(std::error_code& ec) {
    ec.clear();
    switch (state_) {
    case state::done:
        return;
    case state::failed:
        ec = error_;
        return;
    default:
        fail(error::partial_request, 0, ec);
        return;
    }
}

void request_parser::begin_block() {
    state_ = state::block;
    filled_ = 0;
}

// Makes room for `size` block bytes plus the padding the NUL scan reads.
// Storage grows with the bytes that actually arrive (geometrically, capped at
// the declared length), so a peer that only declares a large block costs
// nothing, and only past the largest block seen: a warm parser does not
// allocate.
void request_parser::reserve_block(std::size_t size) {
    std::vector<char>& storage = head_.storage_;
    const std::size_t needed = size + detail::nul_scan_padding;
    if (storage.size() >= needed) return;
    const std::size_t cap = declared_ + detail::nul_scan_padding;
    storage.resize(std::min(std::max(needed, storage.size() * 2), cap));
}

// Validates the complete header block and fills the head. Returns the first
// rule broken, in the documented order, or nothing.
std::optional<error> request_parser::parse_block() {
    if (const auto e = split_block()) return e;
    if (const auto e = deduplicate()) return e;

    request_head& h = head_;
    const auto cl = std::find_if(h.entries_.begin(), h.entries_.end(), [&](const auto& e) {
        return h.name_of(e) == content_length_name;
    });
    if (cl == h.entries_.end()) {
        if (!options_.allow_missing_content_length) return error::content_length_missing;
        h.content_length_ = 0;
    } else {
        if (cl != h.entries_.begin() && !options_.allow_content_length_anywhere) {
            return error::content_length_not_first;
        }
        unsigned long long value = 0;
        switch (detail::parse_decimal(h.value_of(*cl), value)) {
        case 1: return error::content_length_invalid;
        case 2: return error::content_length_overflow;
        default: break;
        }
        h.content_length_ = value;
    }

    if (const auto scgi = h.find(scgi_name)) {
        if (*scgi != "1") return error::scgi_header_invalid;
    } else if (!options_.allow_missing_scgi) {
        return error::scgi_header_missing;
    }

    if (h.content_length_ > options_.limits.body_bytes) return error::body_too_large;
    return std::nullopt;
}

// Splits the block into (name, value) entries at its NUL bytes.
std::optional<error> request_parser::split_block() {
    request_head& h = head_;
    h.entries_.clear();
    const char* const block = h.storage_.data();
    const std::size_t size = declared_;
    if (size == 0) return std::nullopt;
    if (block[size - 1] != '\0') return error::header_unterminated;

    std::optional<error> result;
    std::size_t start = 0;
    bool at_name = true;
    request_head::entry current{};
    const std::size_t max_headers = options_.limits.header_count;
    detail::for_each_nul(block, size, [&](std::size_t nul) {
        if (at_name) {
            if (nul == start) {
                result = error::empty_name;
                return false;
            }
            current.name_offset = static_cast<std::uint32_t>(start);
            current.name_size = static_cast<std::uint32_t>(nul - start);
        } else {
            if (h.entries_.size() == max_headers) {
                result = error::too_many_headers;
                return false;
            }
            current.value_offset = static_cast<std::uint32_t>(start);
            current.value_size = static_cast<std::uint32_t>(nul - start);
            // Cannot throw in practice: capacity grows to the largest request
            // seen and the count is bounded by limits.header_count.
            h.entries_.push_back(current);
        }
        at_name = !at_name;
        start = nul + 1;
        return true;
    });
    if (result) return result;
    if (!at_name) return error::odd_string_count;
    return std::nullopt;
}

// Applies the duplicate policy in one pass with a hash set of names.
std::optional<error> request_parser::deduplicate() {
    request_head& h = head_;
    auto& entries = h.entries_;
    const std::size_t count = entries.size();
    if (count < 2) return std::nullopt;

    name_slots_.assign(detail::name_table_size(count), 0);
    detail::name_table names(name_slots_);
    const auto name_at = [&](std::uint32_t i) { return h.name_of(entries[i]); };

    std::size_t kept = 0;
    for (std::size_t i = 0; i < count; ++i) {
        const request_head::entry e = entries[i];
        const std::string_view name = h.name_of(e);
        const std::ptrdiff_t earlier = names.insert(name, static_cast<std::uint32_t>(kept), name_at);
        if (earlier < 0) {
            entries[kept++] = e;
            continue;
        }
        if (name == content_length_name) return error::content_length_duplicate;
        switch (options_.duplicates) {
        case duplicate_policy::reject:
            return error::duplicate_header;
        case duplicate_policy::first_wins:
            break;
        case duplicate_policy::last_wins: {
            auto& winner = entries[static_cast<std::size_t>(earlier)];
            winner.value_offset = e.value_offset;
            winner.value_size = e.value_size;
            break;
        }
        }
    }
    entries.resize(kept);
    return std::nullopt;
}

}  // namespace scgi
