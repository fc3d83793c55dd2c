// scgi-call [options] ENDPOINT [URI] — curl for SCGI backends: sends one
// request to an SCGI server and writes the response to stdout as it arrives.
// See `--help` (the text below) and the README's "Tools" section.
#include "common/body_source.hpp"
#include "common/help_formatter.hpp"
#include "common/request_options.hpp"
#include "common/request_variables.hpp"
#include "exchange.hpp"
#include "exit_status.hpp"

#include <scgi/asio/endpoint.hpp>

#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <unistd.h>

namespace {

using scgi::tools::exit_status;

constexpr const char* description =
    "scgi-call: curl for SCGI backends. Sends one request to the SCGI server at ENDPOINT and writes the\n"
    "response body to stdout as it arrives.\n\n"
    "By default the request is what nginx with Debian's scgi_params sends for a GET of URI:\n"
    "CONTENT_LENGTH, SCGI=1, REQUEST_METHOD, REQUEST_URI, QUERY_STRING, CONTENT_TYPE, DOCUMENT_URI,\n"
    "DOCUMENT_ROOT=/var/www/html, SERVER_PROTOCOL=HTTP/1.1, REQUEST_SCHEME=http, REMOTE_ADDR=127.0.0.1,\n"
    "REMOTE_PORT=0, SERVER_PORT=80, SERVER_NAME=localhost, HTTP_HOST=localhost; then each -H as HTTP_*,\n"
    "then each -e. -v shows exactly what is sent.\n";

constexpr const char* footer =
    "ENDPOINT: host:port, [v6]:port, unix:/path, or any path with a '/' (a Unix socket).\n\n"
    "A body (-d, --data-binary, --raw) is sent while the response is read, so a server that answers\n"
    "before reading it all is heard. Its length is needed first (CONTENT_LENGTH leads the request): a\n"
    "file's comes from fstat; stdin (@-) or a pipe is first read to its end into an unnamed temporary\n"
    "file in $TMPDIR (or /tmp), never into memory.\n\n"
    "Exit status:\n"
    "   0  a response came (any status, unless --fail)\n"
    "   1  internal error\n"
    "   2  usage: bad option, ENDPOINT, -H or -e\n"
    "   6  the host name does not resolve\n"
    "   7  cannot connect: refused, no socket file, permission denied, unreachable\n"
    "   8  malformed response head, or the connection closed within it\n"
    "  18  the response body's length differs from its Content-Length\n"
    "  22  --fail and a status of 400 or more\n"
    "  23  writing the output (stdout, -o FILE) failed\n"
    "  26  reading the body or the --raw file failed\n"
    "  28  --timeout passed\n"
    "  52  the server closed the connection without answering\n"
    "  56  the connection failed during the exchange (reset, ...)\n"
    "Each failure prints one line on stderr: scgi-call: ENDPOINT: cause.\n\n"
    "Examples:\n"
    "  scgi-call unix:/run/app.sock /status\n"
    "  scgi-call -i -H 'X-Forwarded-For: 10.0.0.7' 127.0.0.1:4000 '/app/env?a=1'\n"
    "  scgi-call --data-binary @photo.jpg -H 'Content-Type: image/jpeg' /run/app.sock /upload\n"
    "  printf '01:A' | scgi-call --raw - /run/app.sock    # a malformed request: the server's answer, raw";

// Opens the -o file, or stdout; -1 and `error` set on failure.
int run(int argc, char** argv) {
    CLI::App app(description, "scgi-call");
    app.formatter(std::make_shared<scgi::tools::help_formatter>());
    std::string endpoint_text;
    scgi::tools::request_options request;
    std::string raw_path;
    std::string output_path;
    bool include = false;
    bool head_only = false;
    bool verbose = false;
    bool fail = false;
    double timeout = 0;

    app.add_option("ENDPOINT", endpoint_text, "The SCGI server: host:port, [v6]:port, unix:/path or /path")
        ->required();
    scgi::tools::add_request_options(app, request);
    auto* raw = app.add_option("--raw", raw_path,
                               "Send FILE's bytes as they are (- for stdin) instead of a request built from the "
                               "options, and write every byte received as it is: for trying how a server takes "
                               "malformed input. Not with the request options, -i or -I")
                    ->option_text("FILE")
                    ->group("Request");
    auto* include_flag = app.add_flag("-i,--include", include, "Write the response head, as received, before the body")
                             ->group("Output");
    auto* head_flag = app.add_flag("-I,--head", head_only,
                                   "Write the response head only, and close without reading the body (unlike curl, "
                                   "the method stays: add -X HEAD for that)")
                          ->excludes(include_flag)
                          ->group("Output");
    for (const char* other : {"URI", "--request", "--header", "--env", "--data", "--data-binary"}) {
        raw->excludes(app.get_option(other));
    }
    raw->excludes(include_flag)->excludes(head_flag);
    app.add_option("-o,--output", output_path,
                   "Write to FILE instead of stdout; FILE is created or truncated only when there is something to "
                   "write or the exchange succeeded")
        ->option_text("FILE")
        ->group("Output");
    app.add_flag("-f,--fail", fail,
                 "Exit with 22, writing nothing, when the status is 400 or more (curl's --fail)")
        ->group("Output");
    app.add_flag("-v,--verbose", verbose,
                 "On stderr: the request head sent, one variable a line with its NULs as \u2400, and the "
                 "response head as parsed")
        ->group("Output");
    app.add_option("--timeout", timeout,
                   "Give up after SECONDS (fractions allowed) from the connection attempt to the end of the "
                   "response, writing the output included (default: no limit)")
        ->option_text("SECONDS")
        ->check(CLI::Range(0.001, 1e6))
        ->group("Connection");
    app.set_version_flag("--version", "scgi-call " SCGI_VERSION);
    app.footer(footer);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : static_cast<int>(exit_status::usage);
    }

    std::error_code ec;
    const scgi::endpoint target = scgi::endpoint::parse(endpoint_text, ec);
    if (ec) {
        std::fprintf(stderr, "scgi-call: ENDPOINT '%s': %s\n", endpoint_text.c_str(), ec.message().c_str());
        return static_cast<int>(exit_status::usage);
    }
    const std::string where = target.to_string();
    const auto failed = [&where](exit_status status, const std::string& message) {
        std::fprintf(stderr, "scgi-call: %s: %s\n", where.c_str(), message.c_str());
        return static_cast<int>(status);
    };

    const bool is_raw = !raw_path.empty();
    scgi::tools::request_variables variables;
    scgi::tools::body_source body;
    try {
        if (is_raw) {
            body = scgi::tools::body_source::open("@" + raw_path);
        } else {
            std::optional<std::uint64_t> body_length;
            if (request.data) {
                body = scgi::tools::body_source::open(*request.data);
                body_length = body.size();
            }
            variables = scgi::tools::request_variables::build(request, body_length);
        }
    } catch (const std::invalid_argument& e) {
        return failed(exit_status::usage, e.what());
    } catch (const std::system_error& e) {
        return failed(exit_status::read_error, std::string("cannot read the body: ") + e.what());
    }
    if (!is_raw) {
        std::string head;
        if (const auto encode_error = variables.encode(body.size(), head)) {
            return failed(exit_status::usage, "cannot encode the request: " + encode_error.message());
        }
    }

    scgi::tools::exchange_settings settings;
    settings.target = target;
    settings.addresses = scgi::resolve(target, ec);
    if (ec) {
        return failed(target.type() == scgi::endpoint::kind::tcp ? exit_status::resolve : exit_status::usage,
                      "cannot resolve " + target.host() + ": " + ec.message());
    }
    settings.headers = variables.headers();
    settings.body = &body;
    settings.output = is_raw      ? scgi::tools::output_mode::raw
                      : head_only ? scgi::tools::output_mode::head_only
                      : include   ? scgi::tools::output_mode::head_and_body
                                  : scgi::tools::output_mode::body;
    settings.method = std::string(variables.find("REQUEST_METHOD").value_or(""));
    settings.fail_on_http_error = fail;
    settings.verbose = verbose;
    if (timeout > 0) settings.timeout = std::chrono::milliseconds(std::llround(timeout * 1000));
    settings.output_path = output_path;

    const scgi::tools::exchange_result result = scgi::tools::run_exchange(settings);
    if (result.status != exit_status::ok) return failed(result.status, result.message);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    // A closed stdout or socket is an error to report, not a signal to die of.
    std::signal(SIGPIPE, SIG_IGN);
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "scgi-call: %s\n", e.what());
        return static_cast<int>(exit_status::internal);
    }
}
