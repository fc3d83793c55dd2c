// The smallest client: one GET to an SCGI server, the body on stdout.
//   call ENDPOINT [URI]        e.g.  call unix:/run/app.sock /app/
#include <scgi/asio/client.hpp>

#include <asio/io_context.hpp>

#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: call ENDPOINT [URI]\n");
        return 2;
    }
    const scgi::endpoint where = scgi::endpoint::parse(argv[1]);  // throws on a bad one
    const std::string uri = argc > 2 ? argv[2] : "/";
    int status = 0;

    asio::io_context io;
    scgi::client client(io.get_executor(), where);
    const std::vector<scgi::header> headers{{"REQUEST_METHOD", "GET"}, {"REQUEST_URI", uri}};
    // Any completion token: a callback here; asio::use_future, or
    // asio::experimental::as_tuple(asio::use_awaitable) in a coroutine.
    client.async_call(headers, "", 1 << 20, [&](std::error_code ec, int code, std::string body) {
        if (ec) {
            std::fprintf(stderr, "call: %s\n", ec.message().c_str());
            return;
        }
        status = code;
        std::fwrite(body.data(), 1, body.size(), stdout);
    });
    io.run();
    return status >= 200 && status < 400 ? 0 : 1;
}
