// Properties of the codec checked on random inputs (rapidcheck): round trips,
// split invariance, robustness on arbitrary bytes, and limits.
#include <scgi/encode_request.hpp>
#include <scgi/percent_decode.hpp>
#include <scgi/query_params.hpp>
#include <scgi/request_parser.hpp>
#include <scgi/response_head.hpp>
#include <scgi/response_parser.hpp>

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "drive.hpp"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

namespace {

using scgi::test::parse_outcome;

// --- generators ---------------------------------------------------------------

// Any byte but NUL: what a header name or value may hold.
rc::Gen<char> non_nul_byte() {
    return rc::gen::suchThat(rc::gen::arbitrary<char>(), [](char c) { return c != '\0'; });
}

rc::Gen<std::string> non_nul_string() { return rc::gen::container<std::string>(non_nul_byte()); }

// Unique non-empty names that are not the two the encoder writes itself.
rc::Gen<std::vector<std::pair<std::string, std::string>>> user_headers() {
    return rc::gen::map(
        rc::gen::container<std::vector<std::pair<std::string, std::string>>>(
            rc::gen::pair(rc::gen::nonEmpty(non_nul_string()), non_nul_string())),
        [](std::vector<std::pair<std::string, std::string>> pairs) {
            std::set<std::string> seen{"CONTENT_LENGTH", "SCGI"};
            std::vector<std::pair<std::string, std::string>> unique;
            for (auto& p : pairs) {
                if (seen.insert(p.first).second) unique.push_back(std::move(p));
            }
            return unique;
        });
}

// Sorted, distinct cut positions strictly inside [0, size].
std::vector<std::size_t> cuts_for(std::size_t size) {
    auto cuts = *rc::gen::container<std::vector<std::size_t>>(rc::gen::inRange<std::size_t>(0, size + 1));
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    return cuts;
}

std::vector<scgi::header> as_views(const std::vector<std::pair<std::string, std::string>>& headers) {
    std::vector<scgi::header> views;
    for (const auto& [name, value] : headers) views.push_back({name, value});
    return views;
}

std::string encode(const std::vector<std::pair<std::string, std::string>>& headers,
                   const std::string& body) {
    std::string wire;
    const auto ec = scgi::encode_request(as_views(headers), body.size(), wire);
    RC_ASSERT(!ec);
    return wire + body;
}

// Random switches and (often small) limits.
scgi::parser_options any_options() {
    scgi::parser_options o;
    o.allow_missing_scgi = *rc::gen::arbitrary<bool>();
    o.allow_content_length_anywhere = *rc::gen::arbitrary<bool>();
    o.allow_missing_content_length = *rc::gen::arbitrary<bool>();
    o.duplicates = *rc::gen::element(scgi::duplicate_policy::reject, scgi::duplicate_policy::first_wins,
                                     scgi::duplicate_policy::last_wins);
    if (*rc::gen::arbitrary<bool>()) o.limits.header_block_bytes = *rc::gen::inRange<std::size_t>(0, 300);
    if (*rc::gen::arbitrary<bool>()) o.limits.header_count = *rc::gen::inRange<std::size_t>(0, 12);
    if (*rc::gen::arbitrary<bool>()) o.limits.body_bytes = *rc::gen::inRange<std::uint64_t>(0, 300);
    return o;
}

// A valid request, then a few random byte edits: mostly-valid inputs reach
// deep into the parser, unlike uniformly random bytes.
std::string mutated_request() {
    std::string input = encode(*user_headers(), *rc::gen::arbitrary<std::string>());
    const int edits = *rc::gen::inRange(0, 4);
    for (int i = 0; i < edits && !input.empty(); ++i) {
        const std::size_t at = *rc::gen::inRange<std::size_t>(0, input.size());
        switch (*rc::gen::inRange(0, 3)) {
        case 0: input[at] = *rc::gen::arbitrary<char>(); break;
        case 1: input.insert(at, 1, *rc::gen::arbitrary<char>()); break;
        default: input.erase(at, 1); break;
        }
    }
    return input;
}

// --- request properties -------------------------------------------------------

RC_GTEST_PROP(RequestProperties, EncodeParseRoundTrip, ()) {
    const auto headers = *user_headers();
    const auto body = *rc::gen::arbitrary<std::string>();
    const std::string wire = encode(headers, body);

    scgi::request_parser parser;
    const parse_outcome out = scgi::test::drive(parser, wire, cuts_for(wire.size()));
    RC_ASSERT(!out.error);
    RC_ASSERT(out.done);
    RC_ASSERT(out.consumed == wire.size());
    RC_ASSERT(out.body == body);
    RC_ASSERT(out.content_length == body.size());
    auto expected = headers;
    expected.insert(expected.begin(), {{"CONTENT_LENGTH", std::to_string(body.size())}, {"SCGI", "1"}});
    RC_ASSERT(out.headers == expected);
}

RC_GTEST_PROP(RequestProperties, EncodedSizeIsExact, ()) {
    const auto headers = *user_headers();
    const auto body_length = *rc::gen::arbitrary<std::uint64_t>();
    std::error_code ec;
    const std::size_t size = scgi::encoded_size(as_views(headers), body_length, ec);
    std::string wire;
    RC_ASSERT(!scgi::encode_request(as_views(headers), body_length, wire));
    RC_ASSERT(!ec);
    RC_ASSERT(size == wire.size());
}

RC_GTEST_PROP(RequestProperties, SplitInvarianceOnAnyInput, ()) {
    const scgi::parser_options options = any_options();
    const std::string input = *rc::gen::arbitrary<bool>() ? mutated_request()
                                                          : *rc::gen::arbitrary<std::string>();
    scgi::request_parser parser(options);
    const parse_outcome whole = scgi::test::drive_whole(parser, input);
    const parse_outcome split = scgi::test::drive(parser, input, cuts_for(input.size()));
    RC_ASSERT(split == whole);
    const parse_outcome bytewise = scgi::test::drive_chunks(parser, input, 1);
    RC_ASSERT(bytewise == whole);
}

RC_GTEST_PROP(RequestProperties, NeverOverConsumesOnAnyInput, ()) {
    const scgi::parser_options options = any_options();
    const std::string input = *rc::gen::arbitrary<bool>() ? mutated_request()
                                                          : *rc::gen::arbitrary<std::string>();
    scgi::request_parser parser(options);
    const parse_outcome out = scgi::test::drive(parser, input, cuts_for(input.size()), true);
    RC_ASSERT(out.consumed <= input.size());
    RC_ASSERT(out.error != scgi::error::need_more);  // eof turns it into partial_request
    RC_ASSERT(out.body.size() <= out.content_length);
    if (out.done) {
        RC_ASSERT(out.body.size() == out.content_length);
        RC_ASSERT(!out.error);
        RC_ASSERT(out.consumed == input.size());
    }
    if (out.error == scgi::error::trailing_data) RC_ASSERT(out.consumed < input.size());
}

RC_GTEST_PROP(RequestProperties, LimitsAreNeverExceeded, ()) {
    const scgi::parser_options options = any_options();
    const std::string input = mutated_request();
    scgi::request_parser parser(options);
    const parse_outcome out = scgi::test::drive(parser, input, cuts_for(input.size()));
    if (out.head_done) {
        RC_ASSERT(out.headers.size() <= options.limits.header_count);
        RC_ASSERT(out.content_length <= options.limits.body_bytes);
        const std::size_t declared = std::stoul(input.substr(0, input.find(':')));
        RC_ASSERT(declared <= options.limits.header_block_bytes);
    }
}

RC_GTEST_PROP(RequestProperties, LimitsHoldExactlyAtTheBoundary, ()) {
    const auto headers = *user_headers();
    const auto body = *rc::gen::arbitrary<std::string>();
    const std::string wire = encode(headers, body);
    const std::size_t block = std::stoul(wire.substr(0, wire.find(':')));
    const std::size_t count = headers.size() + 2;

    scgi::parser_options at;
    at.limits = {block, count, body.size()};
    scgi::request_parser exact(at);
    RC_ASSERT(!scgi::test::drive_whole(exact, wire).error);

    // Each limit one below the request: that limit's error.
    scgi::parser_options below = at;
    below.limits.header_count = count - 1;
    scgi::request_parser few(below);
    RC_ASSERT(scgi::test::drive_whole(few, wire).error == scgi::error::too_many_headers);
    below = at;
    below.limits.header_block_bytes = block - 1;
    scgi::request_parser small(below);
    RC_ASSERT(scgi::test::drive_whole(small, wire).error == scgi::error::header_block_too_large);
    if (!body.empty()) {
        below = at;
        below.limits.body_bytes = body.size() - 1;
        scgi::request_parser short_body(below);
        RC_ASSERT(scgi::test::drive_whole(short_body, wire).error == scgi::error::body_too_large);
    }
}

// --- response properties ------------------------------------------------------

rc::Gen<char> token_char() {
    return rc::gen::element('a', 'Z', '0', '9', '-', '_', '.', '!', '~', '*', '\'', '|', '`', '^', '#',
                            '$', '%', '&', '+');
}

// Field values: any byte but CR, LF and NUL, without leading or trailing
// blanks (the parser trims them, as HTTP says).
rc::Gen<std::string> field_value() {
    return rc::gen::map(rc::gen::container<std::string>(rc::gen::suchThat(
                            rc::gen::arbitrary<char>(),
                            [](char c) { return c != '\r' && c != '\n' && c != '\0'; })),
                        [](std::string s) {
                            while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.erase(0, 1);
                            while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
                            return s;
                        });
}

RC_GTEST_PROP(ResponseProperties, WriteParseRoundTrip, ()) {
    scgi::response_head written;
    const int status = *rc::gen::inRange(100, 1000);
    const std::string reason = *field_value();
    written.set_status(status, reason);
    const auto names = *rc::gen::container<std::vector<std::string>>(
        rc::gen::nonEmpty(rc::gen::container<std::string>(token_char())));
    std::vector<std::pair<std::string, std::string>> expected;
    for (const auto& name : names) {
        std::string lower = name;
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (lower == "status") continue;
        const std::string value = *field_value();
        written.add(name, value);
        expected.emplace_back(name, value);
    }
    std::string wire;
    written.serialize(wire);
    const std::string body = *rc::gen::arbitrary<std::string>();
    wire += body;

    for (const auto& cuts : {std::vector<std::size_t>{}, cuts_for(wire.size())}) {
        scgi::response_parser parser;
        std::error_code ec;
        std::size_t from = 0;
        std::size_t consumed = 0;
        for (std::size_t i = 0; i <= cuts.size() && !parser.is_head_done(); ++i) {
            const std::size_t to = i < cuts.size() ? cuts[i] : wire.size();
            consumed += parser.put(std::string_view(wire).substr(from, to - from), ec);
            from = to;
            RC_ASSERT(!ec || ec == scgi::error::need_more);
        }
        RC_ASSERT(parser.is_head_done());
        RC_ASSERT(wire.substr(consumed) == body);
        RC_ASSERT(parser.head().status() == status);
        RC_ASSERT(parser.head().reason() == written.reason());
        std::vector<std::pair<std::string, std::string>> got;
        for (const scgi::header h : parser.head()) got.emplace_back(h.name, h.value);
        RC_ASSERT(got == expected);
    }
}

RC_GTEST_PROP(ResponseProperties, SplitInvarianceOnAnyInput, (const std::string& input)) {
    const std::size_t limit = *rc::gen::inRange<std::size_t>(0, 200);
    const auto run = [&](const std::vector<std::size_t>& cuts) {
        scgi::response_parser parser(limit);
        std::error_code ec;
        std::size_t from = 0;
        std::size_t consumed = 0;
        for (std::size_t i = 0; i <= cuts.size(); ++i) {
            const std::size_t to = i < cuts.size() ? cuts[i] : input.size();
            const std::string_view chunk = std::string_view(input).substr(from, to - from);
            const std::size_t n = parser.put(chunk, ec);
            RC_ASSERT(n <= chunk.size());
            consumed += n;
            from = to;
            if (ec != scgi::error::need_more) break;
        }
        std::string summary = ec.message() + "|" + std::to_string(consumed);
        if (parser.is_head_done()) {
            RC_ASSERT(parser.head().status() >= 100 && parser.head().status() <= 999);
            summary += "|" + std::to_string(parser.head().status()) + std::string(parser.head().reason());
            for (const scgi::header h : parser.head()) {
                summary += "|" + std::string(h.name) + "=" + std::string(h.value);
            }
        }
        return summary;
    };
    RC_ASSERT(run(cuts_for(input.size())) == run({}));
}

// --- URI helpers --------------------------------------------------------------

std::string percent_encode_all(const std::string& bytes) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (const char c : bytes) {
        const auto byte = static_cast<unsigned char>(c);
        out += '%';
        out += hex[byte >> 4];
        out += hex[byte & 15];
    }
    return out;
}

RC_GTEST_PROP(UriProperties, PercentDecodeInvertsEncoding, (const std::string& bytes)) {
    std::string decoded;
    RC_ASSERT(!scgi::percent_decode(percent_encode_all(bytes), decoded));
    RC_ASSERT(decoded == bytes);
}

RC_GTEST_PROP(UriProperties, DecodingNeverLengthens, (const std::string& input)) {
    std::string out;
    const auto ec = scgi::percent_decode(input, out, scgi::plus_decoding::to_space);
    if (ec) {
        RC_ASSERT(ec == scgi::error::bad_percent_encoding);
        RC_ASSERT(out.empty());
    } else {
        RC_ASSERT(out.size() <= input.size());
    }
}

RC_GTEST_PROP(UriProperties, QueryRoundTrip,
              (const std::vector<std::pair<std::string, std::string>>& params)) {
    std::string query;
    for (const auto& [name, value] : params) {
        if (!query.empty()) query += '&';
        query += percent_encode_all(name) + "=" + percent_encode_all(value);
    }
    std::vector<std::pair<std::string, std::string>> decoded;
    RC_ASSERT(!scgi::decode_query(query, decoded));
    // A pair whose name and value are both empty encodes to "=", which is kept.
    RC_ASSERT(decoded == params);
}

}  // namespace
