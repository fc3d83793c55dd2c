// Runs the golden vectors of request/ and response/ (format: README.md).
//
// For each vector: the whole input must give the expected outcome; every split
// of it (each single split point, each pair of split points, fixed chunk
// sizes down to one byte at a time) must give the same outcome as the whole;
// and strict prefixes must give only what a prefix may give (need_more for a
// valid input, never an error the whole input does not have).

#include "response_drive.hpp"
#include "vector_file.hpp"

#include <drive.hpp>
#include <scgi/request_parser.hpp>
#include <scgi/response_parser.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace vec = scgi::test::vectors;
using scgi::test::parse_outcome;
using scgi::test::response_outcome;

// Inputs up to this size are split at every pair of points; larger ones at
// every pair of a sample of points (all near the start and end, and evenly
// spaced between).
constexpr std::size_t all_pairs_up_to = 320;
constexpr std::size_t edge_points = 48;
constexpr std::size_t middle_points = 120;
// Stop reporting split mismatches for one vector after this many.
constexpr int max_reported = 5;

// Bytes in the escape syntax of the vector files, for messages.
std::string escaped(std::string_view bytes) {
    std::string out;
    for (const char c : bytes) {
        const auto u = static_cast<unsigned char>(c);
        switch (c) {
        case '\0': out += "\\0"; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (u >= 0x20 && u < 0x7f) {
                out.push_back(c);
            } else {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned>(u));
                out += buf;
            }
        }
    }
    return out;
}

std::string describe(const std::error_code& ec) {
    if (!ec) return "ok";
    if (ec.category() == scgi::error_category()) {
        return std::string(vec::name_of(static_cast<scgi::error>(ec.value())));
    }
    return ec.category().name() + std::string(":") + ec.message();
}

std::string describe(const std::vector<std::pair<std::string, std::string>>& headers) {
    std::string out;
    for (const auto& [name, value] : headers) out += "\n    " + escaped(name) + " = " + escaped(value);
    return out;
}

std::string describe(const parse_outcome& o) {
    std::ostringstream s;
    s << "{error=" << describe(o.error) << " head_done=" << o.head_done << " done=" << o.done
      << " consumed=" << o.consumed << " content_length=" << o.content_length << " body=\""
      << escaped(o.body) << "\" headers:" << describe(o.headers) << "}";
    return s.str();
}

std::string describe(const response_outcome& o) {
    std::ostringstream s;
    s << "{error=" << describe(o.error) << " head_done=" << o.head_done << " status=" << o.status
      << " reason=\"" << escaped(o.reason) << "\" consumed=" << o.consumed << " rest=\""
      << escaped(o.rest) << "\" headers:" << describe(o.headers) << "}";
    return s.str();
}

std::string cuts_text(std::span<const std::size_t> cuts) {
    std::string out = "cuts {";
    for (std::size_t i = 0; i < cuts.size(); ++i) out += (i ? ", " : "") + std::to_string(cuts[i]);
    return out + "}";
}

std::vector<std::size_t> pair_points(std::size_t n) {
    std::vector<std::size_t> points;
    if (n < 2) return points;
    if (n <= all_pairs_up_to) {
        for (std::size_t i = 1; i < n; ++i) points.push_back(i);
        return points;
    }
    std::set<std::size_t> chosen;
    for (std::size_t i = 1; i <= edge_points; ++i) {
        chosen.insert(i);
        chosen.insert(n - i);
    }
    for (std::size_t k = 1; k <= middle_points; ++k) chosen.insert(k * n / (middle_points + 1));
    chosen.erase(0);
    chosen.erase(n);
    return {chosen.begin(), chosen.end()};
}

std::string test_name(const std::filesystem::path& p) {
    std::string name = p.filename().string();
    if (name.ends_with(".vec")) name.resize(name.size() - 4);
    for (char& c : name) {
        const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alnum) c = '_';
    }
    return name;
}

// Runs `drive(cuts)` for every split of an n-byte input and compares with
// `whole`; reports the first few mismatches.
template <class Outcome, class Drive>
void check_splits(std::size_t n, const Outcome& whole, Drive&& drive) {
    int reported = 0;
    const auto compare = [&](std::span<const std::size_t> cuts) {
        if (reported >= max_reported) return;
        const Outcome got = drive(cuts);
        if (!(got == whole)) {
            ++reported;
            ADD_FAILURE() << "split invariance broken at " << cuts_text(cuts) << "\n  got:   "
                          << describe(got) << "\n  whole: " << describe(whole);
        }
    };
    // Every single split point.
    for (std::size_t i = 1; i < n; ++i) {
        const std::size_t cut[] = {i};
        compare(cut);
    }
    // Every pair of (sampled, for long inputs) split points.
    const std::vector<std::size_t> points = pair_points(n);
    for (std::size_t a = 0; a < points.size(); ++a) {
        for (std::size_t b = a + 1; b < points.size(); ++b) {
            const std::size_t cut[] = {points[a], points[b]};
            compare(cut);
        }
    }
    // Fixed chunk sizes, down to one byte at a time.
    for (const std::size_t size : {1u, 2u, 3u, 5u, 7u, 16u, 64u}) {
        std::vector<std::size_t> cuts;
        for (std::size_t at = size; at < n; at += size) cuts.push_back(at);
        compare(cuts);
    }
}

// ---------------------------------------------------------------- files ----


// A failed parser (request or response: both have put and put_eof) stays
// failed: the same error again, and nothing consumed.
template <class Parser>
void expect_stays_failed(Parser& parser, std::string_view more, scgi::error expected) {
    std::error_code again;
    EXPECT_EQ(parser.put(more, again), 0u);
    EXPECT_EQ(again, std::error_code(expected));
    parser.put_eof(again);
    EXPECT_EQ(again, std::error_code(expected));
}

TEST(vector_files, error_table_matches_the_enum) {
    // Values are 1..N in declaration order; the table must list each once, in
    // order, so a new enumerator cannot be missing from it unnoticed.
    for (std::size_t i = 0; i < vec::error_names.size(); ++i) {
        EXPECT_EQ(static_cast<int>(vec::error_names[i].second), static_cast<int>(i) + 1)
            << vec::error_names[i].first;
        EXPECT_NE(std::error_code(vec::error_names[i].second).message(), "unknown scgi error")
            << vec::error_names[i].first;
    }
    EXPECT_EQ(std::error_code(static_cast<scgi::error>(vec::error_names.size() + 1)).message(),
              "unknown scgi error")
        << "scgi::error has an enumerator after " << vec::error_names.back().first << ": add it to error_names";
}

TEST(vector_files, are_found_and_well_named) {
    const auto request = vec::list(vec::kind::request);
    const auto response = vec::list(vec::kind::response);
    EXPECT_GE(request.size(), 45u) << "request vectors under " << SCGI_VECTORS_DIR;
    EXPECT_GE(response.size(), 10u) << "response vectors under " << SCGI_VECTORS_DIR;
    for (const auto* files : {&request, &response}) {
        std::set<std::string> numbers;
        for (const auto& p : *files) {
            const std::string name = p.filename().string();
            EXPECT_TRUE(std::filesystem::is_regular_file(p)) << p;
            const bool well_formed =
                name.size() > 8 && name.ends_with(".vec") && name[3] == '-' &&
                std::all_of(name.begin(), name.begin() + 3, [](char c) { return c >= '0' && c <= '9'; }) &&
                std::all_of(name.begin() + 4, name.end() - 4, [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
                });
            EXPECT_TRUE(well_formed) << p << ": expected NNN-short-name.vec";
            EXPECT_TRUE(numbers.insert(name.substr(0, 3)).second) << p << ": number used twice";
        }
    }
}

TEST(vector_files, cover_every_parser_error_and_switch) {
    std::set<scgi::error> request_errors;
    constexpr int switches = 4;
    bool switch_ok[switches] = {};
    bool switch_off_error[switches] = {};
    for (const auto& p : vec::list(vec::kind::request)) {
        vec::vector_file v;
        std::string problem;
        if (!vec::load(p, vec::kind::request, v, problem)) continue;  // reported by its own test
        if (v.expect == vec::expectation::error) request_errors.insert(v.expected_error);
        const bool on[switches] = {v.options.allow_missing_scgi, v.options.allow_content_length_anywhere,
                                   v.options.allow_missing_content_length,
                                   v.options.body_length_from_http_content_length};
        const scgi::error broken[switches] = {scgi::error::scgi_header_missing,
                                              scgi::error::content_length_not_first,
                                              scgi::error::content_length_missing,
                                              scgi::error::content_length_disagrees};
        for (int i = 0; i < switches; ++i) {
            if (on[i] && v.expect == vec::expectation::ok) switch_ok[i] = true;
            if (!on[i] && v.expect == vec::expectation::error && v.expected_error == broken[i]) {
                switch_off_error[i] = true;
            }
        }
    }
    using enum scgi::error;
    for (const scgi::error e :
         {length_not_digit, length_leading_zero, length_overflow, missing_colon, missing_comma,
          header_unterminated, odd_string_count, empty_name, duplicate_header, content_length_missing,
          content_length_not_first, content_length_invalid, content_length_overflow,
          content_length_duplicate, scgi_header_missing, scgi_header_invalid, header_block_too_large,
          too_many_headers, body_too_large, trailing_data, content_length_disagrees}) {
        EXPECT_TRUE(request_errors.contains(e)) << "no request vector expects " << vec::name_of(e);
    }
    for (int i = 0; i < switches; ++i) {
        EXPECT_TRUE(switch_ok[i]) << "lenient switch " << i << " has no `expect: ok` vector";
        EXPECT_TRUE(switch_off_error[i]) << "lenient switch " << i << " has no error vector without it";
    }

    std::set<scgi::error> response_errors;
    for (const auto& p : vec::list(vec::kind::response)) {
        vec::vector_file v;
        std::string problem;
        if (!vec::load(p, vec::kind::response, v, problem)) continue;
        if (v.expect == vec::expectation::error) response_errors.insert(v.expected_error);
    }
    for (const scgi::error e : {response_head_too_large, bad_status_line, bad_header_line,
                                bad_header_name, bad_header_value, obsolete_line_folding}) {
        EXPECT_TRUE(response_errors.contains(e)) << "no response vector expects " << vec::name_of(e);
    }
}

TEST(vector_files, unescape_decodes_the_documented_escapes) {
    std::string out;
    std::string problem;
    ASSERT_TRUE(vec::unescape(R"(a\027\0\x41\xff\\\n\r\t)", out, problem)) << problem;
    EXPECT_EQ(out, std::string("a\0" "27\0" "A\xff\\\n\r\t", 11));
    for (const std::string_view bad : {R"(\)", R"(\x4)", R"(\xg0)", R"(\q)", R"(\1)", R"(\")"}) {
        EXPECT_FALSE(vec::unescape(bad, out, problem)) << bad;
    }
}

TEST(vector_files, loader_refuses_malformed_files) {
    const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                      ("scgi-vectors-test-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir);
    const auto try_load = [&](std::string_view text, vec::kind what = vec::kind::request) {
        const auto path = dir / "t.vec";
        std::ofstream(path, std::ios::binary) << text;
        vec::vector_file v;
        std::string problem;
        return vec::load(path, what, v, problem);
    };
    EXPECT_TRUE(try_load("input: 0:,\nexpect: error content_length_missing\n"));
    EXPECT_TRUE(try_load("input: 0:,\nexpect: error content_length_missing\nconsumed: 3\n"));
    EXPECT_TRUE(try_load("input: x\nexpect: ok\nstatus: 200\nreason:\n", vec::kind::response));
    const std::string_view bad[] = {
        "input: 0:,\nexpect: error no_such_error\n",       // unknown error name
        "input: 0:,\nexpect: error need_more\n",           // need_more is not an error
        "input: 0:,\nexpect: fine\n",                      // unknown expectation
        "input: 0:,\n",                                    // no expectation
        "expect: ok\n",                                    // no input
        "input: 0:,\nexpect: ok\nheader: A\n",             // header without value
        "input: 0:,\nexpect: ok\nvalue: A\n",              // value without header
        "input: 0:,\nexpect: ok\nheader: A\n# c\nvalue: b\n",  // split pair
        "input: 0:,\nexpect: error empty_name\nbody: x\n",     // only consumed: after an error
        "input: 0:,\nconsumed: 1\nexpect: ok\n",               // consumed: before expect:
        "input: 0:,\noption: allow_everything\nexpect: ok\n",  // unknown option
        "input: 0:,\nlimit: header_count=x\nexpect: ok\n",     // bad number
        "input: 0:,\nlimit: header_count=1\nlimit: header_count=2\nexpect: ok\n",
        "input: 0:,\nlimit: head_bytes=1\nexpect: ok\n",       // response limit in a request
        "input: 0:,\nexpect: ok\nstatus: 200\n",               // response key in a request
        "input: \\q\nexpect: ok\n",                            // unknown escape
        "input: a \nexpect: ok\n",                             // trailing space
        "input:x\nexpect: ok\n",                               // no space after the colon
        "input: \xff\nexpect: ok\n",                           // raw non-ASCII byte
        "input: 0:,\nexpect: ok\nwhat: 1\n",                   // unknown key
        "input: 0:,\nexpect: ok",                              // no final newline
        "input: 0:,\r\nexpect: ok\r\n",                        // CRLF file
        "input: 0:,\nexpect: ok\ninput: x\n",                  // input after expect
    };
    for (const std::string_view text : bad) EXPECT_FALSE(try_load(text)) << escaped(text);
    EXPECT_FALSE(try_load("input: x\nexpect: ok\n", vec::kind::response));  // no status/reason
    EXPECT_FALSE(try_load("input: x\nexpect: ok\nstatus: 200\nreason:\nbody: x\n", vec::kind::response));
    EXPECT_FALSE(try_load("input: x\nexpect: need_more\nstatus: 200\n", vec::kind::response));
    std::filesystem::remove_all(dir);
}

// ------------------------------------------------------------- requests ----

class request_vector : public ::testing::TestWithParam<std::filesystem::path> {};

TEST_P(request_vector, parses_as_expected_in_every_split) {
    vec::vector_file v;
    std::string problem;
    ASSERT_TRUE(vec::load(GetParam(), vec::kind::request, v, problem)) << problem;
    const std::string_view input = v.input;
    SCOPED_TRACE("input: \"" + escaped(input) + "\"");

    scgi::request_parser parser(v.options);
    const parse_outcome whole = scgi::test::drive_whole(parser, input);

    // 1. The whole input gives the expected outcome.
    switch (v.expect) {
    case vec::expectation::ok:
        ASSERT_EQ(whole.error, std::error_code()) << describe(whole);
        EXPECT_TRUE(whole.head_done);
        EXPECT_TRUE(whole.done);
        EXPECT_EQ(whole.headers, v.headers) << "got:" << describe(whole.headers)
                                            << "\nexpected:" << describe(v.headers);
        EXPECT_EQ(whole.body, v.body) << escaped(whole.body);
        EXPECT_EQ(whole.content_length, v.body.size());
        EXPECT_EQ(whole.consumed, input.size());
        {
            std::error_code eof;
            parser.put_eof(eof);
            EXPECT_EQ(eof, std::error_code()) << "put_eof after a complete request";
        }
        break;
    case vec::expectation::need_more:
        ASSERT_EQ(whole.error, scgi::error::need_more) << describe(whole);
        EXPECT_FALSE(whole.done);
        EXPECT_EQ(whole.consumed, input.size());
        if (v.has_headers) {
            EXPECT_TRUE(whole.head_done);
            EXPECT_EQ(whole.headers, v.headers) << "got:" << describe(whole.headers)
                                                << "\nexpected:" << describe(v.headers);
        }
        if (v.has_body) {
            EXPECT_EQ(whole.body, v.body) << escaped(whole.body);
        }
        break;
    case vec::expectation::error:
        ASSERT_EQ(whole.error, std::error_code(v.expected_error))
            << "expected " << vec::name_of(v.expected_error) << ", got " << describe(whole);
        EXPECT_FALSE(whole.done);
        expect_stays_failed(parser, input.substr(whole.consumed), v.expected_error);
        break;
    }

    if (v.has_consumed) {
        EXPECT_EQ(whole.consumed, v.consumed) << "bytes consumed";
    }

    // 2. Split invariance.
    {
        SCOPED_TRACE("split invariance");
        scgi::request_parser warm(v.options);
        check_splits(input.size(), whole, [&](std::span<const std::size_t> cuts) {
            return scgi::test::drive(warm, input, cuts);
        });
    }

    // 3. Strict prefixes.
    SCOPED_TRACE("strict prefixes");
    int reported = 0;
    for (std::size_t k = 0; k < input.size() && reported < max_reported; ++k) {
        const std::string_view prefix = input.substr(0, k);
        const parse_outcome got = scgi::test::drive_whole(parser, prefix);
        if (v.expect != vec::expectation::error) {
            // A prefix of a valid (or still incomplete) request needs more,
            // having taken every byte, and nothing else.
            if (got.error != scgi::error::need_more || got.done || got.consumed != k) {
                ++reported;
                ADD_FAILURE() << "prefix of " << k << " bytes: " << describe(got);
                continue;
            }
            const parse_outcome at_eof = scgi::test::drive_whole(parser, prefix, true);
            if (at_eof.error != scgi::error::partial_request) {
                ++reported;
                ADD_FAILURE() << "put_eof after a prefix of " << k << " bytes: " << describe(at_eof);
            }
        } else {
            // A prefix of a refused request needs more, is a complete request
            // (the vector's trailing bytes are not there yet), or already
            // fails with the same error; never a different error.
            const bool fine = got.error == scgi::error::need_more ||
                              (!got.error && got.done) ||
                              got.error == std::error_code(v.expected_error);
            if (!fine) {
                ++reported;
                ADD_FAILURE() << "prefix of " << k << " bytes: " << describe(got);
            }
        }
    }
    if (v.expect == vec::expectation::need_more) {
        const parse_outcome at_eof = scgi::test::drive_whole(parser, input, true);
        EXPECT_EQ(at_eof.error, scgi::error::partial_request) << describe(at_eof);
    }
}

INSTANTIATE_TEST_SUITE_P(golden, request_vector,
                         ::testing::ValuesIn(vec::list(vec::kind::request)),
                         [](const auto& param_info) { return test_name(param_info.param); });

// ------------------------------------------------------------ responses ----

class response_vector : public ::testing::TestWithParam<std::filesystem::path> {};

TEST_P(response_vector, parses_as_expected_in_every_split) {
    vec::vector_file v;
    std::string problem;
    ASSERT_TRUE(vec::load(GetParam(), vec::kind::response, v, problem)) << problem;
    const std::string_view input = v.input;
    SCOPED_TRACE("input: \"" + escaped(input) + "\"");

    scgi::response_parser parser(v.head_limit);
    const response_outcome whole = scgi::test::drive_response_whole(parser, input);

    // 1. The whole input gives the expected outcome.
    switch (v.expect) {
    case vec::expectation::ok:
        ASSERT_EQ(whole.error, std::error_code()) << describe(whole);
        EXPECT_TRUE(whole.head_done);
        EXPECT_EQ(whole.status, v.status);
        EXPECT_EQ(whole.reason, v.reason);
        EXPECT_EQ(whole.headers, v.headers) << "got:" << describe(whole.headers)
                                            << "\nexpected:" << describe(v.headers);
        EXPECT_EQ(whole.rest, v.rest) << escaped(whole.rest);
        EXPECT_EQ(whole.consumed + whole.rest.size(), input.size());
        EXPECT_LE(whole.consumed, v.head_limit);
        {
            std::error_code eof;
            parser.put_eof(eof);
            EXPECT_EQ(eof, std::error_code()) << "put_eof after a complete head";
        }
        break;
    case vec::expectation::need_more:
        ASSERT_EQ(whole.error, scgi::error::need_more) << describe(whole);
        EXPECT_EQ(whole.consumed, input.size());
        break;
    case vec::expectation::error:
        ASSERT_EQ(whole.error, std::error_code(v.expected_error))
            << "expected " << vec::name_of(v.expected_error) << ", got " << describe(whole);
        if (v.expected_error == scgi::error::response_head_too_large) {
            // Consumption stops at the limit: the next byte is the offending one.
            EXPECT_EQ(whole.consumed, v.head_limit);
        }
        expect_stays_failed(parser, input, v.expected_error);
        break;
    }

    if (v.has_consumed) {
        EXPECT_EQ(whole.consumed, v.consumed) << "bytes consumed";
    }

    // 2. Split invariance.
    {
        SCOPED_TRACE("split invariance");
        scgi::response_parser warm(v.head_limit);
        check_splits(input.size(), whole, [&](std::span<const std::size_t> cuts) {
            return scgi::test::drive_response(warm, input, cuts);
        });
    }

    // 3. Strict prefixes.
    SCOPED_TRACE("strict prefixes");
    const std::size_t head_size = v.expect == vec::expectation::ok ? whole.consumed : input.size();
    int reported = 0;
    for (std::size_t k = 0; k < input.size() && reported < max_reported; ++k) {
        const std::string_view prefix = input.substr(0, k);
        const response_outcome got = scgi::test::drive_response_whole(parser, prefix);
        bool fine = false;
        if (v.expect == vec::expectation::error) {
            if (v.expected_error == scgi::error::response_head_too_large) {
                // Refused as soon as the limit is passed, not before.
                fine = k <= v.head_limit ? got.error == scgi::error::need_more
                                         : got.error == std::error_code(v.expected_error);
            } else {
                fine = got.error == scgi::error::need_more ||
                       got.error == std::error_code(v.expected_error);
            }
        } else if (k < head_size) {
            fine = got.error == scgi::error::need_more && got.consumed == k;
            if (fine) {
                const response_outcome at_eof = scgi::test::drive_response_whole(parser, prefix, true);
                fine = at_eof.error == scgi::error::partial_response;
                if (!fine) {
                    ++reported;
                    ADD_FAILURE() << "put_eof after a prefix of " << k << " bytes: " << describe(at_eof);
                    continue;
                }
            }
        } else {
            // The head is whole; only the rest is shorter.
            response_outcome expected = whole;
            expected.rest = std::string(input.substr(head_size, k - head_size));
            fine = got == expected;
        }
        if (!fine) {
            ++reported;
            ADD_FAILURE() << "prefix of " << k << " bytes: " << describe(got);
        }
    }
    if (v.expect == vec::expectation::need_more) {
        const response_outcome at_eof = scgi::test::drive_response_whole(parser, input, true);
        EXPECT_EQ(at_eof.error, scgi::error::partial_response) << describe(at_eof);
    }
}

INSTANTIATE_TEST_SUITE_P(golden, response_vector,
                         ::testing::ValuesIn(vec::list(vec::kind::response)),
                         [](const auto& param_info) { return test_name(param_info.param); });

}  // namespace
