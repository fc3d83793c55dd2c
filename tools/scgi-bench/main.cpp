// scgi-bench [options] ENDPOINT [URI]: a load generator for SCGI backends,
// wrk/h2load for SCGI. See --help and README.md ("scgi-bench").
#include "idle.hpp"
#include "load.hpp"
#include "report.hpp"
#include "stop.hpp"

#include "common/body_source.hpp"
#include "common/help_formatter.hpp"
#include "common/request_options.hpp"
#include "common/request_variables.hpp"

#include <scgi/asio/endpoint.hpp>

#include <CLI/CLI.hpp>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include <sys/resource.h>

namespace {

namespace bench = scgi::tools::bench;
using namespace std::chrono_literals;

// Exit statuses (also in --help and README.md).
constexpr int exit_ok = 0;          // every measured request answered and correct
constexpr int exit_failures = 1;    // the run went to its end, with failures (or nothing answered)
constexpr int exit_usage = 2;       // bad command line
constexpr int exit_cannot_run = 3;  // the endpoint does not resolve, too few descriptors, ...
constexpr int exit_stopped = 4;     // SIGINT/SIGTERM ended it early (the summary is still printed)

constexpr std::size_t spare_descriptors = 16;  // stdio, epoll instances, the body file
constexpr std::uint64_t max_body_size = std::uint64_t{1} << 32;

// "2.5", "2.5s", "500ms", "1m", "1h" -> seconds. No sign, no exponent.
std::optional<double> parse_seconds(std::string_view text) {
    static constexpr std::pair<std::string_view, double> units[] = {
        {"ms", 1e-3}, {"s", 1.0}, {"m", 60.0}, {"h", 3600.0}};
    double scale = 1.0;
    for (const auto& [suffix, factor] : units) {
        if (text.size() > suffix.size() && text.ends_with(suffix)) {
            text.remove_suffix(suffix.size());
            scale = factor;
            break;
        }
    }
    if (text.empty() || !(std::isdigit(static_cast<unsigned char>(text.front())) || text.front() == '.')) {
        return std::nullopt;
    }
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::fixed);
    if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value)) return std::nullopt;
    return value * scale;
}

std::chrono::nanoseconds to_duration(double seconds) {
    return std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(seconds * 1e9)));
}

// A CLI11 check for a number of seconds in [low, high].
CLI::Validator seconds_between(double low, double high) {
    return CLI::Validator(
        [low, high](std::string& text) -> std::string {
            const auto value = parse_seconds(text);
            if (!value) return "'" + text + "' is not a duration (seconds, or a number with ms, s, m or h)";
            if (*value < low || *value > high) {
                return "'" + text + "' is outside " + std::to_string(low) + " s .. " + std::to_string(high) + " s";
            }
            return {};
        },
        "");
}

// Raises the soft descriptor limit to the hard one; returns the soft limit.
rlim_t raise_descriptor_limit() {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
    if (lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) ::getrlimit(RLIMIT_NOFILE, &lim);
    }
    return lim.rlim_cur;
}

void on_stop_signal(int) { bench::request_stop(); }

// SIGINT/SIGTERM end the run early with a summary; a second one kills
// (SA_RESETHAND), for a run that does not stop.
void install_stop_handlers() {
    struct sigaction sa{};
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = static_cast<int>(SA_RESETHAND);
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    std::signal(SIGPIPE, SIG_IGN);  // sends use MSG_NOSIGNAL; this covers the rest
}

// Appends `size` bytes of "Hello, SCGI!\n" repeated to `out`.
void append_pattern(std::string& out, std::uint64_t size) {
    static constexpr std::string_view pattern = "Hello, SCGI!\n";  // 13 bytes
    const std::size_t end = out.size() + static_cast<std::size_t>(size);
    while (out.size() < end) out.append(pattern.substr(0, std::min(pattern.size(), end - out.size())));
}

// Appends the whole body a --data/--data-binary argument names to `out`.
// Throws std::system_error naming the source, as body_source does.
void append_whole(std::string& out, const scgi::tools::body_source& source) {
    const std::size_t start = out.size();
    out.resize(start + static_cast<std::size_t>(source.size()));
    for (std::size_t done = 0; start + done < out.size();) {
        std::error_code ec;
        const std::size_t n =
            source.read_at(done, std::span<char>(out.data() + start + done, out.size() - start - done), ec);
        if (ec) throw std::system_error(ec, source.name());
        done += n;
    }
}

struct cli_options {
    std::string endpoint;
    unsigned connections = 10;
    unsigned threads = 1;
    std::string duration = "10s";
    std::uint64_t requests = 0;
    std::string warmup = "0";
    std::string timeout = "10s";
    std::optional<std::uint64_t> body_size;
    bool check_echo = false;
    bool idle = false;
    bool json = false;
};

}  // namespace

int main(int argc, char** argv) {
    cli_options o;
    CLI::App app{"scgi-bench: a load generator for SCGI backends (wrk/h2load for SCGI). It keeps CONNECTIONS "
                 "requests in flight, one request per connection as SCGI front ends do, reads every response to "
                 "its end and checks it, and prints requests/s, latency percentiles, status codes and errors by "
                 "kind.",
                 "scgi-bench"};
    app.formatter(std::make_shared<scgi::tools::help_formatter>());
    app.set_version_flag("--version", "scgi-bench " SCGI_VERSION);
    app.footer(
        "ENDPOINT is host:port, [v6]:port, unix:/path or a path containing '/'. A host name with several\n"
        "addresses is probed first with one bare connection per address, to pick the first that accepts.\n"
        "\n"
        "A request fails (one count per kind) on: connect (refused, no such socket, backlog full), timeout,\n"
        "closed_early (the connection ended or was reset before the response head was complete),\n"
        "malformed (the head breaks the CGI response rules, or its Content-Length is not a number),\n"
        "wrong_length (the body's length differs from its Content-Length, or the connection was reset within\n"
        "the body; not checked for HEAD, 1xx, 204, 304), echo_mismatch (--check-echo: status not 2xx or the\n"
        "body differs). A timed run ends by giving the requests in flight up to 2 s (or --timeout) to\n"
        "finish; those still unanswered then are abandoned.\n"
        "\n"
        "Exit status: 0 every measured request answered without failure; 1 the run ended with failures, with\n"
        "requests abandoned, or with no request answered (idle: a connection failed or was closed), or the\n"
        "summary could not be written; 2 bad command line; 3 the run could not start (the endpoint does not\n"
        "resolve, too few file descriptors, no memory for the body); 4 stopped by SIGINT/SIGTERM (the\n"
        "summary of what ran is printed; a second signal kills).");
    app.add_option("ENDPOINT", o.endpoint, "The SCGI server")->required();
    // URI, -X, -H, -e, --data, --data-binary: as scgi-call has them (-d is
    // the duration here).
    scgi::tools::request_options request_opts;
    scgi::tools::add_request_options(app, request_opts, scgi::tools::data_flags::long_only);

    app.add_option("-c,--connections", o.connections,
                   "Requests in flight (one connection each), shared among the threads; "
                   "with --idle, the connections held")
        ->type_name("N")
        ->capture_default_str()
        ->check(CLI::Range(1u, 1'000'000u));
    auto* duration = app.add_option("-d,--duration", o.duration,
                                    "Length of the measured run (after --warmup): seconds, or with a unit: 500ms, "
                                    "30s, 2m, 1h; with --idle, how long to hold")
        ->type_name("SECONDS")
        ->capture_default_str()
        ->check(seconds_between(0.001, 1e6));
    auto* requests = app.add_option("-n,--requests", o.requests,
                                    "Send exactly this many measured requests (after --warmup), instead of -d")
        ->type_name("N")
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 62));
    requests->excludes(duration);
    auto* threads = app.add_option("-t,--threads", o.threads, "Threads, each its own event loop (at most -c)")
        ->type_name("N")
        ->capture_default_str()
        ->check(CLI::Range(1u, 1024u));
    auto* warmup = app.add_option("--warmup", o.warmup,
                                  "Run this long first without counting (the totals still include it)")
        ->type_name("SECONDS")
        ->capture_default_str()
        ->check(seconds_between(0, 1e6));
    auto* timeout = app.add_option("--timeout", o.timeout,
                                   "A request not answered to its end within this time (from its connect) fails")
        ->type_name("SECONDS")
        ->capture_default_str()
        ->check(seconds_between(0.001, 1e6));
    auto* body_size = app.add_option("--body-size", o.body_size,
                                     "Send a body of N bytes (\"Hello, SCGI!\\n\" repeated), as --data would "
                                     "(POST unless -X)")
        ->type_name("N")
        ->check(CLI::Range(std::uint64_t{0}, max_body_size))
        ->group("Request");
    body_size->excludes(app.get_option("--data"));
    body_size->excludes(app.get_option("--data-binary"));
    auto* check_echo = app.add_flag("--check-echo", o.check_echo,
                                    "The server echoes (like echo's /echo): a response counts only if its status "
                                    "is 2xx and its body equals the request body");
    auto* idle = app.add_flag("--idle", o.idle,
                              "Idle mode: open -c connections, send each the start of the request (its length "
                              "prefix up to ':'), hold them for -d, close them; measures a server's memory per "
                              "waiting connection");
    app.add_flag("--json", o.json,
                 "Print the summary as one JSON object on stdout (fields: README.md) instead of text");
    for (auto* load_only : {requests, threads, warmup, timeout, check_echo}) idle->excludes(load_only);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? exit_ok : exit_usage;  // --help is a success; every usage error exits 2
    }

    std::error_code ec;
    const scgi::endpoint endpoint = scgi::endpoint::parse(o.endpoint, ec);
    if (ec) {
        std::fprintf(stderr, "scgi-bench: ENDPOINT '%s': %s\n", o.endpoint.c_str(), ec.message().c_str());
        return exit_usage;
    }
    if (o.threads > o.connections) {
        std::fprintf(stderr, "scgi-bench: -t %u exceeds -c %u: each thread needs a connection\n", o.threads,
                     o.connections);
        return exit_usage;
    }

    // The request, encoded once: head then body, in one string (sent again
    // on every connection, so held in memory; the body is appended in place,
    // never copied).
    std::string request;
    std::size_t head_size = 0;
    std::string method;
    try {
        std::optional<scgi::tools::body_source> source;
        std::optional<std::uint64_t> body_length = o.body_size;
        if (request_opts.data) {
            source = scgi::tools::body_source::open(*request_opts.data);
            body_length = source->size();
        }
        if (body_length && *body_length > max_body_size) {
            std::fprintf(stderr, "scgi-bench: a body of %llu bytes; scgi-bench holds it in memory, at most %llu\n",
                         static_cast<unsigned long long>(*body_length),
                         static_cast<unsigned long long>(max_body_size));
            return exit_cannot_run;
        }
        const auto variables = scgi::tools::request_variables::build(request_opts, body_length);
        if (const auto encode_error = variables.encode(body_length.value_or(0), request)) {
            std::fprintf(stderr, "scgi-bench: cannot encode the request: %s\n", encode_error.message().c_str());
            return exit_usage;
        }
        head_size = request.size();
        method = variables.find("REQUEST_METHOD").value_or("");
        request.reserve(head_size + static_cast<std::size_t>(body_length.value_or(0)));
        if (source) {
            append_whole(request, *source);
        } else if (o.body_size) {
            append_pattern(request, *o.body_size);
        }
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "scgi-bench: %s\n", e.what());
        return exit_usage;
    } catch (const std::system_error& e) {
        std::fprintf(stderr, "scgi-bench: %s\n", e.what());
        return exit_cannot_run;
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "scgi-bench: not enough memory to hold the request and its body\n");
        return exit_cannot_run;
    }
    const std::string_view body = std::string_view(request).substr(head_size);

    const bench::socket_address address = bench::resolve_address(endpoint, ec);
    if (ec) {
        std::fprintf(stderr, "scgi-bench: %s: %s\n", o.endpoint.c_str(), ec.message().c_str());
        return exit_cannot_run;
    }
    const rlim_t descriptors = raise_descriptor_limit();
    if (o.connections + spare_descriptors > descriptors) {
        std::fprintf(stderr,
                     "scgi-bench: -c %u needs %zu file descriptors; the limit (RLIMIT_NOFILE, raised to its hard "
                     "limit) is %llu\n",
                     o.connections, o.connections + spare_descriptors, static_cast<unsigned long long>(descriptors));
        return exit_cannot_run;
    }
    install_stop_handlers();

    bench::run_info info;
    info.endpoint = o.endpoint;
    info.uri = request_opts.uri;
    info.connections = o.connections;
    info.threads = o.threads;
    info.request_count = o.requests;
    info.duration_s = *parse_seconds(o.duration);
    info.warmup_s = *parse_seconds(o.warmup);
    info.request_bytes = request.size();
    info.body_bytes = body.size();
    info.check_echo = o.check_echo;
    const bool terminal = ::isatty(STDERR_FILENO) == 1;

    try {
        if (o.idle) {
            bench::idle_plan plan;
            plan.address = address;
            plan.connections = o.connections;
            plan.first_bytes = std::string_view(request).substr(0, request.find(':') + 1);
            plan.hold = to_duration(info.duration_s);
            const auto result = bench::run_idle(plan, [&](std::size_t connected) {
                // Always said, terminal or not: scripts wait for this line
                // before they measure the server.
                std::fprintf(stderr, "scgi-bench: holding %zu idle connections for %.1f s\n", connected,
                             info.duration_s);
                std::fflush(stderr);
            });
            if (o.json) {
                bench::print_idle_json(stdout, info, result);
            } else {
                bench::print_idle_text(stdout, info, result);
            }
            if (bench::stop_requested()) return exit_stopped;
            return result.failed == 0 && result.closed_by_server == 0 ? exit_ok : exit_failures;
        }

        bench::load_plan plan;
        plan.address = address;
        plan.request = request;
        plan.body = body;
        plan.method = method;
        plan.connections = o.connections;
        plan.threads = o.threads;
        plan.request_count = o.requests;
        plan.duration = to_duration(info.duration_s);
        plan.warmup = to_duration(info.warmup_s);
        plan.timeout = to_duration(*parse_seconds(o.timeout));
        plan.check_echo = o.check_echo;
        bench::progress previous;
        const auto show_progress = [&](const bench::progress& now) {
            std::fprintf(stderr, "\r%s\033[K", bench::progress_line(now, previous).c_str());
            std::fflush(stderr);
            previous = now;
        };
        const auto result = terminal ? bench::run_load(plan, show_progress, 250ms) : bench::run_load(plan, {}, 250ms);
        if (terminal) std::fputs("\r\033[K", stderr);
        if (o.json) {
            bench::print_json(stdout, info, result);
        } else {
            bench::print_text(stdout, info, result);
        }
        if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
            std::fprintf(stderr, "scgi-bench: writing the summary: %s\n", std::strerror(errno));
            return exit_failures;
        }
        if (result.stopped) return exit_stopped;
        const auto& measured = result.counts.measured;
        const bool clean = measured.failures == 0 && measured.responses > 0 && result.counts.abandoned == 0;
        return clean ? exit_ok : exit_failures;
    } catch (const std::system_error& e) {
        std::fprintf(stderr, "scgi-bench: %s\n", e.what());
        return exit_cannot_run;
    }
}
