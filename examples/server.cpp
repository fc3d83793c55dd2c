// server ENDPOINT — the tokio-scgi sample server, in C++.
//
// Answers every request with an HTML page holding the time, the request's
// headers and its body (HTML-escaped). It waits for the whole body, by
// CONTENT_LENGTH, however many pieces it arrives in.
#include <scgi/asio/server.hpp>

#include <asio/awaitable.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

namespace {

std::string escape_html(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        switch (c) {
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '&': out += "&amp;"; break;
        default: out += c;
        }
    }
    return out;
}

// The body is collected up to this size; a larger one gets 413.
constexpr std::size_t body_limit = 1024 * 1024;

asio::awaitable<scgi::response> handle(scgi::request& req) {
    auto [ec, body] = co_await req.read_body(body_limit);
    if (ec == scgi::error::body_too_large) co_return scgi::response::text(413, "body too large\n");
    if (ec) co_return scgi::response::text(400, ec.message() + "\n");

    const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
    const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch).count();
    std::string headers;
    for (const scgi::header h : req.head()) {
        if (!headers.empty()) headers += ", ";
        headers += "(\"" + escape_html(h.name) + "\", \"" + escape_html(h.value) + "\")";
    }
    std::string page = "<html><head><title>scgi-sample-server</title></head><body>\n";
    char epoch[48];
    std::snprintf(epoch, sizeof epoch, "%lld.%09lld", static_cast<long long>(nanos / 1000000000),
                  static_cast<long long>(nanos % 1000000000));
    page += "<p>hello! the epoch time is " + std::string(epoch) + "s, and your request was:</p>\n";
    page += "<ul><li>headers: [" + headers + "]</li>\n";
    page += "<li>body (" + std::to_string(body.size()) + " bytes): " + escape_html(body) + "</li></ul>\n";
    page += "</body></html>\n";
    co_return scgi::response::text(200, std::move(page), "text/html");
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
        std::fprintf(stderr, "server: %s\n", e.what());
        return 1;
    }
    return 0;
}
