// A program outside the project, built against the installed package's
// scgi::asio: a server on a Unix socket and a client that calls it.
#include <scgi/asio/client.hpp>
#include <scgi/asio/server.hpp>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include <cstdio>
#include <string>
#include <tuple>
#include <vector>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: asio_consumer SOCKET_PATH\n");
        return 2;
    }
    scgi::server_options options;
    options.handle_signals = false;
    scgi::server server(
        [](scgi::request& req) -> asio::awaitable<scgi::response> {
            auto [ec, body] = co_await req.read_body(1024);
            if (ec) co_return scgi::response::text(400, ec.message());
            co_return scgi::response::text(200, "got '" + body + "' at " + std::string(req.head().path()));
        },
        options);
    const scgi::endpoint where = server.listen(scgi::endpoint::unix_socket(argv[1]));
    server.start();

    asio::io_context io;
    auto call = asio::co_spawn(
        io,
        [&]() -> asio::awaitable<std::tuple<std::error_code, int, std::string>> {
            scgi::client client(co_await asio::this_coro::executor, where);
            const std::vector<scgi::header> headers{{"REQUEST_METHOD", "POST"}, {"REQUEST_URI", "/x"}};
            co_return co_await client.async_call(headers, "hi", 1024,
                                                 asio::experimental::as_tuple(asio::use_awaitable));
        },
        asio::use_future);
    io.run();
    const auto [ec, status, body] = call.get();
    server.stop();
    server.wait();
    if (ec) {
        std::printf("asio_consumer: %s\n", ec.message().c_str());
        return 1;
    }
    std::printf("asio_consumer: %d %s\n", status, body.c_str());
    return 0;
}
