// client ENDPOINT — the tokio-scgi sample client, in C++.
//
// Sends one POST with a JSON body and an X-Username header to an SCGI
// server and prints the response it gets.
#include <scgi/asio/client.hpp>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_future.hpp>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

namespace {

asio::awaitable<int> run(scgi::endpoint target) {
    scgi::client c(co_await asio::this_coro::executor, target);
    const std::string body = R"({"description": "my name is also bort <><><>"})";
    const std::vector<scgi::header> headers{
        {"REQUEST_METHOD", "POST"},
        {"REQUEST_URI", "/"},
        {"CONTENT_TYPE", "application/json"},
        {"HTTP_X_USERNAME", "bort"},
    };
    auto [ec, status, response_body] = co_await c.async_call(headers, body, 16 * 1024 * 1024,
                                                                asio::experimental::as_tuple(asio::use_awaitable));
    if (ec) {
        std::fprintf(stderr, "client: %s\n", ec.message().c_str());
        co_return 1;
    }
    // The response as it came: the CGI head, then the body.
    std::string head;
    c.head().serialize(head);
    std::printf("Got %zu bytes:\n%s%s", head.size() + response_body.size(), head.c_str(), response_body.c_str());
    co_return status >= 200 && status < 300 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s ENDPOINT   (host:port, [v6]:port, unix:/path or /path)\n", argv[0]);
        return 2;
    }
    try {
        const scgi::endpoint target = scgi::endpoint::parse(argv[1]);
        std::printf("Connecting to %s\n", target.to_string().c_str());
        std::fflush(stdout);
        asio::io_context io;
        auto result = asio::co_spawn(io, run(target), asio::use_future);
        io.run();
        return result.get();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "client: %s\n", e.what());
        return 1;
    }
}
