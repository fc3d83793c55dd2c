#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <string_view>
#include <vector>

namespace scgi::tools::bench {
namespace {

constexpr double ns_per_us = 1e3;
constexpr std::size_t histogram_bands = 10;
constexpr std::size_t bar_width = 40;

// The figures both outputs show, computed once.
struct figures {
    double seconds = 0;
    double requests_per_second = 0;
    double bytes_per_second = 0;
    struct band {
        std::uint64_t low = 0;   // ns, inclusive
        std::uint64_t high = 0;  // ns, exclusive
        std::uint64_t count = 0;
    };
    std::vector<band> bands;
};

// The latency range [min, max] cut into `histogram_bands` geometric bands
// (equal ratios: a long tail does not squash the body of the distribution
// into one band), counted from the fine histogram.
std::vector<figures::band> latency_bands(const histogram& h) {
    std::vector<figures::band> bands;
    if (h.count() == 0) return bands;
    const double low = static_cast<double>(std::max<std::uint64_t>(h.min(), 1));
    const double high = static_cast<double>(h.max() + 1);
    const double ratio = std::pow(high / low, 1.0 / histogram_bands);
    std::uint64_t edge = h.min();
    for (std::size_t i = 1; i <= histogram_bands && edge <= h.max(); ++i) {
        auto next = static_cast<std::uint64_t>(std::llround(low * std::pow(ratio, static_cast<double>(i))));
        if (i == histogram_bands) next = h.max() + 1;
        if (next <= edge) continue;  // narrower than a nanosecond: merged into the next
        bands.push_back({edge, next, h.count_between(edge, next)});
        edge = next;
    }
    return bands;
}

figures compute(const load_result& r) {
    figures f;
    f.seconds = std::chrono::duration<double>(r.measured).count();
    if (f.seconds > 0) {
        f.requests_per_second = static_cast<double>(r.counts.measured.responses) / f.seconds;
        f.bytes_per_second = static_cast<double>(r.counts.measured.response_bytes) / f.seconds;
    }
    f.bands = latency_bands(r.counts.latency);
    return f;
}

double us(std::uint64_t ns) { return static_cast<double>(ns) / ns_per_us; }

// 1234567 -> "1,234,567".
std::string grouped(std::uint64_t n) {
    std::string digits = std::to_string(n);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i != 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
        out.push_back(digits[i]);
    }
    return out;
}

// `value` in the largest of `units` (ascending) it reaches one of.
struct unit {
    double size;
    int decimals;
    const char* name;
};
std::string scaled(double value, std::initializer_list<unit> units) {
    const unit* chosen = units.begin();
    for (const unit& u : units) {
        if (value >= u.size) chosen = &u;
    }
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.*f %s", chosen->decimals, value / chosen->size, chosen->name);
    return buf;
}

std::string duration_text(double ns) { return scaled(ns, {{1, 0, "ns"}, {1e3, 1, "us"}, {1e6, 2, "ms"}, {1e9, 2, "s"}}); }

std::string bytes_text(double bytes) { return scaled(bytes, {{1, 0, "B"}, {1e3, 1, "kB"}, {1e6, 1, "MB"}, {1e9, 2, "GB"}}); }

std::string plural(std::uint64_t n, std::string_view word) {
    std::string out = grouped(n) + " " + std::string(word);
    if (n != 1) out += "s";
    return out;
}

// The cause of a failure kind's first occurrence, when there is a system
// error behind it.
const std::string& cause(const results& r, std::size_t kind) { return r.first_cause[kind]; }

// --- JSON ---------------------------------------------------------------------

// Writes one JSON object without whitespace, members in call order.
class json_writer {
public:
    explicit json_writer(std::FILE* out) : out_(out) {}

    void begin_object(std::string_view key = {}) { open(key, '{'); }
    void end_object() { close('}'); }
    void begin_array(std::string_view key = {}) { open(key, '['); }
    void end_array() { close(']'); }

    void member(std::string_view key, std::string_view value) {
        prefix(key);
        string(value);
    }
    void member(std::string_view key, const char* value) { member(key, std::string_view(value)); }
    void member(std::string_view key, std::uint64_t value) {
        prefix(key);
        std::fprintf(out_, "%llu", static_cast<unsigned long long>(value));
    }
    void member(std::string_view key, unsigned value) { member(key, std::uint64_t{value}); }
    void member(std::string_view key, double value) {
        prefix(key);
        // JSON has no NaN or infinity; neither can arise from the figures,
        // but a number must come out whatever happens.
        std::fprintf(out_, "%.3f", std::isfinite(value) ? value : 0.0);
    }
    void member(std::string_view key, bool value) {
        prefix(key);
        std::fputs(value ? "true" : "false", out_);
    }
    void finish() { std::fputc('\n', out_); }

private:
    void open(std::string_view key, char bracket) {
        prefix(key);
        std::fputc(bracket, out_);
        first_ = true;
    }
    void close(char bracket) {
        std::fputc(bracket, out_);
        first_ = false;
    }
    // A comma unless first in its container; the key unless in an array.
    void prefix(std::string_view key) {
        if (!first_) std::fputc(',', out_);
        first_ = false;
        if (!key.empty()) {
            string(key);
            std::fputc(':', out_);
        }
    }
    // Escapes what JSON requires, and every byte outside printable ASCII as
    // \u00XX, so that any bytes (a URI given on the command line need not be
    // UTF-8) make valid JSON.
    void string(std::string_view s) {
        std::fputc('"', out_);
        for (const char c : s) {
            const auto u = static_cast<unsigned char>(c);
            if (c == '"' || c == '\\') {
                std::fputc('\\', out_);
                std::fputc(c, out_);
            } else if (u < 0x20 || u >= 0x7f) {
                std::fprintf(out_, "\\u%04x", u);
            } else {
                std::fputc(c, out_);
            }
        }
        std::fputc('"', out_);
    }

    std::FILE* out_;
    bool first_ = true;
};

void json_run_info(json_writer& j, const run_info& info, std::string_view mode) {
    j.member("mode", mode);
    j.member("endpoint", info.endpoint);
    j.member("connections", info.connections);
}

void json_failures(json_writer& j, std::string_view key, const tally& t) {
    j.begin_object(key);
    for (std::size_t k = 0; k < failure_kinds; ++k) j.member(failure_name(static_cast<failure>(k)), t.by_kind[k]);
    j.end_object();
}

}  // namespace

std::string progress_line(const progress& now, const progress& previous) {
    const double elapsed = std::chrono::duration<double>(now.elapsed).count();
    const double span = std::chrono::duration<double>(now.elapsed - previous.elapsed).count();
    const double rate = span > 0 ? static_cast<double>(now.responses - previous.responses) / span : 0;
    char buf[160];
    std::snprintf(buf, sizeof buf, "%7.1f s  %s  %s/s  %s", elapsed, plural(now.responses, "response").c_str(),
                  grouped(static_cast<std::uint64_t>(std::llround(rate))).c_str(),
                  plural(now.failures, "error").c_str());
    return buf;
}

void print_text(std::FILE* out, const run_info& info, const load_result& result) {
    const figures f = compute(result);
    const results& r = result.counts;
    const tally& m = r.measured;
    std::fprintf(out, "scgi-bench %s %s: %s on %s, ", info.endpoint.c_str(), info.uri.c_str(),
                 plural(info.connections, "connection").c_str(), plural(info.threads, "thread").c_str());
    if (info.request_count != 0) {
        std::fprintf(out, "%s", plural(info.request_count, "request").c_str());
    } else {
        std::fprintf(out, "%.2f s", info.duration_s);
    }
    if (info.warmup_s > 0) std::fprintf(out, " after %.2f s of warm-up", info.warmup_s);
    std::fprintf(out, "; request %s (body %s)%s%s\n", bytes_text(static_cast<double>(info.request_bytes)).c_str(),
                 bytes_text(static_cast<double>(info.body_bytes)).c_str(), info.check_echo ? ", echo checked" : "",
                 result.stopped ? "; STOPPED EARLY" : "");

    std::fprintf(out, "  requests   %s answered, %s failed in %.3f s: %.1f req/s\n", grouped(m.responses).c_str(),
                 grouped(m.failures).c_str(), f.seconds, f.requests_per_second);
    std::fprintf(out, "  responses  %s, %s/s\n", bytes_text(static_cast<double>(m.response_bytes)).c_str(),
                 bytes_text(f.bytes_per_second).c_str());
    const histogram& h = r.latency;
    if (h.count() != 0) {
        std::fprintf(out, "  latency    min %s, mean %s, p50 %s, p90 %s, p99 %s, p99.9 %s, max %s\n",
                     duration_text(static_cast<double>(h.min())).c_str(), duration_text(h.mean()).c_str(),
                     duration_text(static_cast<double>(h.quantile(0.50))).c_str(),
                     duration_text(static_cast<double>(h.quantile(0.90))).c_str(),
                     duration_text(static_cast<double>(h.quantile(0.99))).c_str(),
                     duration_text(static_cast<double>(h.quantile(0.999))).c_str(),
                     duration_text(static_cast<double>(h.max())).c_str());
    }
    std::string statuses;
    for (std::size_t s = 0; s < r.status.size(); ++s) {
        if (r.status[s] == 0) continue;
        if (!statuses.empty()) statuses += ", ";
        statuses += std::to_string(s) + ": " + grouped(r.status[s]);
    }
    std::fprintf(out, "  status     %s\n", statuses.empty() ? "(no response)" : statuses.c_str());
    std::string failures;
    for (std::size_t k = 0; k < failure_kinds; ++k) {
        if (m.by_kind[k] == 0) continue;
        if (!failures.empty()) failures += ", ";
        failures += std::string(failure_name(static_cast<failure>(k))) + " " + grouped(m.by_kind[k]);
        if (const std::string why = cause(r, k); !why.empty()) failures += " (" + why + ")";
    }
    std::fprintf(out, "  errors     %s\n", failures.empty() ? "none" : failures.c_str());
    std::fprintf(out, "  whole run  %s answered, %s failed, %s abandoned (warm-up and the final drain included)\n",
                 grouped(r.total.responses).c_str(), grouped(r.total.failures).c_str(),
                 grouped(r.abandoned).c_str());

    if (!f.bands.empty()) {
        std::uint64_t most = 0;
        for (const auto& b : f.bands) most = std::max(most, b.count);
        std::fprintf(out, "  latency histogram:\n");
        for (const auto& b : f.bands) {
            const auto width = most == 0 ? 0 : static_cast<std::size_t>(
                (b.count * bar_width + most - 1) / most);  // a non-empty band shows at least one '#'
            const std::string bar = std::string(width, '#') + std::string(bar_width - width, ' ');
            std::fprintf(out, "    %10s - %-10s |%s| %5.1f %%\n", duration_text(static_cast<double>(b.low)).c_str(),
                         duration_text(static_cast<double>(b.high)).c_str(), bar.c_str(),
                         100.0 * static_cast<double>(b.count) / static_cast<double>(h.count()));
        }
    }
}

void print_json(std::FILE* out, const run_info& info, const load_result& result) {
    const figures f = compute(result);
    const results& r = result.counts;
    json_writer j(out);
    j.begin_object();
    json_run_info(j, info, "load");
    j.member("uri", info.uri);
    j.member("threads", info.threads);
    j.member("request_count", info.request_count);
    j.member("warmup_s", info.warmup_s);
    j.member("request_bytes", info.request_bytes);
    j.member("body_bytes", info.body_bytes);
    j.member("check_echo", info.check_echo);
    j.member("stopped_early", result.stopped);
    j.member("duration_s", f.seconds);
    j.member("requests", r.measured.responses);
    j.member("errors", r.measured.failures);
    j.member("requests_per_second", f.requests_per_second);
    j.member("response_bytes", r.measured.response_bytes);
    j.member("response_bytes_per_second", f.bytes_per_second);
    const histogram& h = r.latency;
    j.begin_object("latency_us");
    j.member("min", us(h.min()));
    j.member("mean", h.mean() / ns_per_us);
    j.member("p50", us(h.quantile(0.50)));
    j.member("p90", us(h.quantile(0.90)));
    j.member("p99", us(h.quantile(0.99)));
    j.member("p999", us(h.quantile(0.999)));
    j.member("max", us(h.max()));
    j.end_object();
    j.begin_object("status");
    for (std::size_t s = 0; s < r.status.size(); ++s) {
        if (r.status[s] != 0) j.member(std::to_string(s), r.status[s]);
    }
    j.end_object();
    json_failures(j, "errors_by_kind", r.measured);
    j.begin_object("error_causes");
    for (std::size_t k = 0; k < failure_kinds; ++k) {
        if (const std::string why = cause(r, k); !why.empty()) j.member(failure_name(static_cast<failure>(k)), why);
    }
    j.end_object();
    j.begin_object("total");
    j.member("requests", r.total.responses);
    j.member("errors", r.total.failures);
    j.member("abandoned", r.abandoned);
    j.member("response_bytes", r.total.response_bytes);
    json_failures(j, "errors_by_kind", r.total);
    j.end_object();
    j.begin_array("histogram_us");
    for (const auto& b : f.bands) {
        j.begin_object();
        j.member("from", us(b.low));
        j.member("to", us(b.high));
        j.member("count", b.count);
        j.end_object();
    }
    j.end_array();
    j.end_object();
    j.finish();
}

void print_idle_text(std::FILE* out, const run_info& info, const idle_result& result) {
    std::fprintf(out, "scgi-bench %s: idle, %s held for %.2f s (planned %.2f s)\n", info.endpoint.c_str(),
                 plural(info.connections, "connection").c_str(), std::chrono::duration<double>(result.held).count(),
                 info.duration_s);
    std::fprintf(out, "  connected         %s\n", grouped(result.connected).c_str());
    std::fprintf(out, "  failed            %s%s%s\n", grouped(result.failed).c_str(),
                 result.first_errno != 0 ? " (first: " : "",
                 result.first_errno != 0 ? (std::string(std::strerror(result.first_errno)) + ")").c_str() : "");
    std::fprintf(out, "  closed by server  %s\n", grouped(result.closed_by_server).c_str());
}

void print_idle_json(std::FILE* out, const run_info& info, const idle_result& result) {
    json_writer j(out);
    j.begin_object();
    json_run_info(j, info, "idle");
    j.member("hold_s", std::chrono::duration<double>(result.held).count());
    j.member("connected", std::uint64_t{result.connected});
    j.member("failed", std::uint64_t{result.failed});
    j.member("closed_by_server", std::uint64_t{result.closed_by_server});
    j.member("first_error", result.first_errno != 0 ? std::strerror(result.first_errno) : "");
    j.end_object();
    j.finish();
}

}  // namespace scgi::tools::bench
