// libFuzzer target: scgi::encode_request round-tripped through a strict
// scgi::request_parser, plus the URI helpers (percent_decode, query_params,
// find_query_param, decode_query) on fuzzed strings, plus the response_head
// builder round-tripped through scgi::response_parser.
//
// The input is consumed with FuzzedDataProvider, in this order: a string for
// the URI helpers and a parameter name to look up; the body; a seed for the
// split points; then header records until the data runs out. Most headers are
// valid (non-empty names, no NUL); some are deliberately not, or repeat a
// name, or carry CONTENT_LENGTH / SCGI with a right or wrong value. The
// encoder must then fail with the first error a reference check finds, leaving
// its output untouched, or produce exactly the expected bytes, which a strict
// parser fed in random chunks must read back unchanged.
//
// The response builder reads the same bytes again with its own provider: a
// status and reason (set_status), then headers (add, add_content_length).

#include "fuzz_support.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <scgi/encode_request.hpp>
#include <scgi/error.hpp>
#include <scgi/header.hpp>
#include <scgi/percent_decode.hpp>
#include <scgi/query_params.hpp>
#include <scgi/request_parser.hpp>
#include <scgi/response_head.hpp>
#include <scgi/response_parser.hpp>
#include <scgi/status.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace {

using scgi::error;
using scgi_fuzz::describe;
using scgi_fuzz::printable;

// --- URI helpers ----------------------------------------------------------------

int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/// Reference percent-decoding; nullopt for a `%` without two hex digits.
std::optional<std::string> reference_decode(std::string_view s, bool plus_to_space) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%') {
            if (s.size() - i < 3 || hex(s[i + 1]) < 0 || hex(s[i + 2]) < 0) return std::nullopt;
            out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
            i += 2;
        } else if (s[i] == '+' && plus_to_space) {
            out.push_back(' ');
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

void check_percent_decode(std::string_view s) {
    for (const bool to_space : {false, true}) {
        const std::string prefix = "kept";
        std::string out = prefix;
        const std::error_code ec =
            scgi::percent_decode(s, out, to_space ? scgi::plus_decoding::to_space : scgi::plus_decoding::keep);
        const auto expected = reference_decode(s, to_space);
        if (!expected) {
            SCGI_FUZZ_CHECK(ec == error::bad_percent_encoding);
            SCGI_FUZZ_CHECK(out == prefix);  // left as it was
            continue;
        }
        SCGI_FUZZ_CHECK(!ec);
        SCGI_FUZZ_CHECK(out.size() - prefix.size() <= s.size());  // decoding never lengthens
        SCGI_FUZZ_CHECK(out.compare(0, prefix.size(), prefix) == 0);
        SCGI_FUZZ_CHECK(std::string_view(out).substr(prefix.size()) == *expected);
    }
}

void check_query(std::string_view query, std::string_view wanted) {
    // Reference split: on '&', empty segments skipped, name up to the first '='.
    std::vector<std::pair<std::string_view, std::string_view>> expected;
    for (std::size_t start = 0; start <= query.size();) {
        std::size_t amp = query.find('&', start);
        if (amp == std::string_view::npos) amp = query.size();
        const std::string_view seg = query.substr(start, amp - start);
        if (!seg.empty()) {
            const std::size_t eq = seg.find('=');
            if (eq == std::string_view::npos) expected.emplace_back(seg, std::string_view());
            else expected.emplace_back(seg.substr(0, eq), seg.substr(eq + 1));
        }
        start = amp + 1;
    }

    const scgi::query_params params(query);
    std::size_t i = 0;
    for (auto it = params.begin(); it != params.end(); ++it) {
        SCGI_FUZZ_CHECK(i < expected.size());
        const scgi::query_param p = *it;
        // Views into the query string, at the expected places.
        SCGI_FUZZ_CHECK(p.name.data() >= query.data() && p.name.data() + p.name.size() <= query.data() + query.size());
        SCGI_FUZZ_CHECK(p.value.empty() ||
                        (p.value.data() >= query.data() && p.value.data() + p.value.size() <= query.data() + query.size()));
        SCGI_FUZZ_CHECK(p.name == expected[i].first && p.value == expected[i].second);
        ++i;
    }
    SCGI_FUZZ_CHECK(i == expected.size());
    SCGI_FUZZ_CHECK(static_cast<std::size_t>(std::distance(params.begin(), params.end())) == expected.size());

    // decode_query: all or nothing.
    std::vector<std::pair<std::string, std::string>> decoded{{"keep", "me"}};
    const std::error_code ec = scgi::decode_query(query, decoded);
    std::vector<std::pair<std::string, std::string>> reference;
    bool bad = false;
    for (const auto& [name, value] : expected) {
        auto n = reference_decode(name, true);
        auto v = reference_decode(value, true);
        if (!n || !v) {
            bad = true;
            break;
        }
        reference.emplace_back(std::move(*n), std::move(*v));
    }
    if (bad) {
        SCGI_FUZZ_CHECK(ec == error::bad_percent_encoding);
        SCGI_FUZZ_CHECK(decoded.size() == 1 && decoded[0].first == "keep" && decoded[0].second == "me");
    } else {
        SCGI_FUZZ_CHECK(!ec);
        SCGI_FUZZ_CHECK(decoded.size() == reference.size() + 1);
        for (std::size_t k = 0; k < reference.size(); ++k) SCGI_FUZZ_CHECK(decoded[k + 1] == reference[k]);
    }

    // find_query_param: names decoded in order until the match, then its value.
    std::error_code fec;
    const std::optional<std::string> found = scgi::find_query_param(query, wanted, fec);
    std::optional<std::string> expected_value;
    std::error_code expected_ec;
    for (const auto& [name, value] : expected) {
        const auto n = reference_decode(name, true);
        if (!n) {
            expected_ec = error::bad_percent_encoding;
            break;
        }
        if (*n != wanted) continue;
        expected_value = reference_decode(value, true);
        if (!expected_value) expected_ec = error::bad_percent_encoding;
        break;
    }
    SCGI_FUZZ_CHECK(fec == expected_ec);
    SCGI_FUZZ_CHECK(found == expected_value);
}

// --- encoder round trip -------------------------------------------------------------

constexpr std::string_view cgi_names[] = {
    "REQUEST_METHOD", "REQUEST_URI", "QUERY_STRING", "CONTENT_TYPE", "DOCUMENT_URI", "DOCUMENT_ROOT",
    "SERVER_PROTOCOL", "REQUEST_SCHEME", "HTTPS", "REMOTE_ADDR", "REMOTE_PORT", "SERVER_PORT",
    "SERVER_NAME", "SCRIPT_NAME", "PATH_INFO", "HTTP_HOST", "HTTP_ACCEPT_ENCODING",
    "HTTP_ACCEPT_LANGUAGE", "HTTP_X_FORWARDED_FOR", "HTTP_TRANSFER_ENCODING",
};

/// The first error encode_request must report, from its documented list,
/// checked header by header in order: empty name, NUL in name, NUL in value,
/// repeated name, CONTENT_LENGTH not the body length, SCGI not `1`.
std::error_code expected_encode_error(const std::vector<scgi::header>& headers, std::string_view length) {
    for (std::size_t i = 0; i < headers.size(); ++i) {
        const scgi::header& h = headers[i];
        if (h.name.empty()) return error::empty_name;
        if (h.name.find('\0') != std::string_view::npos) return error::nul_in_name;
        if (h.value.find('\0') != std::string_view::npos) return error::nul_in_value;
        for (std::size_t j = 0; j < i; ++j) {
            if (headers[j].name == h.name) {
                return h.name == "CONTENT_LENGTH" ? error::content_length_duplicate : error::duplicate_header;
            }
        }
        if (h.name == "CONTENT_LENGTH" && h.value != length) return error::content_length_mismatch;
        if (h.name == "SCGI" && h.value != "1") return error::scgi_header_invalid;
    }
    return {};
}

/// The value of `s` if it is decimal digits only and fits 64 bits (leading
/// zeros allowed), written here apart from the parser's own reader.
std::optional<std::uint64_t> decimal_value(std::string_view s) {
    if (s.empty()) return std::nullopt;
    std::uint64_t value = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
        value = value * 10 + digit;
    }
    return value;
}

/// True if a strict parser must refuse the request with
/// content_length_disagrees: the encoder forwards any HTTP_CONTENT_LENGTH,
/// and one that is a number other than the body's length contradicts
/// CONTENT_LENGTH (what nginx sends with request buffering off).
bool forwarded_length_disagrees(const std::vector<scgi::header>& headers, std::size_t body_size) {
    for (const scgi::header& h : headers) {
        if (h.name != "HTTP_CONTENT_LENGTH") continue;
        const auto forwarded = decimal_value(h.value);
        return forwarded && *forwarded != body_size;
    }
    return false;
}

void check_round_trip(FuzzedDataProvider& fdp) {
    const std::string body = fdp.ConsumeRandomLengthString(512);
    const std::string length = std::to_string(body.size());
    const auto seed = fdp.ConsumeIntegral<std::uint8_t>();
    const auto scheme = fdp.ConsumeIntegral<std::uint8_t>();

    std::deque<std::string> strings;  // stable storage for the header views
    std::vector<scgi::header> headers;
    while (fdp.remaining_bytes() > 0 && headers.size() < 200) {
        const auto kind = fdp.ConsumeIntegral<std::uint8_t>();
        std::string name;
        std::string value;
        switch (kind % 8) {
        case 0:
            name = "CONTENT_LENGTH";
            value = (kind & 0x80) ? fdp.ConsumeRandomLengthString(24) : length;
            break;
        case 1:
            name = "SCGI";
            value = (kind & 0x80) ? fdp.ConsumeRandomLengthString(4) : "1";
            break;
        case 2:
            name = headers.empty() ? "REQUEST_METHOD" : std::string(headers[kind % headers.size()].name);
            value = fdp.ConsumeRandomLengthString(32);
            break;
        case 3:
            name = cgi_names[(kind >> 3) % std::size(cgi_names)];
            value = fdp.ConsumeRandomLengthString(128);
            break;
        default:
            name = fdp.ConsumeRandomLengthString(40);
            value = fdp.ConsumeRandomLengthString(128);
            break;
        }
        // Mostly valid names and values: bit 6 keeps them raw.
        if ((kind & 0x40) == 0) {
            std::erase(name, '\0');
            std::erase(value, '\0');
            if (name.empty()) name = "X";
        }
        strings.push_back(std::move(name));
        const std::string_view n = strings.back();
        strings.push_back(std::move(value));
        const std::string_view v = strings.back();
        headers.push_back({n, v});
    }

    const std::error_code expected_ec = expected_encode_error(headers, length);
    std::error_code size_ec;
    const std::size_t size = scgi::encoded_size(headers, body.size(), size_ec);
    const std::string prefix = "prefix";
    std::string out = prefix;
    const std::error_code ec = scgi::encode_request(headers, body.size(), out);
    if (ec != expected_ec || size_ec != expected_ec) {
        std::fprintf(stderr, "encode: %s, encoded_size: %s, expected %s\n", describe(ec).c_str(),
                     describe(size_ec).c_str(), describe(expected_ec).c_str());
        scgi_fuzz::check_failed("encoder error", __FILE__, __LINE__);
    }
    if (ec) {
        SCGI_FUZZ_CHECK(size == 0);
        SCGI_FUZZ_CHECK(out == prefix);  // left unchanged
        return;
    }

    // The exact expected bytes: CONTENT_LENGTH and SCGI first, then the other
    // headers in order.
    std::string block;
    const auto add = [&](std::string_view n, std::string_view v) {
        block.append(n);
        block.push_back('\0');
        block.append(v);
        block.push_back('\0');
    };
    std::vector<std::pair<std::string, std::string>> expected_headers;
    const auto expect = [&](std::string_view n, std::string_view v) {
        add(n, v);
        expected_headers.emplace_back(n, v);
    };
    expect("CONTENT_LENGTH", length);
    expect("SCGI", "1");
    for (const scgi::header& h : headers) {
        if (h.name != "CONTENT_LENGTH" && h.name != "SCGI") expect(h.name, h.value);
    }
    const std::string expected_wire = std::to_string(block.size()) + ":" + block + ",";
    const std::string_view wire = std::string_view(out).substr(prefix.size());
    if (wire != expected_wire) {
        std::fprintf(stderr, "encoded  \"%s\"\nexpected \"%s\"\n", printable(wire).c_str(),
                     printable(expected_wire).c_str());
        scgi_fuzz::check_failed("encoded bytes differ", __FILE__, __LINE__);
    }
    SCGI_FUZZ_CHECK(out.compare(0, prefix.size(), prefix) == 0);
    SCGI_FUZZ_CHECK(size == wire.size());

    // Parse back with a strict parser (default switches), in random chunks.
    scgi::parser_options options;
    // Limits exactly at the encoded sizes: a limit is inclusive.
    options.limits.header_count = expected_headers.size();
    options.limits.header_block_bytes = block.size();
    options.limits.body_bytes = body.size();
    scgi::request_parser parser(options);
    // An exact-size heap buffer, so ASan reports any read past its end.
    const std::size_t request_size = wire.size() + body.size();
    const auto request_bytes = std::make_unique<char[]>(request_size);
    std::copy(wire.begin(), wire.end(), request_bytes.get());
    std::copy(body.begin(), body.end(), request_bytes.get() + wire.size());
    const std::string_view request(request_bytes.get(), request_size);
    const std::vector<std::size_t> cuts = scgi_fuzz::make_cuts(request.size(), scheme, seed);
    std::string parsed_body;
    std::vector<std::pair<std::string, std::string>> parsed_headers;
    const bool disagrees = forwarded_length_disagrees(headers, body.size());
    std::size_t from = 0;
    std::size_t consumed = 0;
    bool done = false;
    for (std::size_t c = 0; c <= cuts.size() && !done; ++c) {
        const std::size_t to = c < cuts.size() ? cuts[c] : request.size();
        std::string_view chunk = request.substr(from, to - from);
        from = to;
        for (;;) {
            std::error_code pec;
            const std::size_t n = parser.put(chunk, pec);
            SCGI_FUZZ_CHECK(n <= chunk.size());
            chunk.remove_prefix(n);
            consumed += n;
            if (pec == error::need_more) break;
            if (pec == error::content_length_disagrees && disagrees) return;
            if (pec) {
                std::fprintf(stderr, "parse of \"%s\" failed: %s\n", printable(request).c_str(),
                             describe(pec).c_str());
                scgi_fuzz::check_failed("round trip parse failed", __FILE__, __LINE__);
            }
            if (parser.is_head_done() && parsed_headers.empty()) {
                for (const scgi::header h : parser.head()) parsed_headers.emplace_back(h.name, h.value);
            }
            parsed_body += parser.body_piece();
            if (parser.is_done()) {
                done = true;
                break;
            }
        }
    }
    SCGI_FUZZ_CHECK(!disagrees);  // refused above, or the parser let the contradiction through
    SCGI_FUZZ_CHECK(done);
    SCGI_FUZZ_CHECK(consumed == request.size());
    SCGI_FUZZ_CHECK(parsed_headers == expected_headers);
    SCGI_FUZZ_CHECK(parsed_body == body);
    SCGI_FUZZ_CHECK(parser.head().content_length() == body.size());
}

// --- response builder round trip ----------------------------------------------------

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
    return s;
}

bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (const char c : s) {
        const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) return false;
    }
    return true;
}

bool iequals(std::string_view a, std::string_view b) {
    const auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

bool has_crlf_nul(std::string_view s) { return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos; }

/// Builds a response head with set_status/add (checking their documented
/// errors, and that a failed call changes nothing), serializes it, and parses
/// it back: same status, reason and headers, up to the blank trimming that
/// parsing does. Reads the same input bytes with its own provider.
void check_response_builder(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider fdp(data, size);
    scgi::response_head head;
    const int status = fdp.ConsumeIntegralInRange<int>(0, 1099);
    const std::string reason = fdp.ConsumeRandomLengthString(64);
    std::error_code sec;
    head.set_status(status, reason, sec);
    if (status < 100 || status > 999) {
        SCGI_FUZZ_CHECK(sec == error::invalid_status);
    } else if (has_crlf_nul(reason)) {
        SCGI_FUZZ_CHECK(sec == error::invalid_header_value);
    } else {
        SCGI_FUZZ_CHECK(!sec);
    }
    if (sec) {
        SCGI_FUZZ_CHECK(head.status() == 200 && head.reason() == "OK");
    } else {
        SCGI_FUZZ_CHECK(head.status() == status);
        SCGI_FUZZ_CHECK(head.reason() == (reason.empty() ? scgi::reason_phrase(status) : std::string_view(reason)));
    }

    std::vector<std::pair<std::string, std::string>> added;
    const auto count = fdp.ConsumeIntegralInRange<int>(0, 12);
    for (int i = 0; i < count; ++i) {
        if (fdp.ConsumeBool()) {
            const auto length = fdp.ConsumeIntegral<std::uint64_t>();
            head.add_content_length(length);
            added.emplace_back("Content-Length", std::to_string(length));
            continue;
        }
        const std::string name = fdp.ConsumeRandomLengthString(24);
        const std::string value = fdp.ConsumeRandomLengthString(64);
        const std::size_t before = head.size();
        std::error_code ec;
        head.add(name, value, ec);
        if (!is_token(name) || iequals(name, "status")) {
            SCGI_FUZZ_CHECK(ec == error::invalid_header_name);
        } else if (has_crlf_nul(value)) {
            SCGI_FUZZ_CHECK(ec == error::invalid_header_value);
        } else {
            SCGI_FUZZ_CHECK(!ec);
            added.emplace_back(name, value);
        }
        SCGI_FUZZ_CHECK(head.size() == before + (ec ? 0 : 1));
    }
    SCGI_FUZZ_CHECK(head.size() == added.size());
    for (std::size_t i = 0; i < added.size(); ++i) {
        SCGI_FUZZ_CHECK(head[i].name == added[i].first && head[i].value == added[i].second);
        const auto found = head.find(added[i].first);
        SCGI_FUZZ_CHECK(found.has_value());
        std::size_t first = 0;  // the first header with that name, ignoring case
        while (!iequals(added[first].first, added[i].first)) ++first;
        SCGI_FUZZ_CHECK(*found == added[first].second);
    }

    std::string wire = "kept";
    head.serialize(wire);
    SCGI_FUZZ_CHECK(wire.size() == 4 + head.serialized_size());
    SCGI_FUZZ_CHECK(wire.starts_with("keptStatus: "));
    SCGI_FUZZ_CHECK(wire.ends_with("\r\n\r\n"));
    const std::string_view response = std::string_view(wire).substr(4);
    scgi::response_parser parser(response.size());
    std::error_code ec;
    SCGI_FUZZ_CHECK(parser.put(response, ec) == response.size());
    if (ec) {
        std::fprintf(stderr, "parse of \"%s\" failed: %s\n", printable(response).c_str(), describe(ec).c_str());
    }
    SCGI_FUZZ_CHECK(!ec && parser.is_head_done());
    const scgi::response_head& parsed = parser.head();
    SCGI_FUZZ_CHECK(parsed.status() == head.status());
    const std::string_view trimmed_reason = trim(head.reason());
    SCGI_FUZZ_CHECK(parsed.reason() ==
                    (trimmed_reason.empty() ? scgi::reason_phrase(head.status()) : trimmed_reason));
    SCGI_FUZZ_CHECK(parsed.size() == head.size());
    for (std::size_t i = 0; i < head.size(); ++i) {
        SCGI_FUZZ_CHECK(parsed[i].name == head[i].name);
        SCGI_FUZZ_CHECK(parsed[i].value == trim(head[i].value));
    }

    head.clear();
    SCGI_FUZZ_CHECK(head.status() == 200 && head.empty() && head.reason() == "OK");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider fdp(data, size);
    const std::string text = fdp.ConsumeRandomLengthString(1024);
    const std::string wanted = fdp.ConsumeRandomLengthString(64);
    check_percent_decode(text);
    check_percent_decode(wanted);
    check_query(text, wanted);
    check_round_trip(fdp);
    check_response_builder(data, size);
    return 0;
}
