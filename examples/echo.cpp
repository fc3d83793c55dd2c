// echo [options] ENDPOINT — the reference SCGI backend of the integration
// tests (options: see `usage` below).
//
// Dispatches on the path part of REQUEST_URI:
//   .../echo    the request body back, byte for byte, streamed as it arrives
//   .../env     every request header in received order, NAME=VALUE per line
//   .../stream  ?n=BYTES (default 1048576) of "0123456789..." in pieces,
//               produced as they are written, without Content-Length
//   else        404
#include <scgi/asio/server.hpp>
#include <scgi/query_params.hpp>

#include <asio/awaitable.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

asio::awaitable<void> echo_body(scgi::request& req, scgi::response_writer& res) {
    scgi::response_head head;
    (void)head.add("Content-Type", "application/octet-stream");
    head.add_content_length(req.content_length());
    co_await res.write_head(head);
    for (;;) {
        auto [ec, piece] = co_await req.read_body_some();
        if (ec || piece.empty()) break;  // the server logs and closes on errors
        if (co_await res.write(piece)) break;
    }
    co_await res.finish();
}

asio::awaitable<void> env(scgi::request& req, scgi::response_writer& res) {
    std::string body;
    for (const scgi::header h : req.head()) {
        body.append(h.name).append("=").append(h.value).append("\n");
    }
    co_await res.send(scgi::response::text(200, std::move(body), "text/plain"));
}

asio::awaitable<void> stream(scgi::request& req, scgi::response_writer& res) {
    std::uint64_t total = 1048576;
    std::error_code ec;
    if (const auto n = scgi::find_query_param(req.head().query(), "n", ec); n && !ec) {
        const auto [end, parse_error] = std::from_chars(n->data(), n->data() + n->size(), total);
        if (parse_error != std::errc{} || end != n->data() + n->size()) {
            co_await res.send(scgi::response::text(400, "n must be a number of bytes\n"));
            co_return;
        }
    }
    scgi::response_head head;
    (void)head.add("Content-Type", "application/octet-stream");
    co_await res.write_head(head);
    // 64 KiB pieces of the pattern, produced one at a time.
    std::string piece;
    std::uint64_t sent = 0;
    while (sent < total) {
        const auto size = static_cast<std::size_t>(std::min<std::uint64_t>(total - sent, 64 * 1024));
        piece.resize(size);
        for (std::size_t i = 0; i < size; ++i) piece[i] = static_cast<char>('0' + (sent + i) % 10);
        if (co_await res.write(piece)) co_return;
        sent += size;
    }
    co_await res.finish();
}

asio::awaitable<void> handle(scgi::request& req, scgi::response_writer& res) {
    const std::string_view path = req.head().path();
    if (ends_with(path, "/echo")) co_return co_await echo_body(req, res);
    if (ends_with(path, "/env")) co_return co_await env(req, res);
    if (ends_with(path, "/stream")) co_return co_await stream(req, res);
    co_await res.send(scgi::response::text(404, "no such path: " + std::string(path) + "\n"));
}

struct command_line {
    scgi::server_options options;
    std::string endpoint;
    bool help = false;
};

constexpr const char* usage =
    "usage: echo [--threads N] [--reuse-port] [--socket-mode OCTAL] [--socket-group GROUP]\n"
    "            [--full-duplex] ENDPOINT\n"
    "The reference SCGI backend: .../echo streams the body back, .../env lists the\n"
    "headers received, .../stream?n=BYTES sends BYTES of a pattern.\n"
    "  ENDPOINT        host:port, [v6]:port, unix:/path or /path\n"
    "  --threads N     serve on N threads (default 1)\n"
    "  --reuse-port    SO_REUSEPORT: several processes share the TCP port\n"
    "  --socket-mode   mode of the Unix socket file (default 0660)\n"
    "  --socket-group  group of the Unix socket file (the web server's, e.g. www-data)\n"
    "  --full-duplex   answer while the body still arrives (unsafe behind nginx and Apache)\n";

// Throws std::invalid_argument with a message for anything it cannot use.
command_line parse(int argc, char** argv) {
    command_line line;
    const auto value = [&](int& i) -> std::string_view {
        if (i + 1 >= argc) throw std::invalid_argument(std::string(argv[i]) + " needs a value");
        return argv[++i];
    };
    const auto number = [](std::string_view text, int base, std::string_view what) {
        unsigned long n = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n, base);
        if (ec != std::errc{} || end != text.data() + text.size()) {
            throw std::invalid_argument(std::string(what) + " is not a number: " + std::string(text));
        }
        return n;
    };
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            line.help = true;
        } else if (arg == "--threads") {
            line.options.threads = static_cast<unsigned>(number(value(i), 10, "--threads"));
        } else if (arg == "--reuse-port") {
            line.options.listen.reuse_port = true;
        } else if (arg == "--socket-mode") {
            line.options.listen.unix_socket_mode = static_cast<mode_t>(number(value(i), 8, "--socket-mode"));
        } else if (arg == "--socket-group") {
            line.options.listen.unix_socket_group = value(i);
        } else if (arg == "--full-duplex") {
            line.options.receive_body_before_response = false;
        } else if (arg.starts_with("-") || !line.endpoint.empty()) {
            throw std::invalid_argument("unexpected argument: " + std::string(arg));
        } else {
            line.endpoint = arg;
        }
    }
    if (line.endpoint.empty() && !line.help) throw std::invalid_argument("no ENDPOINT");
    return line;
}

}  // namespace

int main(int argc, char** argv) {
    command_line line;
    try {
        line = parse(argc, argv);
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "echo: %s\n%s", e.what(), usage);
        return 2;
    }
    if (line.help) {
        std::fputs(usage, stdout);
        return 0;
    }
    try {
        scgi::server server(handle, line.options);
        const scgi::endpoint where = server.listen(scgi::endpoint::parse(line.endpoint));
        std::printf("Listening on %s\n", where.to_string().c_str());
        std::fflush(stdout);
        server.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "echo: %s\n", e.what());
        return 1;
    }
    return 0;
}
