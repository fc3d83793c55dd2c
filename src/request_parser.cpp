#include <scgi/request_parser.hpp>

#include <scgi/detail/ascii.hpp>
#include <scgi/detail/find_nul.hpp>
#include <scgi/detail/name_table.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <random>
#include <stdexcept>
#include <utility>

namespace scgi {
namespace {

constexpr std::string_view content_length_name = "CONTENT_LENGTH";
constexpr std::string_view scgi_name = "SCGI";
constexpr std::uint64_t content_length_hash = detail::hash_name(content_length_name);
constexpr std::uint64_t scgi_hash = detail::hash_name(scgi_name);
constexpr std::string_view http_content_length_name = "HTTP_CONTENT_LENGTH";
constexpr std::uint64_t http_content_length_hash = detail::hash_name(http_content_length_name);

// Entries kept across reset(): enough for any ordinary request. A request
// with more headers allocated for them; that memory goes with the request.
constexpr std::size_t kept_entries = 1024;

// A seed nobody outside the process can predict: 64 random bits drawn once
// per process (std::random_device: the kernel's getrandom on Linux), mixed
// with where this parser lives. Should the device fail, the clock and the
// addresses (ASLR) still vary it.
std::uint64_t make_hash_seed(const void* parser) noexcept {
    static const std::uint64_t process_seed = [] {
        static const int anchor = 0;
        std::uint64_t seed =
            static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
            static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(&anchor));
        try {
            std::random_device device;
            seed ^= (std::uint64_t{device()} << 32) | device();
        } catch (...) {
        }
        return seed;
    }();
    const auto where = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(parser));
    return detail::hash_whole_name(std::string_view(reinterpret_cast<const char*>(&where), sizeof where),
                                   process_seed);
}

}  // namespace

request_parser::request_parser(parser_options options) : options_(options), hash_seed_(make_hash_seed(this)) {
    if (options_.limits.header_block_bytes > limits::max_header_block_bytes) {
        throw std::invalid_argument(
            "scgi::request_parser: limits.header_block_bytes exceeds "
            "limits::max_header_block_bytes");
    }
}

void request_parser::reset() noexcept {
    head_.entries_.clear();
    if (head_.entries_.capacity() > kept_entries) {
        decltype(head_.entries_)().swap(head_.entries_);
        std::vector<std::uint32_t>().swap(name_scratch_);
    }
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

std::size_t request_parser::put_slow(std::string_view input, std::error_code& ec) {
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
            if (head_.storage_.size() < filled_ + n + detail::nul_scan_padding) reserve_block(filled_ + n);
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
        ec.clear();
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
        ec.clear();
        return n;
    }

    case state::done:
        if (p != last) {
            state_ = state::failed;
            error_ = error::trailing_data;
            ec = error::trailing_data;
        } else {
            ec.clear();
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
    special_headers special;
    if (const auto e = split_block(special)) return e;

    request_head& h = head_;
    if (special.content_length == special_headers::absent) {
        if (!options_.allow_missing_content_length) return error::content_length_missing;
        h.content_length_ = 0;
    } else {
        if (special.content_length != 0 && !options_.allow_content_length_anywhere) {
            return error::content_length_not_first;
        }
        unsigned long long value = 0;
        switch (detail::parse_decimal(h.value_of(h.entries_[special.content_length]), value)) {
        case 1: return error::content_length_invalid;
        case 2: return error::content_length_overflow;
        default: break;
        }
        h.content_length_ = value;
        // The front end's copy of the HTTP Content-Length must agree: if it
        // does not, the body that follows is not CONTENT_LENGTH bytes long.
        if (special.http_content_length != special_headers::absent) {
            unsigned long long forwarded = 0;
            const auto text = h.value_of(h.entries_[special.http_content_length]);
            if (detail::parse_decimal(text, forwarded) == 0 && forwarded != value) {
                if (!options_.body_length_from_http_content_length) return error::content_length_disagrees;
                h.content_length_ = forwarded;
            }
        }
    }

    if (special.scgi != special_headers::absent) {
        if (h.value_of(h.entries_[special.scgi]) != "1") return error::scgi_header_invalid;
    } else if (!options_.allow_missing_scgi) {
        return error::scgi_header_missing;
    }

    if (h.content_length_ > options_.limits.body_bytes) return error::body_too_large;
    return std::nullopt;
}

// One pass over the block's NUL bytes: splits it into (name, value) entries,
// checks the structure, applies the duplicate policy and notes where
// CONTENT_LENGTH and SCGI are. A duplicate is remembered rather than returned
// at once, so a structural error later in the block still takes precedence,
// as documented.
//
// Duplicates, fast path: a Bloom filter over cheap name hashes answers
// "new" for almost every name of an ordinary request; a filter hit compares
// the name with the names kept so far. Many names (the filter fills up) or
// names built to collide (the hash skips the middle of long names) would
// make that quadratic, so after `max_filter_hits` hits the block is split
// again and checked through a hash table instead (deduplicate_hashed).
std::optional<error> request_parser::split_block(special_headers& special) {
    request_head& h = head_;
    const char* const block = h.storage_.data();
    const std::size_t size = declared_;
    h.entries_.clear();
    if (size == 0) return std::nullopt;
    if (block[size - 1] != '\0') return error::header_unterminated;

    constexpr unsigned max_filter_hits = 16;
    unsigned filter_hits = 0;
    detail::name_filter seen;
    std::optional<error> duplicate;  // the first one; reported after the scan
    const auto structure = for_each_pair([&](const request_head::entry& current) {
        auto& entries = h.entries_;
        const std::string_view name = h.name_of(current);
        const std::uint64_t hash = detail::hash_name(name);
        if (seen.test_and_set(hash)) [[unlikely]] {
            if (++filter_hits > max_filter_hits) return false;
            if (merge_duplicate(current, duplicate)) return true;
        }
        if (hash == content_length_hash && name == content_length_name) {
            special.content_length = entries.size();
        } else if (hash == scgi_hash && name == scgi_name) {
            special.scgi = entries.size();
        } else if (hash == http_content_length_hash && name == http_content_length_name) {
            special.http_content_length = entries.size();
        }
        // Grows to the largest request seen (kept across reset() up to
        // kept_entries); the block size bounds it (at most B / 3 entries).
        entries.push_back(current);
        return true;
    });
    if (structure) return structure;
    if (filter_hits <= max_filter_hits) return duplicate;

    // Many headers, or names built to collide under hash_name: take every
    // pair, then deduplicate through a table keyed by a seeded hash of whole
    // names. Linear in the block for any count.
    special = {};
    if (const auto e = collect_pairs()) return e;
    return deduplicate_hashed(special);
}

// Every (name, value) pair of the block into the head's entries, in
// received order; the structural error found first, if any.
std::optional<error> request_parser::collect_pairs() {
    head_.entries_.clear();
    // Exactly the room needed (two NULs a pair): one allocation instead of a
    // dozen doublings, and no more than reset() keeps for an ordinary head.
    const char* const block = head_.storage_.data();
    head_.entries_.reserve(static_cast<std::size_t>(std::count(block, block + declared_, '\0')) / 2);
    return for_each_pair([&](const request_head::entry& current) {
        head_.entries_.push_back(current);
        return true;
    });
}

// Walks the (name, value) pairs of the block (non-empty, NUL-terminated last
// byte) and calls `visit(entry)` for each until it returns false. Returns the
// structural error found first (empty name, too many headers, odd string
// count), or nothing.
template <class Visit>
std::optional<error> request_parser::for_each_pair(Visit&& visit) const {
    const char* const block = head_.storage_.data();
    const std::size_t size = declared_;
    // The block ends with a NUL, so every name's NUL is found before `size`;
    // a value's NUL at or past `size` means the last string was a name.
    detail::nul_cursor nuls(block, size);
    const std::size_t max_headers = options_.limits.header_count;
    std::size_t pairs = 0;
    for (std::size_t start = 0; start < size;) {
        const std::size_t name_end = nuls.next();
        if (name_end == start) return error::empty_name;
        const std::size_t value_end = nuls.next();
        if (value_end >= size) return error::odd_string_count;
        if (pairs == max_headers) return error::too_many_headers;
        ++pairs;
        const request_head::entry current{
            static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(name_end - start),
            static_cast<std::uint32_t>(name_end + 1), static_cast<std::uint32_t>(value_end - name_end - 1)};
        start = value_end + 1;
        if (!visit(current)) return std::nullopt;
    }
    return std::nullopt;
}

// After a filter hit: if an entry kept so far has the name of `current`,
// applies the duplicate policy (or records the first duplicate error in
// `duplicate`) and returns true; returns false if the name is new after all.
// Out of line: rare, and it keeps the hot loop's registers free.
[[gnu::noinline]] bool request_parser::merge_duplicate(const request_head::entry& current,
                                                       std::optional<error>& duplicate) {
    request_head& h = head_;
    const std::string_view name = h.name_of(current);
    const auto earlier = std::find_if(h.entries_.begin(), h.entries_.end(),
                                      [&](const auto& e) { return h.name_of(e) == name; });
    if (earlier == h.entries_.end()) return false;
    if (!duplicate) {  // only the first one is reported
        duplicate = duplicate_error(name);
        if (!duplicate && options_.duplicates == duplicate_policy::last_wins) {
            earlier->value_offset = current.value_offset;
            earlier->value_size = current.value_size;
        }
    }
    return true;
}

// The error a duplicate of `name` is under the options, if any.
std::optional<error> request_parser::duplicate_error(std::string_view name) const noexcept {
    if (name == content_length_name) return error::content_length_duplicate;
    if (options_.duplicates == duplicate_policy::reject) return error::duplicate_header;
    return std::nullopt;
}

// Duplicate policy over all entries through an open-addressing table keyed
// by a seeded hash of whole names: expected O(1) per name, so linear in the
// block. Same outcome as the fast path: the duplicate reported is the first
// met in received order; kept entries stay in received order. The seed is
// random per parser and never leaves it, so names cannot be chosen from
// outside to collide (the table stays at most half full).
std::optional<error> request_parser::deduplicate_hashed(special_headers& special) {
    request_head& h = head_;
    auto& entries = h.entries_;
    name_scratch_.assign(detail::name_table_size(entries.size()), 0);
    detail::name_table table(name_scratch_, entries.size());
    const auto name_at = [&](std::uint32_t i) { return h.name_of(entries[i]); };
    for (std::uint32_t i = 0; i < entries.size(); ++i) {
        const std::string_view name = name_at(i);
        const std::ptrdiff_t earlier = table.insert(name, detail::hash_whole_name(name, hash_seed_), i, name_at);
        if (earlier < 0) continue;
        if (const auto e = duplicate_error(name)) return e;
        if (options_.duplicates == duplicate_policy::last_wins) {
            entries[static_cast<std::size_t>(earlier)].value_offset = entries[i].value_offset;
            entries[static_cast<std::size_t>(earlier)].value_size = entries[i].value_size;
        }
        entries[i].name_size = 0;  // dropped below; never in the table
    }
    std::erase_if(entries, [](const request_head::entry& e) { return e.name_size == 0; });
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const auto name = h.name_of(entries[i]);
        if (name == content_length_name) special.content_length = i;
        if (name == scgi_name) special.scgi = i;
        if (name == http_content_length_name) special.http_content_length = i;
    }
    return std::nullopt;
}

}  // namespace scgi
