// Over-read test: every input handed to the codec ends exactly at the end of
// a readable mapping, followed by a PROT_NONE guard page, so reading one byte
// past the input's end is a SIGSEGV (the process dies, ctest reports the
// failure, and the handler below says what was being parsed).
//
// Inputs: every golden vector (tests/vectors/request, tests/vectors/response),
// each of its strict prefixes, fed whole, one byte at a time (each byte copied
// to the guard, so every single `put` ends at it) and, for the full input, cut
// at every split point; plus query strings through percent_decode,
// query_params, find_query_param and decode_query, and header names through
// request_head lookups.

#include "response_drive.hpp"
#include "vector_file.hpp"

#include <drive.hpp>
#include <scgi/percent_decode.hpp>
#include <scgi/query_params.hpp>
#include <scgi/request_parser.hpp>
#include <scgi/response_parser.hpp>

#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace {

namespace vec = scgi::test::vectors;
using scgi::test::parse_outcome;
using scgi::test::response_outcome;

// ------------------------------------------------- crash reporting ---------

// What is being parsed, for the SIGSEGV handler. Written before each parse,
// read only by the handler.
char crash_context[512] = "(no parse yet)";

void set_context(const std::string& what) {
    const std::size_t n = std::min(what.size(), sizeof crash_context - 1);
    std::memcpy(crash_context, what.data(), n);
    crash_context[n] = '\0';
}

void on_sigsegv(int sig) {
    // Only async-signal-safe calls: write, signal, raise.
    static const char prefix[] = "\noverread_test: SIGSEGV, a read past the end of the input, while parsing: ";
    ssize_t ignored = ::write(STDERR_FILENO, prefix, sizeof prefix - 1);
    ignored = ::write(STDERR_FILENO, crash_context, std::strlen(crash_context));
    ignored = ::write(STDERR_FILENO, "\n", 1);
    (void)ignored;
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

class sigsegv_reporter : public ::testing::Environment {
public:
    void SetUp() override {
        struct sigaction action {};
        action.sa_handler = on_sigsegv;
        sigemptyset(&action.sa_mask);
        ASSERT_EQ(::sigaction(SIGSEGV, &action, nullptr), 0);
        ASSERT_EQ(::sigaction(SIGBUS, &action, nullptr), 0);
    }
};

[[maybe_unused]] ::testing::Environment* const reporter =
    ::testing::AddGlobalTestEnvironment(new sigsegv_reporter);

// ------------------------------------------------------ guarded memory -----

/// Readable pages followed by one PROT_NONE page. `place` copies bytes so
/// that they end exactly at the guard.
class guarded_memory {
public:
    explicit guarded_memory(std::size_t readable_bytes) {
        const long page = ::sysconf(_SC_PAGESIZE);
        if (page <= 0) throw std::runtime_error("sysconf(_SC_PAGESIZE) failed");
        page_ = static_cast<std::size_t>(page);
        readable_ = std::max<std::size_t>(1, (readable_bytes + page_ - 1) / page_) * page_;
        void* base = ::mmap(nullptr, readable_ + page_, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (base == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap");
        base_ = static_cast<char*>(base);
        if (::mprotect(base_ + readable_, page_, PROT_NONE) != 0) {
            const int e = errno;
            ::munmap(base_, readable_ + page_);
            throw std::system_error(e, std::generic_category(), "mprotect");
        }
    }
    guarded_memory(const guarded_memory&) = delete;
    guarded_memory& operator=(const guarded_memory&) = delete;
    ~guarded_memory() { ::munmap(base_, readable_ + page_); }

    /// The first unreadable byte.
    const char* guard() const noexcept { return base_ + readable_; }

    std::size_t capacity() const noexcept { return readable_; }

    /// Copies `bytes` to end right before the guard and returns the copy.
    std::string_view place(std::string_view bytes) {
        if (bytes.size() > readable_) throw std::length_error("input larger than the guarded memory");
        char* to = base_ + readable_ - bytes.size();
        if (!bytes.empty()) std::memmove(to, bytes.data(), bytes.size());
        return {to, bytes.size()};
    }

private:
    char* base_ = nullptr;
    std::size_t page_ = 0;
    std::size_t readable_ = 0;
};

// ------------------------------------------------------ guarded drives -----

/// scgi::test::drive with every chunk copied to the guard first, so no
/// `put` may read one byte past its input.
parse_outcome drive_guarded(scgi::request_parser& parser, guarded_memory& mem, std::string_view input,
                            std::span<const std::size_t> cuts) {
    return scgi::test::drive(parser, input, cuts, false, [&](std::string_view chunk) { return mem.place(chunk); });
}

/// scgi::test::drive_response with every chunk copied to the guard first.
response_outcome drive_response_guarded(scgi::response_parser& parser, guarded_memory& mem,
                                        std::string_view input, std::span<const std::size_t> cuts) {
    return scgi::test::drive_response(parser, input, cuts, false,
                                      [&](std::string_view chunk) { return mem.place(chunk); });
}

std::vector<std::size_t> every(std::size_t step, std::size_t n) {
    std::vector<std::size_t> cuts;
    for (std::size_t at = step; at < n; at += step) cuts.push_back(at);
    return cuts;
}

std::vector<vec::vector_file> load_all(vec::kind what) {
    std::vector<vec::vector_file> all;
    for (const auto& path : vec::list(what)) {
        vec::vector_file v;
        std::string problem;
        if (vec::load(path, what, v, problem)) {
            all.push_back(std::move(v));
        } else {
            ADD_FAILURE() << problem;
        }
    }
    return all;
}

std::size_t largest_input(const std::vector<vec::vector_file>& all) {
    std::size_t n = 0;
    for (const auto& v : all) n = std::max(n, v.input.size());
    return n;
}

// --------------------------------------------------------------- tests -----

TEST(guard_page, a_read_one_byte_past_the_input_crashes) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    guarded_memory mem(1);
    const std::string_view placed = mem.place("xyz");
    ASSERT_EQ(placed, "xyz");
    ASSERT_EQ(placed.data() + placed.size(), mem.guard());
    EXPECT_EQ(placed.back(), 'z');  // the last input byte is readable
    const char* const past = placed.data() + placed.size();
    EXPECT_DEATH(
        {
            set_context("the guard page self-test");
            const volatile char* p = past;
            const char c = *p;
            std::fprintf(stderr, "read %d past the end without a crash\n", c);
        },
        "overread_test: SIGSEGV.*the guard page self-test");
}

TEST(overread, request_parser_stops_at_the_end_of_its_input) {
    const auto all = load_all(vec::kind::request);
    ASSERT_GE(all.size(), 45u) << "request vectors under " << SCGI_VECTORS_DIR;
    guarded_memory mem(largest_input(all));

    for (const auto& v : all) {
        const std::string name = v.path.filename().string();
        SCOPED_TRACE(name);
        scgi::request_parser parser(v.options);
        scgi::request_parser reference(v.options);
        const std::string_view input = v.input;
        int failures = 0;

        // Every strict prefix and the whole input: whole, then byte by byte.
        for (std::size_t k = 0; k <= input.size() && failures < 3; ++k) {
            const std::string_view prefix = input.substr(0, k);
            const parse_outcome expected = scgi::test::drive_whole(reference, prefix);

            set_context("request " + name + ", first " + std::to_string(k) + " bytes, whole");
            if (drive_guarded(parser, mem, prefix, {}) != expected) {
                ++failures;
                ADD_FAILURE() << "guarded parse of the first " << k << " bytes differs (whole)";
            }
            set_context("request " + name + ", first " + std::to_string(k) + " bytes, 1 byte at a time");
            if (drive_guarded(parser, mem, prefix, every(1, k)) != expected) {
                ++failures;
                ADD_FAILURE() << "guarded parse of the first " << k << " bytes differs (1 byte at a time)";
            }
        }

        // The whole input cut at every single split point.
        const parse_outcome expected = scgi::test::drive_whole(reference, input);
        for (std::size_t cut = 1; cut < input.size() && failures < 3; ++cut) {
            set_context("request " + name + ", split at " + std::to_string(cut));
            const std::size_t cuts[] = {cut};
            if (drive_guarded(parser, mem, input, cuts) != expected) {
                ++failures;
                ADD_FAILURE() << "guarded parse split at " << cut << " differs";
            }
        }
    }
}

TEST(overread, response_parser_stops_at_the_end_of_its_input) {
    const auto all = load_all(vec::kind::response);
    ASSERT_GE(all.size(), 10u) << "response vectors under " << SCGI_VECTORS_DIR;
    guarded_memory mem(largest_input(all));

    for (const auto& v : all) {
        const std::string name = v.path.filename().string();
        SCOPED_TRACE(name);
        scgi::response_parser parser(v.head_limit);
        scgi::response_parser reference(v.head_limit);
        const std::string_view input = v.input;
        int failures = 0;

        for (std::size_t k = 0; k <= input.size() && failures < 3; ++k) {
            const std::string_view prefix = input.substr(0, k);
            const response_outcome expected = scgi::test::drive_response_whole(reference, prefix);

            set_context("response " + name + ", first " + std::to_string(k) + " bytes, whole");
            if (drive_response_guarded(parser, mem, prefix, {}) != expected) {
                ++failures;
                ADD_FAILURE() << "guarded parse of the first " << k << " bytes differs (whole)";
            }
            set_context("response " + name + ", first " + std::to_string(k) + " bytes, 1 byte at a time");
            if (drive_response_guarded(parser, mem, prefix, every(1, k)) != expected) {
                ++failures;
                ADD_FAILURE() << "guarded parse of the first " << k << " bytes differs (1 byte at a time)";
            }
        }

        const response_outcome expected = scgi::test::drive_response_whole(reference, input);
        for (std::size_t cut = 1; cut < input.size() && failures < 3; ++cut) {
            set_context("response " + name + ", split at " + std::to_string(cut));
            const std::size_t cuts[] = {cut};
            if (drive_response_guarded(parser, mem, input, cuts) != expected) {
                ++failures;
                ADD_FAILURE() << "guarded parse split at " << cut << " differs";
            }
        }
    }
}

// Everything the URI helpers produce for one string, to compare a guarded run
// with a run on ordinary memory.
struct uri_results {
    std::error_code keep_ec;
    std::string keep;
    std::error_code space_ec;
    std::string space;
    std::vector<std::pair<std::string, std::string>> params;
    std::vector<std::pair<std::error_code, std::optional<std::string>>> found;
    std::error_code decoded_ec;
    std::vector<std::pair<std::string, std::string>> decoded;

    friend bool operator==(const uri_results&, const uri_results&) = default;
};

uri_results run_uri_helpers(std::string_view s) {
    uri_results r;
    r.keep_ec = scgi::percent_decode(s, r.keep, scgi::plus_decoding::keep);
    r.space_ec = scgi::percent_decode(s, r.space, scgi::plus_decoding::to_space);
    for (const scgi::query_param p : scgi::query_params(s)) r.params.emplace_back(p.name, p.value);
    for (const std::string_view name : {"a", "b", "q", "x y", "", "absent"}) {
        std::error_code ec;
        auto value = scgi::find_query_param(s, name, ec);
        r.found.emplace_back(ec, std::move(value));
    }
    r.decoded_ec = scgi::decode_query(s, r.decoded);
    return r;
}

TEST(overread, uri_helpers_stop_at_the_end_of_their_input) {
    const std::string_view queries[] = {
        "",
        "%",
        "%4",
        "%41",
        "a%",
        "a=%",
        "a=%4",
        "a=b%",
        "a=1&b=%",
        "a=1&b=%2",
        "a=1&b=%20",
        "%%",
        "%zz",
        "%4g",
        "a=1&b=2",
        "a=1&&b=2&",
        "&",
        "&&&",
        "=",
        "a",
        "a=",
        "=b",
        "q=caf%C3%A9+latte&x+y=z",
        "name=%00%FF%fe",
        "+++",
        "id=7&q=caf%C3%A9",
        "a=1&a=2&b=%41%42%43",
        "%2541",
        std::string_view("a=\0b&b=\xff", 9),
    };
    std::size_t longest = 0;
    for (const auto q : queries) longest = std::max(longest, q.size());
    guarded_memory mem(longest);

    // Every prefix of every string: prefixes end in lone `%` and `%X`.
    for (const auto q : queries) {
        for (std::size_t k = 0; k <= q.size(); ++k) {
            const std::string ordinary(q.substr(0, k));
            const uri_results expected = run_uri_helpers(ordinary);
            set_context("URI helpers on \"" + ordinary + "\"");
            const std::string_view placed = mem.place(ordinary);
            EXPECT_TRUE(run_uri_helpers(placed) == expected) << "\"" << ordinary << "\"";
        }
    }

    // And what they return at the guard, spelled out.
    std::string out;
    EXPECT_EQ(scgi::percent_decode(mem.place("%"), out), scgi::error::bad_percent_encoding);
    EXPECT_EQ(scgi::percent_decode(mem.place("ab%4"), out), scgi::error::bad_percent_encoding);
    EXPECT_EQ(out, "");
    EXPECT_EQ(scgi::percent_decode(mem.place("a+%41"), out, scgi::plus_decoding::to_space), std::error_code());
    EXPECT_EQ(out, "a A");
    std::vector<scgi::query_param> params;
    for (const auto p : scgi::query_params(mem.place("a=1&&b&c=%"))) params.push_back(p);
    ASSERT_EQ(params.size(), 3u);
    EXPECT_EQ(params[0], (scgi::query_param{"a", "1"}));
    EXPECT_EQ(params[1], (scgi::query_param{"b", ""}));
    EXPECT_EQ(params[2], (scgi::query_param{"c", "%"}));
    std::error_code ec;
    EXPECT_EQ(scgi::find_query_param(mem.place("a=1&b=%"), "b", ec), std::nullopt);
    EXPECT_EQ(ec, scgi::error::bad_percent_encoding);
    EXPECT_EQ(scgi::find_query_param(mem.place("a=1&b=%21"), "b", ec), "!");
    EXPECT_EQ(ec, std::error_code());
}

TEST(overread, request_head_lookups_stop_at_the_end_of_the_name) {
    const auto all = load_all(vec::kind::request);
    guarded_memory mem(4096);
    std::size_t looked_up = 0;
    for (const auto& v : all) {
        if (v.expect != vec::expectation::ok) continue;
        const std::string file = v.path.filename().string();
        SCOPED_TRACE(file);
        scgi::request_parser parser(v.options);
        ASSERT_EQ(scgi::test::drive_whole(parser, v.input).error, std::error_code());
        const scgi::request_head& head = parser.head();
        for (const auto& [name, value] : v.headers) {
            set_context("request_head lookups in " + file);
            EXPECT_EQ(head.find(mem.place(name)), std::optional<std::string_view>(value));
            // HTTP_USER_AGENT is found as user-agent.
            // (HTTP_CONTENT_TYPE / HTTP_CONTENT_LENGTH are not: those HTTP
            // names mean CONTENT_TYPE / CONTENT_LENGTH.)
            if (name.starts_with("HTTP_") && name.size() > 5 && name != "HTTP_CONTENT_TYPE" &&
                name != "HTTP_CONTENT_LENGTH") {
                std::string http = name.substr(5);
                for (char& c : http) {
                    if (c == '_') c = '-';
                    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
                }
                EXPECT_EQ(head.http_header(mem.place(http)), std::optional<std::string_view>(value)) << http;
            }
            ++looked_up;
        }
        EXPECT_EQ(head.find(mem.place("NO_SUCH_HEADER_AT_ALL")), std::nullopt);
        EXPECT_EQ(head.http_header(mem.place("")), std::nullopt);

        // The query string, copied to the guard, through the URI helpers.
        const std::string query(head.query());
        set_context("URI helpers on the query of " + file);
        EXPECT_TRUE(run_uri_helpers(mem.place(query)) == run_uri_helpers(query));
    }
    EXPECT_GT(looked_up, 100u);
}

}  // namespace
