// Dropped results of response and request operations, which must not
// compile silently. Built only by the test `discarded_result_warns`
// (check.cmake), with -Werror=unused-result: it expects a diagnostic on
// exactly the lines marked "never awaited" (every compiler: the functions
// are [[nodiscard]]) and, with clang, on those marked "result dropped" (the
// result type io_result is [[nodiscard]]; g++ 12 does not diagnose a
// discarded co_await result). The other lines must pass.
#include <scgi/asio/server.hpp>

#include <system_error>

asio::awaitable<void> handle(scgi::request& req, scgi::response_writer& res) {
    const scgi::response answer = scgi::response::text(200, "ok");
    res.write_head(answer.head);
    co_await res.write("piece");  // result dropped
    co_await res.send(answer);    // result dropped
    co_await res.finish();        // result dropped
    co_await req.discard_body();  // result dropped
    res.write("piece");           // never awaited
    res.finish();                 // never awaited
    req.discard_body();           // never awaited
    req.read_body_some();         // never awaited
    const std::error_code kept = co_await res.write("piece");
    (void)co_await res.finish();  // dropped on purpose
    if (kept) co_return;
}
