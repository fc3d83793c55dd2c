// The smallest client: one GET to an SCGI server, the body on stdout.
//   call ENDPOINT [URI]        e.g.  call unix:/run/app.sock /app/
#include <scgi/asio/client.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
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
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        scgi::client client(co_await asio::this_coro::executor, where);
        const std::vector<scgi::header> headers{{"REQUEST_METHOD", "GET"}, {"REQUEST_URI", uri}};
        auto [ec, code, body] = co_await client.call(headers, "", 1 << 20);
        if (ec) {
            std::fprintf(stderr, "call: %s\n", ec.message().c_str());
            co_return;
        }
        status = code;
        std::fwrite(body.data(), 1, body.size(), stdout);
    }, asio::detached);
    io.run();
    return status >= 200 && status < 400 ? 0 : 1;
}
