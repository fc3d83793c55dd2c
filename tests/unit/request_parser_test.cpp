#include <scgi/request_parser.hpp>

#include <scgi/encode_request.hpp>
#include <scgi/detail/name_table.hpp>

#include <gtest/gtest.h>

#include "drive.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

// Counting allocator for the whole test binary: lets a test assert that a
// warm parser does not touch the heap.
namespace {
std::atomic<long> allocations{0};
}  // namespace

// g++ 12 flags free() in a replaced operator delete as mismatched with new
// (-Wmismatched-new-delete), though both replacements use malloc/free.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

void* operator new(std::size_t size) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

using namespace std::string_literals;
using scgi::error;
using scgi::test::drive_chunks;
using scgi::test::drive_whole;

// The protocol document's own example: a 70-byte header block.
const std::string deepthought =
    "70:"
    "CONTENT_LENGTH\0"s "27\0"s
    "SCGI\0"s "1\0"s
    "REQUEST_METHOD\0"s "POST\0"s
    "REQUEST_URI\0"s "/deepthought\0"s
    ","
    "What is the answer to life?";

// A request with the given header block (without framing) and body.
std::string frame(const std::string& block, const std::string& body = {}) {
    return std::to_string(block.size()) + ":" + block + "," + body;
}

std::string minimal_block(std::size_t content_length = 0) {
    return "CONTENT_LENGTH\0"s + std::to_string(content_length) + "\0SCGI\0001\0"s;
}

std::error_code parse_error(const std::string& input, scgi::parser_options options = {}) {
    scgi::request_parser parser(options);
    return drive_whole(parser, input).error;
}

TEST(RequestParser, ProtocolExample) {
    scgi::request_parser parser;
    std::error_code ec;
    std::string_view input = deepthought;

    // The head: consumption stops right after the ','.
    std::size_t n = parser.put(input, ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(n, 3u + 70u + 1u);
    EXPECT_TRUE(parser.is_head_done());
    EXPECT_FALSE(parser.is_done());
    EXPECT_TRUE(parser.body_piece().empty());
    const scgi::request_head& head = parser.head();
    ASSERT_EQ(head.size(), 4u);
    EXPECT_EQ(head[0], (scgi::header{"CONTENT_LENGTH", "27"}));
    EXPECT_EQ(head[1], (scgi::header{"SCGI", "1"}));
    EXPECT_EQ(head[2], (scgi::header{"REQUEST_METHOD", "POST"}));
    EXPECT_EQ(head[3], (scgi::header{"REQUEST_URI", "/deepthought"}));
    EXPECT_EQ(head.content_length(), 27u);
    EXPECT_EQ(parser.body_remaining(), 27u);
    input.remove_prefix(n);

    // The body, as a view into the caller's bytes.
    n = parser.put(input, ec);
    ASSERT_FALSE(ec);
    EXPECT_EQ(n, 27u);
    EXPECT_EQ(parser.body_piece(), "What is the answer to life?");
    EXPECT_EQ(parser.body_piece().data(), input.data());
    EXPECT_TRUE(parser.is_done());
    EXPECT_EQ(parser.body_remaining(), 0u);

    // Nothing more is expected; an empty put is harmless.
    EXPECT_EQ(parser.put({}, ec), 0u);
    EXPECT_FALSE(ec);
    parser.put_eof(ec);
    EXPECT_FALSE(ec);
}

TEST(RequestParser, NeedMoreIsTheOnlyOutcomeOfAPrefix) {
    scgi::request_parser parser;
    for (std::size_t size = 0; size < deepthought.size(); ++size) {
        const auto out = drive_whole(parser, std::string_view(deepthought).substr(0, size));
        EXPECT_EQ(out.error, error::need_more) << size;
        EXPECT_EQ(out.consumed, size);
    }
}

TEST(RequestParser, ByteAtATimeEqualsWhole) {
    scgi::request_parser parser;
    const auto whole = drive_whole(parser, deepthought);
    EXPECT_FALSE(whole.error);
    EXPECT_TRUE(whole.done);
    EXPECT_EQ(whole.body, "What is the answer to life?");
    for (std::size_t chunk = 1; chunk < deepthought.size(); ++chunk) {
        EXPECT_EQ(drive_chunks(parser, deepthought, chunk), whole) << chunk;
    }
}

TEST(RequestParser, NeedMoreOnEmptyInput) {
    scgi::request_parser parser;
    std::error_code ec;
    EXPECT_EQ(parser.put({}, ec), 0u);
    EXPECT_EQ(ec, error::need_more);
    EXPECT_FALSE(parser.is_started());
    EXPECT_EQ(parser.put("7", ec), 1u);
    EXPECT_EQ(ec, error::need_more);
    EXPECT_TRUE(parser.is_started());
}

TEST(RequestParser, BodyInPiecesNeverPastContentLength) {
    scgi::request_parser parser;
    std::error_code ec;
    const std::string input = frame(minimal_block(10), "0123456789EXTRA");
    std::string_view rest = input;
    rest.remove_prefix(parser.put(rest, ec));
    ASSERT_TRUE(parser.is_head_done());

    EXPECT_EQ(parser.put(rest.substr(0, 4), ec), 4u);
    EXPECT_FALSE(ec);  // a piece was delivered: not need_more
    EXPECT_EQ(parser.body_piece(), "0123");
    EXPECT_EQ(parser.body_remaining(), 6u);
    rest.remove_prefix(4);

    EXPECT_EQ(parser.put({}, ec), 0u);
    EXPECT_EQ(ec, error::need_more);
    EXPECT_TRUE(parser.body_piece().empty());

    // The rest of the body and bytes past it arrive together: only the body
    // is consumed.
    EXPECT_EQ(parser.put(rest, ec), 6u);
    EXPECT_FALSE(ec);
    EXPECT_EQ(parser.body_piece(), "456789");
    EXPECT_TRUE(parser.is_done());
    rest.remove_prefix(6);
    EXPECT_EQ(rest, "EXTRA");

    EXPECT_EQ(parser.put(rest, ec), 0u);
    EXPECT_EQ(ec, error::trailing_data);
    EXPECT_EQ(ec, scgi::condition::protocol_violation);
}

TEST(RequestParser, TrailingDataAfterEmptyBody) {
    scgi::request_parser parser;
    const auto out = drive_whole(parser, frame(minimal_block()) + "x");
    EXPECT_TRUE(out.head_done);
    EXPECT_FALSE(out.done);  // the parser has failed since
    EXPECT_EQ(out.error, error::trailing_data);
    EXPECT_EQ(out.consumed, frame(minimal_block()).size());
}

TEST(RequestParser, ErrorsAreSticky) {
    scgi::request_parser parser;
    std::error_code ec;
    EXPECT_EQ(parser.put("x", ec), 0u);
    EXPECT_EQ(ec, error::length_not_digit);
    EXPECT_EQ(parser.put("1:", ec), 0u);
    EXPECT_EQ(ec, error::length_not_digit);
    parser.put_eof(ec);
    EXPECT_EQ(ec, error::length_not_digit);
    EXPECT_FALSE(parser.is_head_done());
    parser.reset();
    EXPECT_EQ(drive_whole(parser, deepthought).error, std::error_code());
}

TEST(RequestParser, EofBeforeTheEnd) {
    scgi::request_parser parser;
    std::error_code ec;
    parser.put_eof(ec);
    EXPECT_EQ(ec, error::partial_request);
    EXPECT_EQ(ec, scgi::condition::protocol_violation);

    // Mid-body: the head is known but the body is short.
    const auto out = drive_whole(parser, deepthought.substr(0, deepthought.size() - 1), true);
    EXPECT_TRUE(out.head_done);
    EXPECT_FALSE(out.done);
    EXPECT_EQ(out.error, error::partial_request);
}

TEST(RequestParser, LengthPrefixErrorsAtTheOffendingByte) {
    scgi::request_parser parser;
    std::error_code ec;
    EXPECT_EQ(parser.put("12x", ec), 2u);
    EXPECT_EQ(ec, error::missing_colon);

    parser.reset();
    EXPECT_EQ(parser.put("07:", ec), 1u);
    EXPECT_EQ(ec, error::length_leading_zero);

    parser.reset();
    EXPECT_EQ(parser.put(":", ec), 0u);
    EXPECT_EQ(ec, error::length_not_digit);

    parser.reset();
    EXPECT_EQ(parser.put("-1:", ec), 0u);
    EXPECT_EQ(ec, error::length_not_digit);

    parser.reset();
    EXPECT_EQ(parser.put(" 1:", ec), 0u);
    EXPECT_EQ(ec, error::length_not_digit);
}

TEST(RequestParser, ZeroLengthBlock) {
    EXPECT_EQ(parse_error("0:,"), error::content_length_missing);
    scgi::parser_options lenient;
    lenient.allow_missing_content_length = true;
    lenient.allow_missing_scgi = true;
    scgi::request_parser parser(lenient);
    const auto out = drive_whole(parser, "0:,");
    EXPECT_FALSE(out.error);
    EXPECT_TRUE(out.done);
    EXPECT_TRUE(out.headers.empty());
    EXPECT_EQ(out.content_length, 0u);
}

TEST(RequestParser, LengthOverflow) {
    scgi::parser_options options;
    options.limits.header_block_bytes = scgi::limits::max_header_block_bytes;
    EXPECT_EQ(parse_error("99999999999999999999999:", options), error::length_overflow);
    EXPECT_EQ(parse_error(std::to_string(scgi::limits::max_header_block_bytes + 1) + ":", options),
              error::length_overflow);
    // At the maximum itself the length is fine (only the block is missing).
    EXPECT_EQ(parse_error(std::to_string(scgi::limits::max_header_block_bytes) + ":", options),
              error::need_more);
    // Under a smaller limit the same digits pass the limit first.
    EXPECT_EQ(parse_error("99999999999999999999999:"), error::header_block_too_large);
}

TEST(RequestParser, ConstructorRefusesAnImpossibleLimit) {
    scgi::parser_options options;
    options.limits.header_block_bytes = scgi::limits::max_header_block_bytes + 1;
    EXPECT_THROW(scgi::request_parser{options}, std::invalid_argument);
    options.limits.header_block_bytes = scgi::limits::max_header_block_bytes;
    EXPECT_NO_THROW(scgi::request_parser{options});
}

TEST(RequestParser, FramingErrors) {
    EXPECT_EQ(parse_error("3:a\0b;"s), error::missing_comma);
    // The declared length is one short: the ',' is not where it must be.
    EXPECT_EQ(parse_error("16:CONTENT_LENGTH\0000\0,"s), error::missing_comma);
    EXPECT_EQ(parse_error("2:ab,"s), error::header_unterminated);
    EXPECT_EQ(parse_error(frame("CONTENT_LENGTH\0"s)), error::odd_string_count);
    EXPECT_EQ(parse_error(frame("\0x\0"s)), error::empty_name);
    EXPECT_EQ(parse_error(frame(minimal_block() + "\0\0"s)), error::empty_name);
}

TEST(RequestParser, ContentLengthRules) {
    EXPECT_EQ(parse_error(frame("SCGI\0001\0CONTENT_LENGTH\0000\0"s)), error::content_length_not_first);
    EXPECT_EQ(parse_error(frame("SCGI\0001\0"s)), error::content_length_missing);
    EXPECT_EQ(parse_error(frame("CONTENT_LENGTH\0\0SCGI\0001\0"s)), error::content_length_invalid);
    EXPECT_EQ(parse_error(frame("CONTENT_LENGTH\0+1\0SCGI\0001\0"s)), error::content_length_invalid);
    EXPECT_EQ(parse_error(frame("CONTENT_LENGTH\0 1\0SCGI\0001\0"s)), error::content_length_invalid);
    EXPECT_EQ(parse_error(frame("CONTENT_LENGTH\0001a\0SCGI\0001\0"s)), error::content_length_invalid);
    EXPECT_EQ(parse_error(frame("CONTENT_LENGTH\00018446744073709551616\0SCGI\0001\0"s)),
              error::content_length_overflow);
    // A non-digit wins over overflow, wherever it is.
    EXPECT_EQ(parse_error(frame("CONTENT_LENGTH\00099999999999999999999x\0SCGI\0001\0"s)),
              error::content_length_invalid);
    // 2^64 - 1 fits (and is refused by nothing but a body limit).
    scgi::request_parser parser;
    const auto out = drive_whole(parser, frame("CONTENT_LENGTH\00018446744073709551615\0SCGI\0001\0"s));
    EXPECT_EQ(out.error, error::need_more);  // the head is fine; the body is to come
    EXPECT_TRUE(out.head_done);
    EXPECT_EQ(out.content_length, 18446744073709551615u);
    // Leading zeros are digits.
    EXPECT_EQ(drive_whole(parser, frame("CONTENT_LENGTH\000007\0SCGI\0001\0"s, "1234567")).body, "1234567");
}

TEST(RequestParser, DuplicateContentLengthIsAlwaysRefused) {
    const std::string input = frame("CONTENT_LENGTH\0001\0SCGI\0001\0CONTENT_LENGTH\0002\0"s, "x");
    for (auto policy : {scgi::duplicate_policy::reject, scgi::duplicate_policy::first_wins,
                        scgi::duplicate_policy::last_wins}) {
        scgi::parser_options options;
        options.duplicates = policy;
        options.allow_content_length_anywhere = true;
        EXPECT_EQ(parse_error(input, options), error::content_length_duplicate);
    }
}

TEST(RequestParser, DuplicatePolicies) {
    const std::string input = frame(minimal_block() + "A\0001\0B\0002\0A\0003\0C\0004\0A\0005\0"s);
    EXPECT_EQ(parse_error(input), error::duplicate_header);

    scgi::parser_options options;
    options.duplicates = scgi::duplicate_policy::first_wins;
    scgi::request_parser first(options);
    auto out = drive_whole(first, input);
    ASSERT_FALSE(out.error);
    ASSERT_EQ(out.headers.size(), 5u);
    EXPECT_EQ(out.headers[2], (std::pair<std::string, std::string>{"A", "1"}));
    EXPECT_EQ(out.headers[3], (std::pair<std::string, std::string>{"B", "2"}));
    EXPECT_EQ(out.headers[4], (std::pair<std::string, std::string>{"C", "4"}));

    options.duplicates = scgi::duplicate_policy::last_wins;
    scgi::request_parser last(options);
    out = drive_whole(last, input);
    ASSERT_FALSE(out.error);
    ASSERT_EQ(out.headers.size(), 5u);
    EXPECT_EQ(out.headers[2], (std::pair<std::string, std::string>{"A", "5"}));  // first position
    EXPECT_EQ(out.headers[4], (std::pair<std::string, std::string>{"C", "4"}));
}

TEST(RequestParser, DuplicatesAmongManyHeaders) {
    // Enough names to exercise hash collisions and table wrap-around.
    std::string block = minimal_block();
    for (int i = 0; i < 400; ++i) block += "HTTP_X_" + std::to_string(i) + "\0v\0"s;
    scgi::request_parser parser;
    EXPECT_FALSE(drive_whole(parser, frame(block)).error);
    EXPECT_EQ(parse_error(frame(block + "HTTP_X_399\0w\0"s)), error::duplicate_header);
    EXPECT_EQ(parse_error(frame(block + "HTTP_X_0\0w\0"s)), error::duplicate_header);
    EXPECT_FALSE(drive_whole(parser, frame(block + "HTTP_X_400\0w\0"s)).error);
}

// The duplicate policy as documented, written the obvious way: the error
// reported is the first duplicate met in received order.
struct policy_result {
    std::error_code error;
    std::vector<std::pair<std::string, std::string>> kept;
};
policy_result apply_policy(const std::vector<std::pair<std::string, std::string>>& pairs,
                           scgi::duplicate_policy policy) {
    policy_result r;
    for (const auto& pair : pairs) {
        const std::string& name = pair.first;  // not a binding: clang 14 cannot capture those
        const std::string& value = pair.second;
        auto earlier = std::find_if(r.kept.begin(), r.kept.end(), [&](const auto& k) { return k.first == name; });
        if (earlier == r.kept.end()) {
            r.kept.emplace_back(name, value);
            continue;
        }
        if (r.error) continue;
        if (name == "CONTENT_LENGTH") {
            r.error = error::content_length_duplicate;
        } else if (policy == scgi::duplicate_policy::reject) {
            r.error = error::duplicate_header;
        } else if (policy == scgi::duplicate_policy::last_wins) {
            earlier->second = value;
        }
    }
    return r;
}

// Names that share length, first 8 and last 8 bytes hash alike, so the
// parser's filter hits for each and it switches to its table keyed by a
// seeded hash of whole names. Outcomes must not change with the path taken.
TEST(RequestParser, CollidingNamesGiveTheSameOutcomes) {
    const auto colliding = [](int i) {
        char middle[4];
        std::snprintf(middle, sizeof middle, "%03d", i);
        return "HTTP_X_A" + std::string(middle) + "_TAIL_XX";
    };
    ASSERT_EQ(scgi::detail::hash_name(colliding(1)), scgi::detail::hash_name(colliding(2)));
    const auto distinct = [](int i) { return "H" + std::to_string(i); };  // the fast path

    std::uint32_t seed = 12345;
    const auto next = [&] { return seed = seed * 1103515245u + 12345u, (seed >> 16) % 1000u; };
    for (int round = 0; round < 40; ++round) {
        // 60 pairs over 40 names: duplicates likely, sometimes a second
        // CONTENT_LENGTH among them.
        std::vector<std::pair<int, std::string>> picks;
        for (int i = 0; i < 60; ++i) picks.emplace_back(static_cast<int>(next() % 40), std::to_string(i));
        const bool second_length = round % 4 == 3;
        for (const auto& make_name : {std::function<std::string(int)>(colliding),
                                      std::function<std::string(int)>(distinct)}) {
            std::vector<std::pair<std::string, std::string>> pairs{{"CONTENT_LENGTH", "0"}, {"SCGI", "1"}};
            for (const auto& [n, v] : picks) pairs.emplace_back(make_name(n), v);
            if (second_length) pairs.insert(pairs.begin() + 40, {"CONTENT_LENGTH", "0"});
            std::string block;
            for (const auto& [n, v] : pairs) block += n + '\0' + v + '\0';

            for (auto policy : {scgi::duplicate_policy::reject, scgi::duplicate_policy::first_wins,
                                scgi::duplicate_policy::last_wins}) {
                const policy_result expected = apply_policy(pairs, policy);
                scgi::parser_options options;
                options.duplicates = policy;
                scgi::request_parser parser(options);
                const auto out = drive_whole(parser, frame(block));
                SCOPED_TRACE("round " + std::to_string(round) + " policy " +
                             std::to_string(static_cast<int>(policy)) + " first name " + pairs[2].first);
                EXPECT_EQ(out.error, expected.error);
                if (!expected.error) {
                    EXPECT_EQ(out.headers, expected.kept);
                }
            }
        }
    }
}

// What nginx forwards for a request with 2,000 small headers (27 KB): within
// the 64 KiB byte limit, so accepted by default, in received order.
TEST(RequestParser, ThousandsOfHeadersWithinTheByteLimitPassByDefault) {
    std::string block = minimal_block();
    for (int i = 0; i < 2000; ++i) block += "HTTP_X" + std::to_string(i) + "\0"s + std::to_string(i % 10) + '\0';
    ASSERT_LT(block.size(), 27u * 1024u);
    scgi::request_parser parser;
    const auto out = drive_whole(parser, frame(block));
    ASSERT_FALSE(out.error) << out.error.message();
    ASSERT_EQ(parser.head().size(), 2002u);
    EXPECT_EQ(parser.head()[2001], (scgi::header{"HTTP_X1999", "9"}));
    EXPECT_EQ(parser.head().http_header("X1234"), "4");
}

// The most headers a 64 KiB block can hold: 1- and 2-byte names with empty
// values, 3 and 4 bytes each. All pass; one duplicate anywhere is found,
// and the policies keep the documented value.
TEST(RequestParser, SmallestHeadersFillingTheByteLimit) {
    const scgi::limits defaults;
    std::vector<std::pair<std::string, std::string>> pairs{{"CONTENT_LENGTH", "0"}, {"SCGI", "1"}};
    std::size_t size = 14 + 1 + 1 + 1 + 4 + 1 + 1 + 1;
    for (unsigned i = 1; size + 16 <= defaults.header_block_bytes; ++i) {  // room for the repeat below
        std::string name;
        for (unsigned v = i; v != 0; v /= 255) name += static_cast<char>(1 + v % 255);  // never NUL
        if (name == "SCGI") continue;
        size += name.size() + 2;
        pairs.emplace_back(name, "");
    }
    const auto block_of = [](const std::vector<std::pair<std::string, std::string>>& list) {
        std::string block;
        for (const auto& [n, v] : list) block += n + '\0' + v + '\0';
        return block;
    };
    const std::string block = block_of(pairs);
    ASSERT_LE(block.size(), defaults.header_block_bytes);
    ASSERT_GT(pairs.size(), 16000u);
    scgi::request_parser parser;
    const auto out = drive_whole(parser, frame(block));
    ASSERT_FALSE(out.error) << out.error.message();
    EXPECT_EQ(parser.head().size(), pairs.size());

    // A repeat of an early name near the end, under each policy.
    auto repeated = pairs;
    repeated.back() = {pairs[100].first, "late"};
    for (auto policy : {scgi::duplicate_policy::reject, scgi::duplicate_policy::first_wins,
                        scgi::duplicate_policy::last_wins}) {
        scgi::parser_options options;
        options.duplicates = policy;
        scgi::request_parser p(options);
        const auto got = drive_whole(p, frame(block_of(repeated)));
        if (policy == scgi::duplicate_policy::reject) {
            EXPECT_EQ(got.error, error::duplicate_header);
            continue;
        }
        ASSERT_FALSE(got.error) << got.error.message();
        EXPECT_EQ(p.head().size(), pairs.size() - 1);
        EXPECT_EQ(p.head()[100].value, policy == scgi::duplicate_policy::last_wins ? "late" : "");
    }
}

// Entry storage for thousands of headers is not kept for every later request.
TEST(RequestParser, ResetReleasesWhatAHugeHeadNeeded) {
    scgi::request_parser parser;
    std::string huge = minimal_block();
    for (int i = 0; i < 5000; ++i) huge += "H" + std::to_string(i) + "\0\0"s;
    std::string small = minimal_block();
    for (int i = 0; i < 30; ++i) small += "HTTP_HEADER_" + std::to_string(i) + "\0value\0"s;
    ASSERT_TRUE(drive_whole(parser, frame(small)).done);
    ASSERT_TRUE(drive_whole(parser, frame(huge)).done);
    parser.reset();
    long before = allocations.load();
    ASSERT_TRUE(drive_whole(parser, frame(small)).done);
    EXPECT_GT(allocations.load() - before, 0) << "the huge head's entries were kept";
    parser.reset();
    const std::string input = frame(small);
    std::error_code ec;
    before = allocations.load();
    EXPECT_EQ(parser.put(input, ec), input.size());
    EXPECT_FALSE(ec);
    EXPECT_EQ(allocations.load() - before, 0) << "a warm parser allocates for an ordinary head";
}

TEST(RequestParser, CollidingNamesKeepTheStructureErrorsFirst) {
    std::string block = minimal_block();
    for (int i = 0; i < 40; ++i) block += "HTTP_X_A" + std::to_string(100 + i % 20) + "_TAIL_XX\0v\0"s;
    EXPECT_EQ(parse_error(frame(block)), error::duplicate_header);
    EXPECT_EQ(parse_error(frame(block + "\0v\0"s)), error::empty_name);
    EXPECT_EQ(parse_error(frame(block + "odd\0"s)), error::odd_string_count);
    scgi::parser_options options;
    options.limits.header_count = 41;
    EXPECT_EQ(parse_error(frame(block), options), error::too_many_headers);
}

TEST(RequestParser, ScgiHeaderRules) {
    EXPECT_EQ(parse_error(frame("CONTENT_LENGTH\0000\0"s)), error::scgi_header_missing);
    EXPECT_EQ(parse_error(frame("CONTENT_LENGTH\0000\0SCGI\0002\0"s)), error::scgi_header_invalid);
    EXPECT_EQ(parse_error(frame("CONTENT_LENGTH\0000\0SCGI\0\0"s)), error::scgi_header_invalid);
    EXPECT_EQ(parse_error(frame("CONTENT_LENGTH\0000\0SCGI\00011\0"s)), error::scgi_header_invalid);
    // Names are case-sensitive: "scgi" is some other header.
    EXPECT_EQ(parse_error(frame("CONTENT_LENGTH\0000\0scgi\0001\0"s)), error::scgi_header_missing);

    scgi::parser_options options;
    options.allow_missing_scgi = true;
    EXPECT_FALSE(parse_error(frame("CONTENT_LENGTH\0000\0"s), options));
    // The switch allows absence, not a wrong value.
    EXPECT_EQ(parse_error(frame("CONTENT_LENGTH\0000\0SCGI\0002\0"s), options), error::scgi_header_invalid);
}

TEST(RequestParser, LenientContentLength) {
    scgi::parser_options anywhere;
    anywhere.allow_content_length_anywhere = true;
    scgi::request_parser parser(anywhere);
    auto out = drive_whole(parser, frame("SCGI\0001\0CONTENT_LENGTH\0002\0"s, "hi"));
    EXPECT_FALSE(out.error);
    EXPECT_EQ(out.body, "hi");
    // Not first is allowed; missing is another switch.
    EXPECT_EQ(drive_whole(parser, frame("SCGI\0001\0"s)).error, error::content_length_missing);

    scgi::parser_options missing;
    missing.allow_missing_content_length = true;
    scgi::request_parser lenient(missing);
    out = drive_whole(lenient, frame("SCGI\0001\0REQUEST_METHOD\0GET\0"s));
    EXPECT_FALSE(out.error);
    EXPECT_TRUE(out.done);
    EXPECT_EQ(out.content_length, 0u);
    // Missing is allowed; present but not first is still refused.
    EXPECT_EQ(drive_whole(lenient, frame("SCGI\0001\0CONTENT_LENGTH\0000\0"s)).error,
              error::content_length_not_first);
}

TEST(RequestParser, ErrorOrder) {
    // Structure before duplicates before CONTENT_LENGTH before SCGI.
    EXPECT_EQ(parse_error(frame("A\0001\0A\0001\0B\0"s)), error::odd_string_count);
    EXPECT_EQ(parse_error(frame("A\0001\0A\0001\0"s)), error::duplicate_header);
    EXPECT_EQ(parse_error(frame("A\0001\0"s)), error::content_length_missing);
    EXPECT_EQ(parse_error(frame("A\0001\0CONTENT_LENGTH\0x\0"s)), error::content_length_not_first);
    // A missing ',' wins over a bad block: the length itself is wrong.
    EXPECT_EQ(parse_error("5:abcdeX"), error::missing_comma);
}

TEST(RequestParser, HeaderBlockLimitAtTheBoundary) {
    const std::string block = minimal_block();
    scgi::parser_options options;
    options.limits.header_block_bytes = block.size();
    EXPECT_FALSE(parse_error(frame(block), options));
    const std::string bigger = minimal_block() + "A\0\0"s;
    options.limits.header_block_bytes = bigger.size() - 1;
    EXPECT_EQ(parse_error(frame(bigger), options), error::header_block_too_large);
    EXPECT_EQ(parse_error(frame(bigger), options), scgi::condition::limit_exceeded);

    // Refused at the digit that passes the limit, before any block byte.
    scgi::request_parser parser(options);
    std::error_code ec;
    const std::string prefix = std::to_string(bigger.size());
    EXPECT_EQ(parser.put(prefix, ec), prefix.size() - 1);
    EXPECT_EQ(ec, error::header_block_too_large);

    options.limits.header_block_bytes = 0;
    scgi::parser_options lenient = options;
    lenient.allow_missing_content_length = true;
    lenient.allow_missing_scgi = true;
    EXPECT_FALSE(parse_error("0:,", lenient));
    EXPECT_EQ(parse_error("1:", lenient), error::header_block_too_large);
}

TEST(RequestParser, HeaderCountLimitAtTheBoundary) {
    const std::string block = minimal_block() + "A\0\0B\0\0"s;  // 4 headers
    scgi::parser_options options;
    options.limits.header_count = 4;
    EXPECT_FALSE(parse_error(frame(block), options));
    options.limits.header_count = 3;
    EXPECT_EQ(parse_error(frame(block), options), error::too_many_headers);
    options.limits.header_count = 0;
    EXPECT_EQ(parse_error(frame(block), options), error::too_many_headers);
}

TEST(RequestParser, BodyLimitAtTheBoundary) {
    scgi::parser_options options;
    options.limits.body_bytes = 5;
    scgi::request_parser parser(options);
    EXPECT_EQ(drive_whole(parser, frame(minimal_block(5), "12345")).body, "12345");
    // Refused with the head, before any body byte is read.
    std::error_code ec;
    parser.reset();
    const std::string input = frame(minimal_block(6), "123456");
    EXPECT_EQ(parser.put(input, ec), input.size() - 6);
    EXPECT_EQ(ec, error::body_too_large);
    EXPECT_FALSE(parser.is_head_done());
}

TEST(RequestParser, RawBytesInNamesAndValues) {
    std::string block = minimal_block() + "\xff\xfe\x01\0\x80 \t\r\n\xc3\x28\0"s;
    scgi::request_parser parser;
    const auto out = drive_whole(parser, frame(block));
    ASSERT_FALSE(out.error) << out.error.message();
    ASSERT_EQ(out.headers.size(), 3u);
    EXPECT_EQ(out.headers[2].first, "\xff\xfe\x01");
    EXPECT_EQ(out.headers[2].second, "\x80 \t\r\n\xc3\x28");
}

TEST(RequestParser, ResetReusesTheParser) {
    scgi::request_parser parser;
    for (int i = 0; i < 3; ++i) {
        const auto out = drive_chunks(parser, deepthought, 5);
        EXPECT_TRUE(out.done);
        EXPECT_EQ(out.body, "What is the answer to life?");
    }
}

TEST(RequestParser, HeadSurvivesInputBuffer) {
    scgi::request_parser parser;
    std::error_code ec;
    {
        std::string transient = deepthought;
        parser.put(transient, ec);
        transient.assign(transient.size(), 'X');
    }
    EXPECT_EQ(parser.head().find("REQUEST_URI"), "/deepthought");
}

TEST(RequestParser, ReleaseHeadKeepsIt) {
    scgi::request_parser parser;
    drive_whole(parser, deepthought);
    scgi::request_head head = parser.release_head();
    parser.reset();
    drive_whole(parser, frame(minimal_block() + "REQUEST_URI\0/other\0"s));
    EXPECT_EQ(head.uri(), "/deepthought");
    EXPECT_EQ(parser.head().uri(), "/other");
}

TEST(RequestParser, WarmParserDoesNotAllocate) {
    scgi::request_parser parser;
    std::string block = minimal_block(4);
    for (int i = 0; i < 30; ++i) block += "HTTP_HEADER_" + std::to_string(i) + "\0value\0"s;
    const std::string input = frame(block, "body");
    const std::string smaller = frame(minimal_block(4) + "REQUEST_URI\0/x\0"s, "body");
    ASSERT_TRUE(drive_whole(parser, input).done);  // warm up

    std::error_code ec;
    const long before = allocations.load();
    for (int round = 0; round < 10; ++round) {
        for (const std::string* request : {&input, &smaller}) {
            parser.reset();
            std::string_view rest = *request;
            while (!parser.is_done()) {
                rest.remove_prefix(parser.put(rest, ec));
                ASSERT_FALSE(ec) << ec.message();
            }
        }
    }
    EXPECT_EQ(allocations.load() - before, 0);
}

TEST(RequestParser, OptionsAreKept) {
    scgi::parser_options options;
    options.allow_missing_scgi = true;
    options.limits.header_count = 7;
    const scgi::request_parser parser(options);
    EXPECT_TRUE(parser.options().allow_missing_scgi);
    EXPECT_EQ(parser.options().limits.header_count, 7u);
}

TEST(RequestParser, EncodedRequestsParseBack) {
    std::string wire;
    ASSERT_FALSE(scgi::encode_request({{"REQUEST_METHOD", "PUT"}, {"X", ""}}, 3, wire));
    wire += "abc";
    scgi::request_parser parser;
    const auto out = drive_whole(parser, wire);
    EXPECT_FALSE(out.error);
    EXPECT_EQ(out.body, "abc");
    ASSERT_EQ(out.headers.size(), 4u);
    EXPECT_EQ(out.headers[3], (std::pair<std::string, std::string>{"X", ""}));
}

}  // namespace
