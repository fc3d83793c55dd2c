// echo [options] ENDPOINT — the reference SCGI backend of the integration
// tests (options: see `usage` below).
//
// Dispatches on the path part of REQUEST_URI:
//   .../echo    the request body back, byte for byte, streamed as it arrives
//   .../env     every request header in received order, NAME=VALUE per line
//   .../stream  ?n=BYTES (default 1048576) of "0123456789..." in pieces,
//               produced as they are written, without Content-Length
//   .../file    hands a file to the front end, with an empty body:
//               ?path=/abs/file  answers `X-Sendfile: /abs/file` (Apache's
//                                mod_xsendfile, lighttpd's x-sendfile)
//               ?uri=/internal   answers `X-Accel-Redirect: /internal` (nginx)
//               Exactly one of the two, else 400. echo checks nothing else:
//               the front end's configuration decides which files may be
//               sent (XSendFilePath, x-sendfile-docroot, an `internal`
//               location), as it must for any backend.
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

// Each answer completes with the outcome of its last write: an error means
// the front end went away mid-response, or the server refused the response
// (and logged why); `handle` reports it.

asio::awaitable<std::error_code> echo_body(scgi::request& req, scgi::response_writer& res) {
    scgi::response_head head;
    head.add("Content-Type", "application/octet-stream");
    head.add_content_length(req.content_length());
    res.write_head(head);
    for (;;) {
        auto [ec, piece] = co_await req.read_body_some();
        if (ec || piece.empty()) break;  // the server logs and closes on errors
        const std::error_code written = co_await res.write(piece);
        if (written) co_return written;
    }
    co_return co_await res.finish();
}

asio::awaitable<std::error_code> env(scgi::request& req, scgi::response_writer& res) {
    std::string body;
    for (const scgi::header h : req.head()) {
        body.append(h.name).append("=").append(h.value).append("\n");
    }
    const scgi::response answer = scgi::response::text(200, std::move(body), "text/plain");
    co_return co_await res.send(answer);
}

asio::awaitable<std::error_code> stream(scgi::request& req, scgi::response_writer& res) {
    std::uint64_t total = 1048576;
    std::error_code ec;
    if (const auto n = scgi::find_query_param(req.head().query(), "n", ec); n && !ec) {
        const auto [end, parse_error] = std::from_chars(n->data(), n->data() + n->size(), total);
        if (parse_error != std::errc{} || end != n->data() + n->size()) {
            const scgi::response refusal = scgi::response::text(400, "n must be a number of bytes\n");
            co_return co_await res.send(refusal);
        }
    }
    scgi::response_head head;
    head.add("Content-Type", "application/octet-stream");
    res.write_head(head);
    // 64 KiB pieces of the pattern, each a view of one block made once
    // (64 KiB and one period more), starting where the previous piece
    // stopped: the bytes cost nothing to produce, so a download measures
    // the server, as one served from a cache or a file would.
    constexpr std::size_t piece_size = 64 * 1024;
    static const std::string pattern = [] {
        std::string block(piece_size + 10, '\0');
        for (std::size_t i = 0; i < block.size(); ++i) block[i] = static_cast<char>('0' + i % 10);
        return block;
    }();
    std::uint64_t sent = 0;
    while (sent < total) {
        const auto size = static_cast<std::size_t>(std::min<std::uint64_t>(total - sent, piece_size));
        const std::string_view piece = std::string_view(pattern).substr(static_cast<std::size_t>(sent % 10), size);
        const std::error_code written = co_await res.write(piece);
        if (written) co_return written;
        sent += size;
    }
    co_return co_await res.finish();
}

asio::awaitable<std::error_code> file(scgi::request& req, scgi::response_writer& res) {
    std::error_code path_ec;
    std::error_code uri_ec;
    const auto path = scgi::find_query_param(req.head().query(), "path", path_ec);
    const auto uri = scgi::find_query_param(req.head().query(), "uri", uri_ec);
    const scgi::response answer =
        path_ec || uri_ec || path.has_value() == uri.has_value()
            ? scgi::response::text(400, "file wants exactly one of ?path=FILE or ?uri=URI\n")
            : path ? scgi::response::sendfile(*path) : scgi::response::nginx_file(*uri);
    co_return co_await res.send(answer);
}

asio::awaitable<std::error_code> answer(scgi::request& req, scgi::response_writer& res) {
    const std::string_view path = req.head().path();
    if (path.ends_with("/echo")) co_return co_await echo_body(req, res);
    if (path.ends_with("/env")) co_return co_await env(req, res);
    if (path.ends_with("/stream")) co_return co_await stream(req, res);
    if (path.ends_with("/file")) co_return co_await file(req, res);
    const scgi::response not_found = scgi::response::text(404, "no such path: " + std::string(path) + "\n");
    co_return co_await res.send(not_found);
}

asio::awaitable<void> handle(scgi::request& req, scgi::response_writer& res) {
    const std::error_code ec = co_await answer(req, res);
    if (ec) {
        std::fprintf(stderr, "echo: answer to %s %s not sent whole: %s\n", std::string(req.head().method()).c_str(),
                     std::string(req.head().uri()).c_str(), ec.message().c_str());
    }
}

struct command_line {
    scgi::server_options options;
    std::string endpoint;
    bool socket_activation = false;
    bool help = false;
};

constexpr const char* usage =
    "usage: echo [--threads N] [--reuse-port] [--socket-mode OCTAL] [--socket-group GROUP]\n"
    "            [--full-duplex] [--nginx-unbuffered] [--allow-peer CIDR]... [--allow-uid UID]...\n"
    "            [--allow-gid GID]... ENDPOINT | --socket-activation\n"
    "The reference SCGI backend: .../echo streams the body back, .../env lists the\n"
    "headers received, .../stream?n=BYTES sends BYTES of a pattern, .../file?path=FILE\n"
    "or ?uri=URI hands a file to the front end (X-Sendfile, X-Accel-Redirect).\n"
    "  ENDPOINT        host:port, [v6]:port, unix:/path or /path\n"
    "  --threads N     serve on N threads (default 1)\n"
    "  --reuse-port    SO_REUSEPORT: several processes share the TCP port\n"
    "  --socket-mode   mode of the Unix socket file (default 0660)\n"
    "  --socket-group  group of the Unix socket file (the web server's, e.g. www-data)\n"
    "  --full-duplex   answer while the body still arrives (unsafe behind nginx and Apache)\n"
    "  --nginx-unbuffered  take the body length from HTTP_CONTENT_LENGTH when CONTENT_LENGTH\n"
    "                  differs (nginx with scgi_request_buffering off)\n"
    "  --socket-activation  serve the sockets systemd passes (LISTEN_FDS), no ENDPOINT\n"
    "  --allow-peer CIDR  serve only TCP peers in these prefixes (127.0.0.1, 10.0.0.0/8, ::1,\n"
    "                  fd00::/8; repeatable); others are closed unanswered, logged once a minute\n"
    "  --allow-uid UID  serve only Unix-socket peers running as these users (numeric, repeatable)\n"
    "  --allow-gid GID  ... or in these effective groups (numeric, repeatable)\n"
    "                  Default: every peer; the socket's mode and group, or a 127.0.0.1 bind,\n"
    "                  keep others out\n";

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
    // A user or group id: decimal, and not (uid_t)-1, which means "none".
    const auto id = [&](std::string_view text, std::string_view what) {
        const unsigned long n = number(text, 10, what);
        if (n >= static_cast<unsigned long>(static_cast<uid_t>(-1))) {
            throw std::invalid_argument(std::string(what) + " is out of range: " + std::string(text));
        }
        return n;
    };
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            line.help = true;
        } else if (arg == "--threads") {
            const unsigned long threads = number(value(i), 10, "--threads");
            if (threads == 0 || threads > 1024) throw std::invalid_argument("--threads must be 1 to 1024");
            line.options.threads = static_cast<unsigned>(threads);
        } else if (arg == "--reuse-port") {
            line.options.listen.reuse_port = true;
        } else if (arg == "--socket-mode") {
            const unsigned long mode = number(value(i), 8, "--socket-mode");
            if (mode > 07777) throw std::invalid_argument("--socket-mode must be an octal mode up to 7777");
            line.options.listen.unix_socket_mode = static_cast<mode_t>(mode);
        } else if (arg == "--socket-group") {
            line.options.listen.unix_socket_group = value(i);
        } else if (arg == "--full-duplex") {
            line.options.receive_body_before_response = false;
        } else if (arg == "--nginx-unbuffered") {
            line.options.parser.body_length_from_http_content_length = true;
        } else if (arg == "--allow-peer") {
            const std::string_view text = value(i);
            std::error_code ec;
            line.options.peers.allowed_addresses.push_back(scgi::address_prefix::parse(text, ec));
            if (ec) throw std::invalid_argument("--allow-peer " + std::string(text) + ": " + ec.message());
        } else if (arg == "--allow-uid") {
            line.options.peers.allowed_uids.push_back(static_cast<uid_t>(id(value(i), "--allow-uid")));
        } else if (arg == "--allow-gid") {
            line.options.peers.allowed_gids.push_back(static_cast<gid_t>(id(value(i), "--allow-gid")));
        } else if (arg == "--socket-activation") {
            line.socket_activation = true;
        } else if (arg.starts_with("-") || !line.endpoint.empty()) {
            throw std::invalid_argument("unexpected argument: " + std::string(arg));
        } else {
            line.endpoint = arg;
        }
    }
    if (line.socket_activation && !line.endpoint.empty()) {
        throw std::invalid_argument("ENDPOINT and --socket-activation exclude each other");
    }
    if (line.endpoint.empty() && !line.socket_activation && !line.help) {
        throw std::invalid_argument("no ENDPOINT");
    }
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
        if (line.socket_activation) {
            if (server.adopt_activated_sockets() == 0) {
                std::fprintf(stderr, "echo: --socket-activation, but no LISTEN_FDS/LISTEN_PID for this process\n");
                return 1;
            }
        } else {
            server.listen(scgi::endpoint::parse(line.endpoint));
        }
        for (const scgi::endpoint& where : server.endpoints()) {
            std::printf("Listening on %s\n", where.to_string().c_str());
        }
        std::fflush(stdout);
        server.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "echo: %s\n", e.what());
        return 1;
    }
    return 0;
}
