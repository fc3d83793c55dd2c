// A program outside the project, built against the installed package.
#include <scgi/scgi.hpp>

#include <cstdio>
#include <string>

int main() {
    std::string wire;
    if (scgi::encode_request({{"REQUEST_METHOD", "POST"}, {"REQUEST_URI", "/x"}}, 2, wire)) return 1;
    wire += "hi";
    scgi::request_parser parser;
    std::error_code ec;
    std::string_view rest = wire;
    std::string body;
    while (!parser.is_done()) {
        rest.remove_prefix(parser.put(rest, ec));
        if (ec) {
            std::printf("consumer: %s\n", ec.message().c_str());
            return 1;
        }
        body += parser.body_piece();
    }
    std::printf("consumer: %zu headers, body '%s'\n", parser.head().size(), body.c_str());
    return 0;
}
