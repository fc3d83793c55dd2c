// echo ENDPOINT — the reference SCGI backend of the integration tests.
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

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s ENDPOINT   (host:port, [v6]:port, unix:/path or /path)\n", argv[0]);
        return 2;
    }
    try {
        scgi::server server(handle);
        const scgi::endpoint where = server.listen(scgi::endpoint::parse(argv[1]));
        std::printf("Listening on %s\n", where.to_string().c_str());
        std::fflush(stdout);
        server.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "echo: %s\n", e.what());
        return 1;
    }
    return 0;
}
