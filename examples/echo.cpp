// echo [OPTIONS] ENDPOINT — the reference SCGI backend of the integration tests.
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
//
// Options:
//   --reuse-port          SO_REUSEPORT on a TCP endpoint (several echo
//                         processes share one port)
//   --socket-mode OCTAL   the Unix socket file's mode (default 0660)
//   --socket-group GROUP  the Unix socket file's group (e.g. www-data, so
//                         that the front end's workers may connect)
//   --socket-activation   serve the sockets systemd passes (LISTEN_FDS,
//                         LISTEN_PID) instead of an ENDPOINT
#include <scgi/asio/server.hpp>
#include <scgi/query_params.hpp>

#include <asio/awaitable.hpp>

#include <grp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <system_error>

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

asio::awaitable<void> file(scgi::request& req, scgi::response_writer& res) {
    std::error_code path_ec;
    std::error_code uri_ec;
    const auto path = scgi::find_query_param(req.head().query(), "path", path_ec);
    const auto uri = scgi::find_query_param(req.head().query(), "uri", uri_ec);
    if (path_ec || uri_ec || path.has_value() == uri.has_value()) {
        co_await res.send(scgi::response::text(400, "file wants exactly one of ?path=FILE or ?uri=URI\n"));
    } else if (path) {
        co_await res.send(scgi::response::sendfile(*path));
    } else {
        co_await res.send(scgi::response::nginx_file(*uri));
    }
}

asio::awaitable<void> handle(scgi::request& req, scgi::response_writer& res) {
    const std::string_view path = req.head().path();
    if (ends_with(path, "/echo")) co_return co_await echo_body(req, res);
    if (ends_with(path, "/env")) co_return co_await env(req, res);
    if (ends_with(path, "/stream")) co_return co_await stream(req, res);
    if (ends_with(path, "/file")) co_return co_await file(req, res);
    co_await res.send(scgi::response::text(404, "no such path: " + std::string(path) + "\n"));
}

int usage(const char* argv0) {
    std::fprintf(stderr,
                 "usage: %s [--reuse-port] [--socket-mode OCTAL] [--socket-group GROUP] ENDPOINT\n"
                 "       %s [--socket-activation]\n"
                 "ENDPOINT: host:port, [v6]:port, unix:/path or /path\n",
                 argv0, argv0);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    scgi::server_options options;
    const char* group = nullptr;
    const char* where_text = nullptr;
    bool activated = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--reuse-port") {
            options.listen.reuse_port = true;
        } else if (arg == "--socket-activation") {
            activated = true;
        } else if (arg == "--socket-mode" && i + 1 < argc) {
            const std::string_view mode = argv[++i];
            unsigned value = 0;
            const auto [end, ec] = std::from_chars(mode.data(), mode.data() + mode.size(), value, 8);
            if (ec != std::errc{} || end != mode.data() + mode.size() || value > 07777) return usage(argv[0]);
            options.listen.unix_socket_mode = static_cast<mode_t>(value);
        } else if (arg == "--socket-group" && i + 1 < argc) {
            group = argv[++i];
        } else if (!arg.starts_with("-") && where_text == nullptr) {
            where_text = argv[i];
        } else {
            return usage(argv[0]);
        }
    }
    if (activated == (where_text != nullptr)) return usage(argv[0]);
    try {
        scgi::server server(handle, options);
        if (activated) {
            if (server.adopt_activated_sockets() == 0) {
                std::fprintf(stderr, "echo: --socket-activation, but no LISTEN_FDS/LISTEN_PID for this process\n");
                return 1;
            }
        } else {
            const scgi::endpoint where = server.listen(scgi::endpoint::parse(where_text));
            if (group != nullptr && where.type() == scgi::endpoint::kind::unix_socket) {
                const ::group* g = ::getgrnam(group);
                if (g == nullptr) {
                    std::fprintf(stderr, "echo: no group named %s\n", group);
                    return 1;
                }
                if (::chown(where.path().c_str(), static_cast<uid_t>(-1), g->gr_gid) != 0) {
                    throw std::system_error(errno, std::system_category(), "chown " + where.path());
                }
            }
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
