// libFuzzer target: scgi::response_parser (the head of a CGI response).
//
// Input layout:
//
//   byte 0  head limit: < 0x80 itself, < 0xC0 (v - 0x80) * 64, else the
//           default (response_parser::default_head_limit)
//   byte 1  chunking scheme, byte 2 its seed (see scgi_fuzz::make_cuts)
//   rest    the response bytes
//
// Each input is parsed by a reference model written from the documentation
// (response_parser.hpp, error.hpp), whole by a fresh parser, and in chunks by
// the same parser after reset(). All must agree. A head that parses is then
// serialized and parsed again: the result must be the same head.

#include "fuzz_support.hpp"

#include <scgi/error.hpp>
#include <scgi/response_head.hpp>
#include <scgi/response_parser.hpp>
#include <scgi/status.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace {

using scgi::error;
using scgi_fuzz::describe;
using scgi_fuzz::printable;

constexpr std::size_t option_bytes = 3;

using header_list = std::vector<std::pair<std::string, std::string>>;

struct outcome {
    int status = 0;
    std::string reason;  // as reason() returns it
    header_list headers;
    std::error_code error;  // the failure, need_more if the input ran out, or none
    bool done = false;
    std::size_t consumed = 0;

    friend bool operator==(const outcome&, const outcome&) = default;
};

void print(const char* label, const outcome& o) {
    std::fprintf(stderr, "%s: error=%s done=%d consumed=%zu status=%d reason=\"%s\"\n", label,
                 describe(o.error).c_str(), o.done, o.consumed, o.status, printable(o.reason, 64).c_str());
    for (const auto& [name, value] : o.headers) {
        std::fprintf(stderr, "    \"%s\": \"%s\"\n", printable(name, 64).c_str(), printable(value, 64).c_str());
    }
}

/// Compares two outcomes; `with_consumed` is false where the count is not
/// specified (response_head_too_large is reported at the chunk that passes
/// the limit, so its count depends on the split).
void expect_same(const outcome& a, const char* a_label, const outcome& b, const char* b_label) {
    outcome a2 = a;
    outcome b2 = b;
    if (a.error == error::response_head_too_large) a2.consumed = b2.consumed = 0;
    if (a2 == b2) return;
    print(a_label, a);
    print(b_label, b);
    scgi_fuzz::check_failed("outcomes differ", __FILE__, __LINE__);
}

// --- the reference model ------------------------------------------------------

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_blank(char c) { return c == ' ' || c == '\t'; }
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_tchar(char c) {
    if (is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (const char c : s) {
        if (!is_tchar(c)) return false;
    }
    return true;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
    return s;
}

/// "NNN" or "NNN<blank>reason", status 100..999.
bool parse_status(std::string_view s, int& status, std::string& reason) {
    if (s.size() < 3 || !is_digit(s[0]) || !is_digit(s[1]) || !is_digit(s[2]) || s[0] == '0') return false;
    if (s.size() > 3 && !is_blank(s[3])) return false;
    status = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    reason = std::string(trim(s.substr(3)));
    return true;
}

bool has_cr_or_nul(std::string_view s) {
    return s.find('\r') != std::string_view::npos || s.find('\0') != std::string_view::npos;
}

outcome model(std::string_view in, std::size_t limit) {
    outcome o;
    // Find the empty line: an LF or CR LF at the start of a line.
    std::size_t end = std::string_view::npos;
    for (std::size_t start = 0; start < in.size();) {
        const std::size_t lf = in.find('\n', start);
        if (lf == std::string_view::npos) break;
        const std::string_view line = in.substr(start, lf - start);
        if (line.empty() || line == "\r") {
            end = lf + 1;
            break;
        }
        start = lf + 1;
    }
    if (end == std::string_view::npos) {
        o.consumed = in.size();
        o.error = in.size() > limit ? error::response_head_too_large : error::need_more;
        return o;
    }
    o.consumed = end;
    if (end > limit) {
        o.error = error::response_head_too_large;
        return o;
    }

    int status = 200;
    std::string reason;
    header_list headers;
    bool have_status = false;
    bool first = true;
    for (std::size_t start = 0;;) {
        const std::size_t lf = in.find('\n', start);
        std::string_view line = in.substr(start, lf - start);
        start = lf + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) break;
        if (first && line.starts_with("HTTP/")) {
            if (has_cr_or_nul(line) || line.size() < 9 || !line.starts_with("HTTP/1.") || !is_digit(line[7]) ||
                line[8] != ' ' || !parse_status(line.substr(9), status, reason)) {
                o.error = error::bad_status_line;
                return o;
            }
            have_status = true;
        } else {
            if (is_blank(line.front())) {
                o.error = error::obsolete_line_folding;
                return o;
            }
            const std::size_t colon = line.find(':');
            if (colon == std::string_view::npos) {
                o.error = error::bad_header_line;
                return o;
            }
            const std::string_view name = line.substr(0, colon);
            if (!is_token(name)) {
                o.error = error::bad_header_name;
                return o;
            }
            const std::string_view value = trim(line.substr(colon + 1));
            if (has_cr_or_nul(value)) {
                o.error = error::bad_header_value;
                return o;
            }
            if (iequals(name, "status")) {
                if (!parse_status(value, status, reason)) {
                    o.error = error::bad_status_line;
                    return o;
                }
                have_status = true;
            } else {
                headers.emplace_back(name, value);
            }
        }
        first = false;
    }
    if (!have_status) {
        for (const auto& h : headers) {
            if (iequals(h.first, "location")) {
                status = 302;
                break;
            }
        }
    }
    o.status = status;
    o.headers = std::move(headers);
    o.reason = reason.empty() ? std::string(scgi::reason_phrase(status)) : reason;
    o.done = true;
    return o;
}

// --- driving the parser -------------------------------------------------------

void check_sticky(scgi::response_parser& p, std::error_code failure) {
    SCGI_FUZZ_CHECK(failure && failure != error::need_more);
    for (const std::string_view probe : {std::string_view(), std::string_view("\r\n\r\n")}) {
        std::error_code ec;
        SCGI_FUZZ_CHECK(p.put(probe, ec) == 0);
        SCGI_FUZZ_CHECK(ec == failure);
        SCGI_FUZZ_CHECK(!p.is_head_done());
    }
    std::error_code ec;
    p.put_eof(ec);
    SCGI_FUZZ_CHECK(ec == failure);
}

void check_head(const scgi::response_head& head) {
    SCGI_FUZZ_CHECK(head.status() >= 100 && head.status() <= 999);
    SCGI_FUZZ_CHECK(head.reason().find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos);
    SCGI_FUZZ_CHECK(static_cast<std::size_t>(head.end() - head.begin()) == head.size());
    for (const scgi::header h : head) {
        SCGI_FUZZ_CHECK(is_token(h.name));
        SCGI_FUZZ_CHECK(!iequals(h.name, "status"));
        SCGI_FUZZ_CHECK(h.value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos);
        SCGI_FUZZ_CHECK(h.value.empty() || (!is_blank(h.value.front()) && !is_blank(h.value.back())));
        SCGI_FUZZ_CHECK(head.find(h.name).has_value());
    }
}

outcome record(const scgi::response_head& head) {
    outcome o;
    o.status = head.status();
    o.reason = std::string(head.reason());
    for (const scgi::header h : head) o.headers.emplace_back(h.name, h.value);
    return o;
}

outcome drive(scgi::response_parser& p, std::string_view input, std::span<const std::size_t> cuts) {
    outcome out;
    std::size_t from = 0;
    for (std::size_t c = 0; c <= cuts.size(); ++c) {
        const std::size_t to = c < cuts.size() ? cuts[c] : input.size();
        const std::string_view chunk = input.substr(from, to - from);
        from = to;
        std::error_code ec;
        const std::size_t n = p.put(chunk, ec);
        SCGI_FUZZ_CHECK(n <= chunk.size());
        out.consumed += n;
        SCGI_FUZZ_CHECK(out.consumed <= input.size());
        if (ec == error::need_more) {
            SCGI_FUZZ_CHECK(n == chunk.size());
            SCGI_FUZZ_CHECK(!p.is_head_done());
            continue;
        }
        if (ec) {
            SCGI_FUZZ_CHECK(!p.is_head_done());
            out.error = ec;
            check_sticky(p, ec);
            return out;
        }
        // Done: consumption stopped right after the empty line.
        SCGI_FUZZ_CHECK(p.is_head_done());
        SCGI_FUZZ_CHECK(out.consumed > 0 && input[out.consumed - 1] == '\n');
        check_head(p.head());
        const outcome r = record(p.head());
        out.status = r.status;
        out.reason = r.reason;
        out.headers = r.headers;
        out.done = true;
        // Later puts consume nothing and succeed; put_eof is no error.
        SCGI_FUZZ_CHECK(p.put(input.substr(out.consumed), ec) == 0 && !ec);
        p.put_eof(ec);
        SCGI_FUZZ_CHECK(!ec && p.is_head_done());
        return out;
    }
    out.error = error::need_more;
    std::error_code ec;
    p.put_eof(ec);
    SCGI_FUZZ_CHECK(ec == error::partial_response);
    check_sticky(p, ec);
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < option_bytes) return 0;
    std::size_t limit = scgi::response_parser::default_head_limit;
    if (data[0] < 0x80) {
        limit = data[0];
    } else if (data[0] < 0xC0) {
        limit = static_cast<std::size_t>(data[0] - 0x80) * 64;
    }
    // A view of libFuzzer's exact-size heap copy: ASan reports any read past
    // its end.
    const std::string_view input(reinterpret_cast<const char*>(data + option_bytes), size - option_bytes);

    const outcome expected = model(input, limit);

    scgi::response_parser parser(limit);
    const outcome whole = drive(parser, input, {});
    expect_same(expected, "model", whole, "whole");

    parser.reset();
    const std::vector<std::size_t> cuts = scgi_fuzz::make_cuts(input.size(), data[1], data[2]);
    const outcome split = drive(parser, input, cuts);
    expect_same(whole, "whole", split, "split");

    if (!whole.done) return 0;

    // A strict prefix of a valid head yields only need_more. In its own
    // exact-size buffer, so reading past the prefix is caught.
    {
        const std::size_t cut = data[2] % whole.consumed;
        const auto prefix_bytes = std::make_unique<char[]>(cut);
        std::copy_n(input.data(), cut, prefix_bytes.get());
        const std::string_view prefix(prefix_bytes.get(), cut);
        scgi::response_parser fresh(limit);
        const outcome partial = drive(fresh, prefix, scgi_fuzz::make_cuts(cut, data[1], data[2]));
        SCGI_FUZZ_CHECK(partial.error == error::need_more && partial.consumed == cut && !partial.done);
    }

    // What parses serializes (in the Status: form) to a head that parses to
    // the same status, reason and headers; the moved-out head is the same.
    const scgi::response_head head = parser.release_head();
    std::string wire;
    head.serialize(wire);
    SCGI_FUZZ_CHECK(wire.size() == head.serialized_size());
    scgi::response_parser again(wire.size());
    std::error_code ec;
    SCGI_FUZZ_CHECK(again.put(wire, ec) == wire.size());
    if (ec) {
        std::fprintf(stderr, "re-parse of \"%s\" failed: %s\n", printable(wire).c_str(), describe(ec).c_str());
    }
    SCGI_FUZZ_CHECK(!ec && again.is_head_done());
    const outcome first = record(head);
    const outcome second = record(again.head());
    expect_same(first, "parsed", second, "re-parsed");
    outcome split_recorded = split;
    split_recorded.error = {};
    split_recorded.done = false;
    split_recorded.consumed = 0;
    expect_same(split_recorded, "split", first, "released");
    return 0;
}
