// The codec on its own, synchronously: encode the request the seed's example
// client sends, parse it back as a server would (fed in small pieces, as a
// socket delivers them), then write and parse the response head.
#include <scgi/scgi.hpp>

#include <cstdio>
#include <string>
#include <string_view>

namespace {

// Shows the wire bytes with NUL as \0, so the netstring framing is visible.
std::string printable(std::string_view bytes) {
    std::string out;
    for (char c : bytes) {
        if (c == '\0') {
            out += "\\0";
        } else {
            out += c;
        }
    }
    return out;
}

int fail(const char* what, std::error_code ec) {
    std::fprintf(stderr, "%s: %s\n", what, ec.message().c_str());
    return 1;
}

}  // namespace

int main() {
    const std::string_view body = R"({"description": "my name is also bort <><><>"})";

    // 1. Client side: encode the head; the body follows it unchanged.
    std::string wire;
    if (auto ec = scgi::encode_request({{"REQUEST_METHOD", "POST"},
                                        {"REQUEST_URI", "/demo?lang=en&q=life+universe"},
                                        {"CONTENT_TYPE", "application/json"},
                                        {"HTTP_X_USERNAME", "bort"}},
                                       body.size(), wire)) {
        return fail("encode", ec);
    }
    const std::size_t head_size = wire.size();
    wire += body;
    std::printf("Encoded %zu bytes (%zu of head):\n%s\n\n", wire.size(), head_size,
                printable(wire).c_str());

    // 2. Server side: the parser's driving loop, with "reads" of at most 7
    //    bytes standing in for a socket.
    scgi::request_parser parser;
    std::string received_body;
    std::error_code ec;
    std::size_t reads = 0;
    std::string_view peer = wire;  // what the client has still to send
    std::string_view input;        // what the last read returned, unconsumed
    for (;;) {
        input.remove_prefix(parser.put(input, ec));
        if (ec == scgi::error::need_more) {
            if (peer.empty()) {
                parser.put_eof(ec);  // the peer closed early
                return fail("parse", ec);
            }
            input = peer.substr(0, 7);
            peer.remove_prefix(input.size());
            ++reads;
            continue;
        }
        if (ec) return fail("parse", ec);  // the message names the broken rule
        received_body += parser.body_piece();
        if (parser.is_done()) break;
    }

    const scgi::request_head& head = parser.head();
    std::printf("Parsed after %zu reads: %zu headers\n", reads, head.size());
    for (const scgi::header h : head) {
        std::printf("  %s = %s\n", std::string(h.name).c_str(), std::string(h.value).c_str());
    }
    const auto q = scgi::find_query_param(head.query(), "q", ec);
    std::printf("method %s, path %s, query parameter q = \"%s\", X-Username = %s\n",
                std::string(head.method()).c_str(), std::string(head.path()).c_str(),
                q.value_or("").c_str(), std::string(head.http_header("X-Username").value_or("")).c_str());
    std::printf("body (%zu bytes): %s\n\n", received_body.size(), received_body.c_str());

    // 3. The response head, in the CGI Status: form front ends accept.
    scgi::response_head response;
    response.add("Content-Type", "text/plain");
    response.add_content_length(2);
    std::string response_wire;
    response.serialize(response_wire);
    response_wire += "42";
    std::printf("Response (%zu bytes):\n%s\n\n", response_wire.size(), response_wire.c_str());

    // 4. Client side again: parse the response head; the rest is body.
    scgi::response_parser response_parser;
    const std::size_t n = response_parser.put(response_wire, ec);
    if (ec) return fail("response parse", ec);
    std::printf("Parsed response: %d %.*s, %zu headers, body \"%s\"\n",
                response_parser.head().status(),
                static_cast<int>(response_parser.head().reason().size()),
                response_parser.head().reason().data(), response_parser.head().size(),
                response_wire.substr(n).c_str());
    return 0;
}
