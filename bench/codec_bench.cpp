// Codec benchmarks: the request parser and encoder on nginx's request,
// against a naive decoder (baseline a) and a bare NUL scan (baseline b, the
// floor). See bench/README.md for what each benchmark measures; run it with
// scripts/bench.
#include "alloc_counter.hpp"
#include "floor_scan.hpp"
#include "naive_decoder.hpp"
#include "nginx_request.hpp"

#include <scgi/encode_request.hpp>
#include <scgi/error.hpp>
#include <scgi/header.hpp>
#include <scgi/request_parser.hpp>

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <system_error>
#include <unistd.h>
#include <utility>
#include <vector>

namespace {

using scgi_bench::nginx_request;
using scgi_bench::baseline::naive_decoder;

constexpr const char* allocs_counter = "allocs/req";

[[noreturn, gnu::cold]] void die(const std::string& what) {
    std::fprintf(stderr, "codec-bench: %s\n", what.c_str());
    std::exit(1);
}

// --- the library parser, driven by the canonical loop -----------------------

// The driving loop documented in include/scgi/request_parser.hpp, for one
// slice of input. Returns true once the request is done, false when the parser
// needs the next slice.
bool drive(scgi::request_parser& parser, std::string_view input) {
    std::error_code ec;
    for (;;) {
        const std::size_t n = parser.put(input, ec);
        input.remove_prefix(n);
        if (ec == scgi::error::need_more) return false;
        if (ec) die("parser refused the request: " + ec.message());
        if (!parser.body_piece().empty()) benchmark::DoNotOptimize(parser.body_piece().data());
        if (parser.is_done()) return true;
    }
}

// One request, the whole buffer in one put (plus the put that takes the body).
void parse_whole(scgi::request_parser& parser, std::string_view bytes) {
    parser.reset();
    if (!drive(parser, bytes)) die("parser did not finish a whole request");
    benchmark::DoNotOptimize(parser.head().size());
}

// One request, one byte per put.
void parse_bytewise(scgi::request_parser& parser, std::string_view bytes) {
    parser.reset();
    bool done = false;
    for (std::size_t i = 0; i < bytes.size(); ++i) done = drive(parser, bytes.substr(i, 1));
    if (!done) die("parser did not finish a request fed byte by byte");
    benchmark::DoNotOptimize(parser.head().size());
}

// --- baseline (a): the naive decoder ----------------------------------------

bool drive_naive(naive_decoder& decoder, std::string_view input) {
    for (;;) {
        naive_decoder::status st{};
        const std::size_t n = decoder.put(input, st);
        input.remove_prefix(n);
        switch (st) {
        case naive_decoder::status::need_more: return false;
        case naive_decoder::status::failed: die("naive decoder refused the request");
        case naive_decoder::status::head_done: break;
        case naive_decoder::status::body:
            benchmark::DoNotOptimize(decoder.body_piece().data());
            break;
        case naive_decoder::status::done: return true;
        }
        if (decoder.is_done()) return true;
    }
}

// A fresh decoder per request: tokio-scgi makes one codec per connection and
// SCGI has one request per connection; the header vector goes with it.
std::size_t naive_whole(std::string_view bytes) {
    naive_decoder decoder;
    if (!drive_naive(decoder, bytes)) die("naive decoder did not finish a whole request");
    benchmark::DoNotOptimize(decoder.headers().data());
    return decoder.headers().size();
}

std::size_t naive_bytewise(std::string_view bytes) {
    naive_decoder decoder;
    bool done = false;
    for (std::size_t i = 0; i < bytes.size(); ++i) done = drive_naive(decoder, bytes.substr(i, 1));
    if (!done) die("naive decoder did not finish a request fed byte by byte");
    benchmark::DoNotOptimize(decoder.headers().data());
    return decoder.headers().size();
}

// --- the benchmark harness ----------------------------------------------------

// Runs `one_request` once to warm it up (first-use allocations are not
// counted), then in the timed loop; reports bytes (so GB/s is printed) and heap
// allocations per request.
template <class OneRequest>
void measure(benchmark::State& state, std::size_t bytes_per_request, OneRequest& one_request) {
    one_request();
    const std::uint64_t before = scgi_bench::allocation_count();
    for (auto _ : state) one_request();
    const std::uint64_t allocations = scgi_bench::allocation_count() - before;
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes_per_request));
    state.counters[allocs_counter] =
        benchmark::Counter(static_cast<double>(allocations), benchmark::Counter::kAvgIterations);
}

struct variant {
    std::string name;  // "get" or "post4k"
    nginx_request request;
    std::vector<scgi::header> encoder_input;
    std::size_t encoded_size = 0;
};

// Bytes per request of each registered benchmark, for the summary.
std::map<std::string, std::size_t>& bytes_per_request() {
    static std::map<std::string, std::size_t> m;
    return m;
}

// Registers a benchmark running `one_request` (a lambda, called directly: no
// std::function indirection inside the timed loop).
template <class OneRequest>
void add(const std::string& name, std::size_t bytes, OneRequest one_request) {
    bytes_per_request()[name] = bytes;
    benchmark::RegisterBenchmark(name.c_str(),
                                 [bytes, f = std::move(one_request)](benchmark::State& state) mutable {
                                     measure(state, bytes, f);
                                 })
        ->Unit(benchmark::kNanosecond);
}

// Checks, before measuring anything, that every contender really decodes the
// fixture and agrees with the others.
void verify(variant& v, scgi::request_parser& parser) {
    const nginx_request& r = v.request;
    const std::string_view bytes = r.bytes;
    const auto check_head = [&](const char* how) {
        const auto& head = parser.head();
        if (head.size() != r.headers.size()) die(std::string("parser header count, ") + how);
        for (std::size_t i = 0; i < head.size(); ++i) {
            if (head[i].name != r.headers[i].first || head[i].value != r.headers[i].second) {
                die(std::string("parser header mismatch, ") + how);
            }
        }
        if (head.content_length() != r.body_size) die(std::string("parser CONTENT_LENGTH, ") + how);
    };
    parse_whole(parser, bytes);
    check_head("whole buffer");
    parse_bytewise(parser, bytes);
    check_head("byte by byte");

    for (const bool bytewise : {false, true}) {
        naive_decoder d;
        bool done = false;
        if (bytewise) {
            for (std::size_t i = 0; i < bytes.size(); ++i) done = drive_naive(d, bytes.substr(i, 1));
        } else {
            done = drive_naive(d, bytes);
        }
        if (!done || d.headers() != r.headers || d.content_length() != r.body_size) {
            die("naive decoder disagrees with the fixture");
        }
    }

    const std::size_t nuls = 2 * r.headers.size();
    if (scgi_bench::floor::count_nuls_memchr(bytes.data(), bytes.size()) != nuls ||
        scgi_bench::floor::count_nuls_simd(bytes.data(), bytes.size()) != nuls) {
        die("floor scans miscount the NULs");
    }

    std::string out;
    if (const auto ec = scgi::encode_request(v.encoder_input, r.body_size, out)) {
        die("encode_request failed: " + ec.message());
    }
    // Same headers and length, so the same size (nginx puts SCGI later than
    // the encoder does, which changes the order, not the bytes).
    if (out.size() != r.head_size) die("encoded head size differs from nginx's");
    parser.reset();
    std::error_code ec;
    if (parser.put(out, ec) != out.size() || ec || parser.head().size() != r.headers.size()) {
        die("the parser does not read back the encoder's output");
    }
    v.encoded_size = out.size();
}

void register_all(std::vector<variant>& variants, scgi::request_parser& parser) {
    for (variant& v : variants) {
        const std::string_view bytes = v.request.bytes;
        const std::size_t n = bytes.size();
        const std::string& s = v.name;
        add("parser_whole/" + s, n, [&parser, bytes] { parse_whole(parser, bytes); });
        add("parser_bytewise/" + s, n, [&parser, bytes] { parse_bytewise(parser, bytes); });
        add("naive_whole/" + s, n, [bytes] { benchmark::DoNotOptimize(naive_whole(bytes)); });
        add("naive_bytewise/" + s, n, [bytes] { benchmark::DoNotOptimize(naive_bytewise(bytes)); });
        add("floor_memchr/" + s, n, [bytes] {
            const char* data = bytes.data();
            benchmark::DoNotOptimize(data);
            benchmark::DoNotOptimize(scgi_bench::floor::count_nuls_memchr(data, bytes.size()));
        });
        add("floor_simd/" + s, n, [bytes] {
            const char* data = bytes.data();
            benchmark::DoNotOptimize(data);
            benchmark::DoNotOptimize(scgi_bench::floor::count_nuls_simd(data, bytes.size()));
        });
        add("encode/" + s, v.encoded_size,
            [&v, out = std::string()]() mutable {
                out.clear();
                if (scgi::encode_request(v.encoder_input, v.request.body_size, out)) {
                    die("encode_request failed");
                }
                benchmark::DoNotOptimize(out.data());
                benchmark::ClobberMemory();
            });
    }
}

// --- heads of many headers: duplicate detection stays linear ---------------

// A request whose header block of about `block_bytes` holds as many headers
// as fit: CONTENT_LENGTH, SCGI, then unique names with empty values.
// "tiny": 1- and 2-byte names (the most headers a block can hold);
// "colliding": 19-byte names that share their first and last 8 bytes, the
// names the parser's cheap hash cannot tell apart.
struct many_headers {
    std::string kind;
    std::size_t block_bytes;
    std::size_t headers = 0;
    std::string bytes;
};

many_headers make_many_headers(const std::string& kind, std::size_t block_bytes) {
    many_headers m{kind, block_bytes, 2, {}};
    using namespace std::string_literals;
    std::string block = "CONTENT_LENGTH\0"s + "0\0"s + "SCGI\0"s + "1\0"s;
    for (unsigned i = 1;; ++i) {
        std::string name;
        if (kind == "tiny") {
            for (unsigned v = i; v != 0; v /= 255) name += static_cast<char>(1 + v % 255);  // never NUL
            if (name == "SCGI") continue;
        } else {
            char middle[8];
            std::snprintf(middle, sizeof middle, "%03u", i % 1000);
            name = "HTTP_X_A" + std::string(middle) + std::string(1, static_cast<char>('A' + i / 1000)) + "_TAIL_XX";
        }
        if (block.size() + name.size() + 2 > block_bytes) break;
        block += name + '\0' + '\0';
        ++m.headers;
    }
    m.bytes = std::to_string(block.size()) + ":" + block + ",";
    return m;
}

void register_many_headers(std::vector<many_headers>& heads, scgi::request_parser& parser) {
    for (many_headers& m : heads) {
        parse_whole(parser, m.bytes);
        if (parser.head().size() != m.headers) die("many_headers: parser header count for " + m.kind);
        const std::string_view bytes = m.bytes;
        add("headers_" + m.kind + "/" + std::to_string(m.block_bytes / 1024) + "k", bytes.size(),
            [&parser, bytes] { parse_whole(parser, bytes); });
    }
}

// --- the summary ------------------------------------------------------------

struct result {
    double ns = 0;       // CPU time per request
    double allocs = 0;   // heap allocations per request
    bool median = false; // from the median aggregate (else a single run)
    std::int64_t repetitions = 1;
};

// The console reporter, also keeping each benchmark's median (or its only
// run, without repetitions) for the summary.
class summary_reporter : public benchmark::ConsoleReporter {
public:
    using benchmark::ConsoleReporter::ConsoleReporter;

    void ReportRuns(const std::vector<Run>& runs) override {
        benchmark::ConsoleReporter::ReportRuns(runs);
        for (const Run& run : runs) {
            if (run.error_occurred) continue;
            const bool is_median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
            if (!is_median && run.run_type != Run::RT_Iteration) continue;
            result& r = results_[run.run_name.function_name];
            if (r.median && !is_median) continue;
            r.ns = run.GetAdjustedCPUTime() / benchmark::GetTimeUnitMultiplier(run.time_unit) * 1e9;
            const auto it = run.counters.find(allocs_counter);
            r.allocs = it == run.counters.end() ? 0.0 : it->second.value;
            r.median = is_median;
            r.repetitions = run.repetitions;
        }
    }

    const std::map<std::string, result>& results() const { return results_; }

private:
    std::map<std::string, result> results_;
};

// ns per header for each head size, and how that grows from the smallest
// head to the largest beside how the count grows: duplicate detection that
// compared each name with the ones before (quadratic) would grow ns/header
// as much as the count; a linear one only by what a larger working set costs
// in cache misses and first-touch page faults.
void print_many_headers(const std::map<std::string, result>& results, const std::vector<many_headers>& heads) {
    std::printf("\n%-24s %8s %12s %12s %12s\n", "head of many headers", "headers", "ns/request", "ns/header",
                "allocs/req");
    struct growth {
        double first_ns, last_ns;  // ns/header at the smallest and the largest head
        std::size_t first_count, last_count;
    };
    std::map<std::string, growth> first_last;
    for (const many_headers& m : heads) {
        const std::string name = "headers_" + m.kind + "/" + std::to_string(m.block_bytes / 1024) + "k";
        const auto it = results.find(name);
        if (it == results.end()) continue;
        const double per_header = it->second.ns / static_cast<double>(m.headers);
        std::printf("%-24s %8zu %12.0f %12.1f %12.2f\n", name.c_str(), m.headers, it->second.ns, per_header,
                    it->second.allocs);
        auto& g = first_last.try_emplace(m.kind, growth{per_header, per_header, m.headers, m.headers}).first->second;
        g.last_ns = per_header;
        g.last_count = m.headers;
    }
    for (const auto& [kind, g] : first_last) {
        std::printf("%s: from %zu to %zu headers (x%.0f), ns/header x%.2f (quadratic: x%.0f)\n", kind.c_str(),
                    g.first_count, g.last_count, static_cast<double>(g.last_count) / static_cast<double>(g.first_count),
                    g.last_ns / g.first_ns, static_cast<double>(g.last_count) / static_cast<double>(g.first_count));
    }
}

void print_summary(const summary_reporter& reporter, const std::vector<variant>& variants,
                   const std::vector<many_headers>& heads) {
    const auto& results = reporter.results();
    if (results.empty()) return;
    std::int64_t reps = 1;
    for (const auto& [name, r] : results) reps = r.median ? r.repetitions : reps;
    std::printf("\n=== Summary: %s, CPU time per request ===\n",
                reps > 1 ? ("median of " + std::to_string(reps) + " repetitions").c_str()
                         : "single run (use --benchmark_repetitions for medians)");
    std::printf("%-24s %8s %12s %8s %12s\n", "benchmark", "bytes", "ns/request", "GB/s",
                "allocs/req");
    std::vector<std::string> parser_allocating;
    for (const variant& v : variants) {
        for (const char* kind : {"parser_whole", "parser_bytewise", "encode", "naive_whole",
                                 "naive_bytewise", "floor_memchr", "floor_simd"}) {
            const std::string name = std::string(kind) + "/" + v.name;
            const auto it = results.find(name);
            if (it == results.end()) continue;
            const double bytes = static_cast<double>(bytes_per_request().at(name));
            std::printf("%-24s %8.0f %12.1f %8.2f %12.2f\n", name.c_str(), bytes, it->second.ns,
                        bytes / it->second.ns, it->second.allocs);
            if (name.starts_with("parser") && it->second.allocs != 0) parser_allocating.push_back(name);
        }
    }

    std::printf("\n%-52s %9s %8s  %s\n", "ratio", "measured", "target", "verdict");
    const auto ratio_row = [&](const std::string& label, const std::string& num,
                               const std::string& den, bool at_least, double target) {
        const auto a = results.find(num);
        const auto b = results.find(den);
        if (a == results.end() || b == results.end()) return;
        const double ratio = a->second.ns / b->second.ns;
        std::string verdict;
        char buf[96];
        if (at_least ? ratio >= target : ratio <= target) {
            verdict = "met";
        } else {
            // How many times faster the parser would have to be to meet it.
            std::snprintf(buf, sizeof buf, "MISSED: parser %.2fx too slow",
                          at_least ? target / ratio : ratio / target);
            verdict = buf;
        }
        std::printf("%-52s %8.2fx %s%5.0fx  %s\n", label.c_str(), ratio, at_least ? ">=" : "<=",
                    target, verdict.c_str());
    };
    for (const variant& v : variants) {
        const std::string& s = v.name;
        ratio_row(s + ": parser faster than naive (a), whole buffer", "naive_whole/" + s,
                  "parser_whole/" + s, true, 10);
        ratio_row(s + ": parser faster than naive (a), byte by byte", "naive_bytewise/" + s,
                  "parser_bytewise/" + s, true, 10);
        ratio_row(s + ": parser slower than floor memchr (b1)", "parser_whole/" + s,
                  "floor_memchr/" + s, false, 3);
        ratio_row(s + ": parser slower than floor simd (b2)", "parser_whole/" + s,
                  "floor_simd/" + s, false, 3);
    }

    std::printf("(the floors scan every byte given, body included; the parser never reads body\n"
                " bytes, it hands them back as views, so only the get rows compare like with like)\n");

    print_many_headers(results, heads);

    if (parser_allocating.empty()) {
        std::printf("\nwarm parser heap allocations per request: 0 in every parser benchmark (OK)\n");
    } else {
        std::printf("\nBUG: the warm parser allocates:");
        for (const auto& name : parser_allocating) std::printf(" %s", name.c_str());
        std::printf("\n");
    }
}

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

    std::vector<variant> variants;
    for (const auto& [name, body] : {std::pair<const char*, std::size_t>{"get", 0},
                                     std::pair<const char*, std::size_t>{"post4k", 4096}}) {
        variant v{name, scgi_bench::make_nginx_request(body), {}, 0};
        v.encoder_input = v.request.encoder_input();
        variants.push_back(std::move(v));
    }
    // One parser for every parser benchmark, reset per request: warm storage.
    scgi::request_parser parser;
    for (variant& v : variants) {
        verify(v, parser);
        std::printf("request %-7s header block %zu bytes, %zu headers, body %zu bytes, total %zu bytes\n",
                    v.name.c_str(), v.request.block_size(), v.request.headers.size(),
                    v.request.body_size, v.request.bytes.size());
    }
    register_all(variants, parser);
    std::vector<many_headers> heads;
    for (const char* kind : {"tiny", "colliding"}) {
        for (const std::size_t kib : {std::size_t{1}, std::size_t{4}, std::size_t{16}, std::size_t{64}}) heads.push_back(make_many_headers(kind, kib * 1024));
    }
    register_many_headers(heads, parser);

    summary_reporter reporter(isatty(STDOUT_FILENO) != 0 ? benchmark::ConsoleReporter::OO_ColorTabular
                                                         : benchmark::ConsoleReporter::OO_Tabular);
    benchmark::RunSpecifiedBenchmarks(&reporter);
    print_summary(reporter, variants, heads);
    benchmark::Shutdown();
    return 0;
}
