// libFuzzer target: scgi::request_parser.
//
// Input layout (so corpus files stay readable, the options come first):
//
//   byte 0  flags: bit 0 allow_missing_scgi, bit 1 allow_content_length_anywhere,
//           bit 2 allow_missing_content_length, bits 3-4 duplicate policy
//           (0 reject, 1 first_wins, 2 last_wins, 3 reject), bit 5 release the
//           head after the split run (instead of the trailing-data check),
//           bit 6 put an empty input before every chunk, bit 7
//           body_length_from_http_content_length
//   byte 1  limits.header_block_bytes: < 0x80 itself, < 0xC0 (v - 0x80) * 64,
//           else the default (64 KiB)
//   byte 2  limits.header_count: < 0x40 itself, < 0x80 (v - 0x40) * 8,
//           else the default (no limit)
//   byte 3  limits.body_bytes: < 0x80 itself, < 0xC0 (v - 0x80) * 4096,
//           else the default (unlimited)
//   byte 4  chunking scheme, byte 5 its seed (see scgi_fuzz::make_cuts)
//   rest    the request bytes
//
// Each input is parsed three ways: by a reference model written from the
// documentation (request_parser.hpp, limits.hpp, parser_options.hpp), whole
// by a fresh parser, and split at the chosen points by the same parser after
// reset(). All three must agree; along the way every documented invariant of
// put()/put_eof() is checked.

#include "fuzz_support.hpp"

#include <scgi/error.hpp>
#include <scgi/parser_options.hpp>
#include <scgi/request_parser.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
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

constexpr std::size_t option_bytes = 6;

struct config {
    scgi::parser_options options;
    bool release = false;
    bool empty_puts = false;
    std::uint8_t scheme = 0;
    std::uint8_t seed = 0;
};

config read_config(const std::uint8_t* data) {
    config c;
    const std::uint8_t flags = data[0];
    c.options.allow_missing_scgi = (flags & 0x01) != 0;
    c.options.allow_content_length_anywhere = (flags & 0x02) != 0;
    c.options.allow_missing_content_length = (flags & 0x04) != 0;
    switch ((flags >> 3) & 3) {
    case 1: c.options.duplicates = scgi::duplicate_policy::first_wins; break;
    case 2: c.options.duplicates = scgi::duplicate_policy::last_wins; break;
    default: c.options.duplicates = scgi::duplicate_policy::reject; break;
    }
    c.release = (flags & 0x20) != 0;
    c.empty_puts = (flags & 0x40) != 0;
    c.options.body_length_from_http_content_length = (flags & 0x80) != 0;

    const std::size_t block = data[1];
    if (block < 0x80) {
        c.options.limits.header_block_bytes = block;
    } else if (block < 0xC0) {
        c.options.limits.header_block_bytes = (block - 0x80) * 64;
    }
    const std::size_t count = data[2];
    if (count < 0x40) {
        c.options.limits.header_count = count;
    } else if (count < 0x80) {
        c.options.limits.header_count = (count - 0x40) * 8;
    }
    const std::uint64_t body = data[3];
    if (body < 0x80) {
        c.options.limits.body_bytes = body;
    } else if (body < 0xC0) {
        c.options.limits.body_bytes = (body - 0x80) * 4096;
    }
    c.scheme = data[4];
    c.seed = data[5];
    return c;
}

using header_list = std::vector<std::pair<std::string, std::string>>;

/// Everything one parse reports, comparable across ways of feeding it.
struct outcome {
    header_list headers;           // once the head is done
    std::uint64_t content_length = 0;
    std::string body;              // concatenation of the body pieces
    std::error_code error;         // the failure, need_more if input ran out, or none
    bool head_done = false;
    bool done = false;
    std::size_t consumed = 0;

    friend bool operator==(const outcome&, const outcome&) = default;
};

void print(const char* label, const outcome& o) {
    std::fprintf(stderr, "%s: error=%s head_done=%d done=%d consumed=%zu content_length=%llu body=%zu:\"%s\"\n",
                 label, describe(o.error).c_str(), o.head_done, o.done, o.consumed,
                 static_cast<unsigned long long>(o.content_length), o.body.size(),
                 printable(o.body, 64).c_str());
    for (const auto& [name, value] : o.headers) {
        std::fprintf(stderr, "    \"%s\" = \"%s\"\n", printable(name, 64).c_str(),
                     printable(value, 64).c_str());
    }
}

void expect_same(const outcome& a, const char* a_label, const outcome& b, const char* b_label) {
    if (a == b) return;
    print(a_label, a);
    print(b_label, b);
    scgi_fuzz::check_failed("outcomes differ", __FILE__, __LINE__);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// --- the reference model ------------------------------------------------------

/// Parses `input` fed whole, following the documented rules and error order:
/// length prefix at the offending byte; then, once the block and its `,` are
/// in, framing, structure (strings, names, header count), duplicates,
/// CONTENT_LENGTH, SCGI, body limit; then the body.
outcome model(std::string_view in, const scgi::parser_options& opt) {
    outcome o;
    std::size_t i = 0;
    const auto fail = [&](error e) {
        o.error = e;
        o.consumed = i;
        return o;
    };
    const auto need_more = [&] {
        o.error = error::need_more;
        o.consumed = in.size();
        return o;
    };

    // <len>
    std::size_t declared = 0;
    std::size_t digits = 0;
    for (;; ++i) {
        if (i == in.size()) return need_more();
        const char c = in[i];
        if (!is_digit(c)) break;
        if (digits == 1 && declared == 0) return fail(error::length_leading_zero);
        // header_block_bytes <= 0xFFFF'FFF0, so the limit trips long before
        // size_t could overflow.
        declared = declared * 10 + static_cast<std::size_t>(c - '0');
        ++digits;
        if (declared > opt.limits.header_block_bytes) return fail(error::header_block_too_large);
    }
    if (digits == 0) return fail(error::length_not_digit);
    if (in[i] != ':') return fail(error::missing_colon);
    ++i;
    if (in.size() - i < declared) return need_more();
    const std::string_view block = in.substr(i, declared);
    i += declared;
    if (i == in.size()) return need_more();
    if (in[i] != ',') return fail(error::missing_comma);
    ++i;

    // Structure: strings in order; a name must be non-empty; the pair that
    // would pass header_count is refused; an odd count last.
    header_list raw;
    if (!block.empty()) {
        if (block.back() != '\0') return fail(error::header_unterminated);
        std::size_t start = 0;
        bool at_name = true;
        std::string name;
        while (start < block.size()) {
            const std::size_t nul = block.find('\0', start);
            const std::string_view s = block.substr(start, nul - start);
            if (at_name) {
                if (s.empty()) return fail(error::empty_name);
                name = std::string(s);
            } else {
                if (raw.size() == opt.limits.header_count) return fail(error::too_many_headers);
                raw.emplace_back(name, std::string(s));
            }
            at_name = !at_name;
            start = nul + 1;
        }
        if (!at_name) return fail(error::odd_string_count);
    }

    // Duplicates, in order of appearance.
    header_list kept;
    for (auto& [name, value] : raw) {
        auto earlier = kept.begin();
        while (earlier != kept.end() && earlier->first != name) ++earlier;
        if (earlier == kept.end()) {
            kept.emplace_back(name, value);
            continue;
        }
        if (name == "CONTENT_LENGTH") return fail(error::content_length_duplicate);
        switch (opt.duplicates) {
        case scgi::duplicate_policy::reject: return fail(error::duplicate_header);
        case scgi::duplicate_policy::first_wins: break;
        case scgi::duplicate_policy::last_wins: earlier->second = value; break;
        }
    }

    // CONTENT_LENGTH.
    std::uint64_t length = 0;
    std::size_t cl = 0;
    while (cl < kept.size() && kept[cl].first != "CONTENT_LENGTH") ++cl;
    if (cl == kept.size()) {
        if (!opt.allow_missing_content_length) return fail(error::content_length_missing);
    } else {
        if (cl != 0 && !opt.allow_content_length_anywhere) return fail(error::content_length_not_first);
        const std::string& v = kept[cl].second;
        if (v.empty()) return fail(error::content_length_invalid);
        bool overflow = false;
        for (const char c : v) {
            if (!is_digit(c)) {
                // A non-digit anywhere wins over overflow.
                return fail(error::content_length_invalid);
            }
            const auto d = static_cast<std::uint64_t>(c - '0');
            if (length > (UINT64_MAX - d) / 10) overflow = true;
            length = length * 10 + d;  // wraps after overflow; value unused then
        }
        if (overflow) return fail(error::content_length_overflow);
        // A forwarded HTTP Content-Length that is a number must agree.
        const auto http = std::find_if(kept.begin(), kept.end(),
                                       [](const auto& h) { return h.first == "HTTP_CONTENT_LENGTH"; });
        if (http != kept.end() && !http->second.empty()) {
            std::uint64_t forwarded = 0;
            bool number = true;
            for (const char c : http->second) {
                const auto d = static_cast<std::uint64_t>(c - '0');
                if (!is_digit(c) || forwarded > (UINT64_MAX - d) / 10) {
                    number = false;
                    break;
                }
                forwarded = forwarded * 10 + d;
            }
            if (number && forwarded != length) {
                if (!opt.body_length_from_http_content_length) return fail(error::content_length_disagrees);
                length = forwarded;
            }
        }
    }

    // SCGI.
    const auto scgi = std::find_if(kept.begin(), kept.end(), [](const auto& h) { return h.first == "SCGI"; });
    if (scgi == kept.end()) {
        if (!opt.allow_missing_scgi) return fail(error::scgi_header_missing);
    } else if (scgi->second != "1") {
        return fail(error::scgi_header_invalid);
    }

    if (length > opt.limits.body_bytes) return fail(error::body_too_large);

    o.head_done = true;
    o.headers = std::move(kept);
    o.content_length = length;
    const std::size_t available = in.size() - i;
    if (available < length) {
        o.body = std::string(in.substr(i));
        return need_more();
    }
    o.body = std::string(in.substr(i, static_cast<std::size_t>(length)));
    o.consumed = i + static_cast<std::size_t>(length);
    o.done = true;
    return o;
}

// --- driving the parser -------------------------------------------------------

/// After an error other than need_more: the parser must keep returning it,
/// consume nothing, and report it from put_eof too.
void check_sticky(scgi::request_parser& p, std::error_code failure, std::string_view rest) {
    SCGI_FUZZ_CHECK(failure && failure != error::need_more);
    const std::string_view probes[] = {rest, std::string_view(), std::string_view("1:,", 3)};
    for (const std::string_view probe : probes) {
        std::error_code ec;
        const std::size_t n = p.put(probe, ec);
        SCGI_FUZZ_CHECK(n == 0);
        SCGI_FUZZ_CHECK(ec == failure);
        SCGI_FUZZ_CHECK(p.body_piece().empty());
        SCGI_FUZZ_CHECK(!p.is_done());
    }
    std::error_code ec;
    p.put_eof(ec);
    SCGI_FUZZ_CHECK(ec == failure);
}

/// The `<len>` of an input whose head the parser accepted.
std::size_t declared_length(std::string_view input) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < input.size() && is_digit(input[i]); ++i) {
        n = n * 10 + static_cast<std::size_t>(input[i] - '0');
    }
    return n;
}

/// Checks the head right after the put that completed it.
void check_head(const scgi::request_parser& p, std::string_view input) {
    const scgi::parser_options& opt = p.options();
    const scgi::request_head& head = p.head();
    const std::size_t block = declared_length(input);
    SCGI_FUZZ_CHECK(block <= opt.limits.header_block_bytes);
    SCGI_FUZZ_CHECK(head.size() <= opt.limits.header_count);
    SCGI_FUZZ_CHECK(head.content_length() <= opt.limits.body_bytes);
    SCGI_FUZZ_CHECK(p.body_remaining() == head.content_length());
    SCGI_FUZZ_CHECK(head.empty() == (head.size() == 0));
    SCGI_FUZZ_CHECK(static_cast<std::size_t>(head.end() - head.begin()) == head.size());

    // Views lie inside the parser's copy of the header block: it starts with
    // the first name (the first header is always kept), spans `block` bytes,
    // and is not the caller's buffer.
    const char* const base = head.empty() ? nullptr : head[0].name.data();
    const char* const in_first = input.data();
    const char* const in_last = input.data() + input.size();
    const auto inside = [&](std::string_view v) {
        return base != nullptr && v.data() >= base && v.data() + v.size() <= base + block &&
               (v.data() + v.size() <= in_first || v.data() >= in_last);
    };
    bool have_cl = false;
    for (const scgi::header h : head) {
        SCGI_FUZZ_CHECK(!h.name.empty());
        SCGI_FUZZ_CHECK(h.name.find('\0') == std::string_view::npos);
        SCGI_FUZZ_CHECK(h.value.find('\0') == std::string_view::npos);
        SCGI_FUZZ_CHECK(inside(h.name));
        SCGI_FUZZ_CHECK(inside(h.value));
        // Both strings are NUL-terminated inside the block.
        SCGI_FUZZ_CHECK(h.name.data()[h.name.size()] == '\0');
        SCGI_FUZZ_CHECK(h.value.data()[h.value.size()] == '\0');
        SCGI_FUZZ_CHECK(head.find(h.name).has_value());
        if (h.name == "CONTENT_LENGTH") have_cl = true;
    }
    if (!have_cl) SCGI_FUZZ_CHECK(head.content_length() == 0 && opt.allow_missing_content_length);
    if (!head.find("SCGI")) SCGI_FUZZ_CHECK(opt.allow_missing_scgi);
    else SCGI_FUZZ_CHECK(*head.find("SCGI") == "1");

    // The CGI accessors: no crash, and consistent with each other.
    const std::string_view uri = head.uri();
    const std::string_view path = head.path();
    SCGI_FUZZ_CHECK(uri.substr(0, path.size()) == path);
    SCGI_FUZZ_CHECK(path.find_first_of("?#") == std::string_view::npos);
    const std::string_view query = head.query();
    if (const auto qs = head.find("QUERY_STRING")) {
        SCGI_FUZZ_CHECK(query == *qs);
    } else {
        // The query of REQUEST_URI: after a `?` that comes before any `#`
        // (RFC 3986: a `?` inside the fragment starts no query), up to `#`.
        const std::size_t cut = uri.find_first_of("?#");
        std::string_view expected;
        if (cut != std::string_view::npos && uri[cut] == '?') {
            expected = uri.substr(cut + 1);
            expected = expected.substr(0, expected.find('#'));
        }
        if (query != expected) {
            std::fprintf(stderr, "uri \"%s\": query() \"%s\", expected \"%s\"\n", printable(uri).c_str(),
                         printable(query).c_str(), printable(expected).c_str());
        }
        SCGI_FUZZ_CHECK(query == expected);
    }
    (void)head.method();
    (void)head.content_type();
    SCGI_FUZZ_CHECK(head.value_or("\x01 absent", "fallback") == "fallback" || head.find("\x01 absent"));
    // Every HTTP_<NAME> header is found by its HTTP name.
    for (const scgi::header h : head) {
        if (!h.name.starts_with("HTTP_") || h.name.size() == 5) continue;
        std::string http_name;
        bool mappable = true;
        for (const char c : h.name.substr(5)) {
            // No HTTP name maps to a lower-case letter or a '-' in a CGI name.
            if ((c >= 'a' && c <= 'z') || c == '-') mappable = false;
            http_name.push_back(c == '_' ? '-' : (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c);
        }
        if (!mappable || http_name == "content-type" || http_name == "content-length") continue;
        SCGI_FUZZ_CHECK(head.http_header(http_name).has_value());
    }
    SCGI_FUZZ_CHECK(!head.http_header("").has_value());
    if (!head.find("HTTP_X_SCGI_FUZZ_ABSENT")) SCGI_FUZZ_CHECK(!head.http_header("x-scgi-fuzz-absent"));
}

enum class after_done { trailing, release };

/// Feeds `input` cut at `cuts` with the canonical loop of request_parser.hpp,
/// checking every put, and returns what it reported (the error is need_more if
/// the input ran out). The parser must be fresh or reset.
outcome drive(scgi::request_parser& p, std::string_view input, std::span<const std::size_t> cuts,
              bool empty_puts, after_done then) {
    const scgi::parser_options& opt = p.options();
    SCGI_FUZZ_CHECK(!p.is_started() && !p.is_head_done() && !p.is_done() && p.body_remaining() == 0);
    outcome out;
    std::size_t from = 0;
    for (std::size_t c = 0; c <= cuts.size(); ++c) {
        const std::size_t to = c < cuts.size() ? cuts[c] : input.size();
        std::string_view chunk = input.substr(from, to - from);
        from = to;
        if (empty_puts) {
            std::error_code ec;
            SCGI_FUZZ_CHECK(p.put({}, ec) == 0);
            SCGI_FUZZ_CHECK(ec == error::need_more);
            SCGI_FUZZ_CHECK(p.body_piece().empty());
        }
        for (;;) {
            const bool was_head_done = p.is_head_done();
            const std::uint64_t remaining_before = p.body_remaining();
            std::error_code ec;
            const std::size_t n = p.put(chunk, ec);
            SCGI_FUZZ_CHECK(n <= chunk.size());
            if (n != 0) SCGI_FUZZ_CHECK(p.is_started());
            const std::string_view piece = p.body_piece();
            if (ec == error::need_more) {
                // need_more only when all input was consumed, with no event.
                SCGI_FUZZ_CHECK(n == chunk.size());
                SCGI_FUZZ_CHECK(p.is_head_done() == was_head_done && !p.is_done());
                SCGI_FUZZ_CHECK(piece.empty());
            } else if (ec) {
                SCGI_FUZZ_CHECK(piece.empty() && !p.is_done());
            } else {
                SCGI_FUZZ_CHECK(n > 0);  // success is an event, and every event consumes
                SCGI_FUZZ_CHECK(p.is_head_done());
            }
            if (!piece.empty()) {
                // A body piece is exactly the consumed bytes, in the caller's buffer.
                SCGI_FUZZ_CHECK(was_head_done);
                SCGI_FUZZ_CHECK(piece.data() == chunk.data() && piece.size() == n);
                SCGI_FUZZ_CHECK(p.body_remaining() == remaining_before - n);
            }
            if (was_head_done && !ec) SCGI_FUZZ_CHECK(!piece.empty());
            chunk.remove_prefix(n);
            out.consumed += n;
            SCGI_FUZZ_CHECK(out.consumed <= input.size());

            if (!was_head_done && p.is_head_done()) {
                SCGI_FUZZ_CHECK(!ec);
                SCGI_FUZZ_CHECK(piece.empty());  // the head put stops right after `,`
                SCGI_FUZZ_CHECK(input[out.consumed - 1] == ',');
                check_head(p, input);
                out.head_done = true;
                out.content_length = p.head().content_length();
                for (const scgi::header h : p.head()) out.headers.emplace_back(h.name, h.value);
            }
            out.body += piece;
            if (out.head_done) {
                SCGI_FUZZ_CHECK(out.body.size() <= out.content_length);
                SCGI_FUZZ_CHECK(out.body.size() <= opt.limits.body_bytes);
                SCGI_FUZZ_CHECK(p.body_remaining() == out.content_length - out.body.size());
            }

            if (ec == error::need_more) break;  // next chunk
            if (ec) {
                out.error = ec;
                check_sticky(p, ec, input.substr(out.consumed));
                return out;
            }
            if (p.is_done()) {
                SCGI_FUZZ_CHECK(p.body_remaining() == 0);
                SCGI_FUZZ_CHECK(out.body.size() == out.content_length);
                out.done = true;
                break;
            }
        }
        if (out.done) break;
    }

    if (!out.done) {
        out.error = error::need_more;
        SCGI_FUZZ_CHECK(out.consumed == input.size());
        std::error_code ec;
        p.put_eof(ec);
        SCGI_FUZZ_CHECK(ec == error::partial_request);
        check_sticky(p, ec, {});
        return out;
    }

    // Done: put_eof and empty puts are no error; bytes past the body are
    // never consumed and fail with trailing_data (one request per connection).
    std::error_code ec;
    p.put_eof(ec);
    SCGI_FUZZ_CHECK(!ec);
    SCGI_FUZZ_CHECK(p.put({}, ec) == 0);
    SCGI_FUZZ_CHECK(!ec && p.is_done() && p.body_piece().empty());
    if (then == after_done::release) {
        // Views taken before release_head stay valid: moving a head does not
        // move its bytes.
        std::vector<scgi::header> views(p.head().begin(), p.head().end());
        const scgi::request_head copy = p.head();
        const scgi::request_head released = p.release_head();
        SCGI_FUZZ_CHECK(released.size() == views.size() && copy.size() == views.size());
        SCGI_FUZZ_CHECK(released.content_length() == out.content_length);
        for (std::size_t i = 0; i < views.size(); ++i) {
            SCGI_FUZZ_CHECK(released[i].name.data() == views[i].name.data());
            SCGI_FUZZ_CHECK(released[i].value.data() == views[i].value.data());
            SCGI_FUZZ_CHECK(released[i] == views[i]);
            SCGI_FUZZ_CHECK(copy[i] == views[i]);
            SCGI_FUZZ_CHECK(views[i].name == out.headers[i].first && views[i].value == out.headers[i].second);
        }
        return out;
    }
    const std::string_view rest = input.substr(out.consumed);
    const std::size_t n = p.put(rest, ec);
    SCGI_FUZZ_CHECK(n == 0);
    if (rest.empty()) {
        SCGI_FUZZ_CHECK(!ec && p.is_done());
    } else {
        SCGI_FUZZ_CHECK(ec == error::trailing_data);
        check_sticky(p, ec, rest);
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < option_bytes) return 0;
    const config cfg = read_config(data);
    // libFuzzer passes a heap copy of exactly `size` bytes, so the request
    // ends at the end of an allocation: ASan reports any read past it (a
    // std::string copy could keep it in spare capacity or the SSO buffer).
    const std::string_view input(reinterpret_cast<const char*>(data + option_bytes), size - option_bytes);

    const outcome expected = model(input, cfg.options);

    scgi::request_parser parser(cfg.options);
    const outcome whole = drive(parser, input, {}, false, after_done::trailing);
    expect_same(expected, "model", whole, "whole");

    // The same parser, reset (warm storage), fed in chunks.
    parser.reset();
    const std::vector<std::size_t> cuts = scgi_fuzz::make_cuts(input.size(), cfg.scheme, cfg.seed);
    const outcome split = drive(parser, input, cuts, cfg.empty_puts,
                                cfg.release ? after_done::release : after_done::trailing);
    expect_same(whole, "whole", split, "split");

    // A strict prefix of a complete request yields only need_more.
    if (whole.done && whole.consumed > 0) {
        const std::size_t cut = cfg.seed % whole.consumed;
        parser.reset();
        // In its own exact-size buffer, so reading past the prefix is caught.
        const auto prefix_bytes = std::make_unique<char[]>(cut);
        std::copy_n(input.data(), cut, prefix_bytes.get());
        const std::string_view prefix(prefix_bytes.get(), cut);
        const outcome partial = drive(parser, prefix, scgi_fuzz::make_cuts(prefix.size(), cfg.scheme, cfg.seed),
                                      false, after_done::trailing);
        SCGI_FUZZ_CHECK(partial.error == error::need_more);
        SCGI_FUZZ_CHECK(partial.consumed == cut);
        SCGI_FUZZ_CHECK(!partial.done);
    }
    return 0;
}
