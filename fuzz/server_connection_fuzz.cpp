// libFuzzer target: a whole scgi::server connection, over a real Unix socket.
//
// Two servers run for the life of the fuzzing process, one thread each, with
// short timeouts (head, body and write 10 ms) and small limits, each on a
// listening socket in the abstract namespace (in-memory, nothing on disk)
// that is handed to it with server::adopt:
//   server 0: receive_body_before_response (the default), strict parser,
//             spool.max_bytes 256 (a response started with more body unread
//             is refused: 413), read_buffer_size 64;
//   server 1: streaming (receive_body_before_response off), lenient parser
//             (CONTENT_LENGTH anywhere, SCGI optional, first duplicate wins),
//             read_buffer_size 1000.
// Both: header_block_bytes 512, header_count 16, body_bytes 2048.
//
// Each input is one connection. Input layout (bytes from the front; a
// missing byte reads as 0):
//
//   byte 0  flags: bit 0 the server (above); bits 1-2 how the client ends:
//           0 keeps its side open and reads the answer to its end, 1 half-closes
//           (shutdown SHUT_WR) and reads, 2 resets (SO_LINGER 0, close) without
//           reading, 3 reads byte 4's count of answer bytes, then resets;
//           bit 3 builds the request (below) instead of taking it raw;
//           bit 4 pauses 100 us after each of the first 32 pieces, so the
//           server reads them separately
//   byte 1  chunking scheme, byte 2 its seed (scgi_fuzz::make_cuts): the
//           pieces the request is sent in
//   byte 3  how much of the request is sent before the end: 255 all of it,
//           else size * byte / 255 bytes
//   byte 4  answer bytes read before a reset (end 3)
//   byte 5  n, the handler script's length (at most 16 steps); 2 * n bytes
//           follow, an (operation, argument) pair per step (see `step`)
//   rest    raw: the request bytes. Built: a body length byte B, a signed
//           CONTENT_LENGTH adjustment D (-128: no CONTENT_LENGTH at all),
//           then extra header block bytes (a NUL is added if they do not end
//           in one), of which the last B are the body instead. The request
//           is `<len>:CONTENT_LENGTH\0<B+D>\0SCGI\01\0<extra>,<body>`.
//
// The handler follows the script, recording what it read and what each
// write sent. Then the checks. Always: the client's every wait is bounded
// (3 s for the answer to end; a server that keeps the socket open longer, or
// sends more than 8 MiB, is a finding), and the server must let go of the
// connection (active_connections back to 0) within 3 s of the client
// closing. The outcome is compared with a model only when the client sent
// what it meant to (the server may close early, e.g. after refusing a head,
// and then a send fails) and read to the end (ends 0 and 1). Timing: when
// the exchange lasted at least head_timeout, a 408 without the handler is
// accepted whatever was sent, as either thread may have been descheduled
// that long; every other timeout shows in the handler's record (a body read
// or a write that failed with body_timeout) and the model follows the
// record, not the clock. The model feeds the
// bytes sent to a request_parser with the server's options (plus the end of
// input for a half-close):
//   - a parser error: the handler never runs; the answer is the server's own
//     with status_for(error) (400, 413, 431), or nothing for a half-close in
//     the middle of the head (partial_request; status_for gives 0);
//   - an incomplete head, kept open: 408 after head_timeout;
//   - a whole head: the handler ran, every body byte it read is the request's
//     own (a prefix of the body sent), and the answer is
//     * exactly the bytes the handler's successful writes sent, if it
//       returned normally with its head sent and no write failed;
//     * its held-back head (sent by the server's finish), if it wrote a head
//       and no body; or, on server 0 with body bytes unread (the server
//       spools the rest before the head), the refusals that spooling can
//       give: 413 (over spool.max_bytes), 408 (the body stopped coming),
//       nothing (the client half-closed mid-body);
//     * after a write that failed with nothing sent before it: 413 for
//       spool_limit_exceeded, 408 for body_timeout, else nothing;
//     * after a failure with bytes already sent (a write failed part way,
//       the handler threw): any prefix of what was sent plus the failed
//       write's bytes (the server resets the connection);
//     * the server's 500, if the handler threw or returned without a head
//       and nothing was sent; or nothing on server 0 if the body was not
//       all sent (the server waits for it before answering, and it never
//       comes).
//   A server answer must parse with response_parser, have the expected
//   status and exactly its Content-Length of body after it: one answer, no
//   bytes after it.
// Declared lengths: a handler whose head declares Content-Length L and that
// writes more must have the crossing write fail with content_length_mismatch
// and only the first L body bytes sent; whatever the answer, the client never
// sees more body bytes than its head declares.
//
// A broken rule prints the input's decoded story and aborts (libFuzzer saves
// the input). Everything a connection uses is freed when it ends; the
// servers are stopped and joined at exit.

#include "fuzz_support.hpp"
#include "send_all.hpp"  // tests/support

#include <scgi/asio/server.hpp>
#include <scgi/error.hpp>
#include <scgi/request_parser.hpp>
#include <scgi/response_head.hpp>
#include <scgi/response_parser.hpp>
#include <scgi/status.hpp>

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace {

using scgi::error;
using scgi_fuzz::describe;
using scgi_fuzz::printable;
using namespace std::chrono_literals;

constexpr auto answer_deadline = 3s;    // the client's wait for the end of the answer
constexpr auto release_deadline = 3s;   // the server letting go after the client is done
constexpr std::size_t answer_cap = 8 * 1024 * 1024;  // 16 writes of 255 KiB fit
constexpr std::size_t max_steps = 16;
constexpr auto head_timeout = 10ms;  // and body_timeout, write_timeout

// --- The handler's script and what it did --------------------------------------

struct step {
    // op % 13: 0 read_body_some; 1 read to the end (or an error);
    // 2 read_body(arg * 8); 3 discard_body; 4 write_head (arg bits 0-2 the
    // status, bit 3 declares Content-Length (arg >> 4) * 3); 5 write arg
    // bytes; 6 write arg * 16 bytes; 7 finish; 8 send a whole text response
    // of arg bytes; 9 throw; 10 return; 11 sleep arg % 16 ms; 12 write
    // arg KiB (more than a Unix socket's buffer takes at once, so the write
    // waits for the client to read, under write_timeout).
    std::uint8_t op = 0;
    std::uint8_t arg = 0;
};

struct handler_record {
    bool started = false;
    bool threw = false;
    bool head_written = false;  // writer.head_written() when the handler ended
    std::string head;           // the serialized head written (held back until a write)
    std::optional<std::uint64_t> declared_length;
    bool head_sent = false;       // a write succeeded: the head left
    std::uint64_t body_sent = 0;  // body bytes of the successful writes
    std::string sent;             // bytes of the successful writes, head first
    std::string maybe_sent;       // `sent` plus the bytes of the write that failed
    std::error_code write_error;  // the first failed write's error
    bool error_with_nothing_sent = false;
    std::string body_seen;  // body bytes the handler read
    bool body_read_failed = false;
    bool body_unread_at_end = false;  // body_remaining() > 0 when the handler ended
};

// One server's side of the exchange with the fuzzing thread: the script for
// its next connection and the record of its last one. The mutex orders them
// between the two threads (one connection at a time, so never contended).
struct exchange {
    std::mutex mutex;
    std::vector<step> script;
    handler_record record;
};

char body_byte(std::size_t at) { return static_cast<char>('a' + at % 26); }

std::optional<std::uint64_t> parse_length(std::optional<std::string_view> text) {
    if (!text || text->empty() || text->size() > 18) return std::nullopt;
    std::uint64_t value = 0;
    for (const char c : *text) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return value;
}

// Records a write of `piece` that returned `ec`.
void note_write(handler_record& r, std::string_view piece, std::error_code ec) {
    if (r.write_error) {
        SCGI_FUZZ_CHECK(ec == r.write_error);  // errors are sticky
        return;
    }
    std::string bytes = r.head_sent ? std::string() : r.head;
    const bool crosses = r.declared_length && r.body_sent + piece.size() > *r.declared_length;
    if (ec == error::content_length_mismatch) {
        // Only a write that crosses the declared length fails so, and it
        // sends the bytes up to that length.
        SCGI_FUZZ_CHECK(crosses);
        const auto room = static_cast<std::size_t>(*r.declared_length - r.body_sent);
        bytes.append(piece.substr(0, room));
        r.sent += bytes;
        r.maybe_sent = r.sent;
        r.body_sent += room;
        r.head_sent = true;
        r.write_error = ec;
        return;
    }
    bytes.append(piece);
    if (!ec) {
        // A write that crosses the declared length must not succeed.
        SCGI_FUZZ_CHECK(!crosses);
        r.sent += bytes;
        r.body_sent += piece.size();
        r.head_sent = true;
        return;
    }
    r.maybe_sent = r.sent + bytes;
    r.write_error = ec;
    r.error_with_nothing_sent = !r.head_sent;
}

const int statuses[8] = {200, 201, 204, 302, 404, 500, 503, 299};

asio::awaitable<void> follow(const std::vector<step>& script, handler_record& r, scgi::request& req,
                             scgi::response_writer& writer) {
    const auto note_body = [&r](std::error_code ec, std::string_view piece) {
        if (ec) r.body_read_failed = true;
        r.body_seen += piece;
    };
    for (const step s : script) {
        switch (s.op % 13) {
        case 0: {
            auto [ec, piece] = co_await req.read_body_some();
            note_body(ec, piece);
            break;
        }
        case 1:
            for (int reads = 0; reads < 10000; ++reads) {
                auto [ec, piece] = co_await req.read_body_some();
                note_body(ec, piece);
                if (ec || piece.empty()) break;
            }
            break;
        case 2: {
            auto [ec, body] = co_await req.read_body(std::size_t{s.arg} * 8);
            // A refusal for the limit reads nothing.
            if (ec != error::body_too_large) note_body(ec, body);
            break;
        }
        case 3: {
            const std::error_code ec = co_await req.discard_body();
            if (ec) r.body_read_failed = true;
            // Dropped bytes were read, unseen: later reads must not repeat
            // them, so nothing can be checked against the body any more.
            r.body_seen.clear();
            r.body_read_failed = true;
            break;
        }
        case 4: {
            scgi::response_head head;
            head.set_status(statuses[s.arg & 7]);
            head.add("Content-Type", "text/plain");
            if ((s.arg & 8) != 0) head.add_content_length(static_cast<std::uint64_t>(s.arg >> 4) * 3u);
            writer.write_head(head);  // throws if called twice: the handler "throws"
            r.head.clear();
            head.serialize(r.head);
            r.declared_length = parse_length(head.find("Content-Length"));
            break;
        }
        case 5:
        case 6:
        case 12: {
            const std::size_t size = s.op % 13 == 5   ? s.arg
                                     : s.op % 13 == 6 ? std::size_t{s.arg} * 16
                                                      : std::size_t{s.arg} * 1024;
            std::string piece(size, '\0');
            for (std::size_t i = 0; i < size; ++i) piece[i] = body_byte(r.body_sent + i);
            const std::error_code ec = co_await writer.write(piece);
            note_write(r, piece, ec);
            break;
        }
        case 7: {
            const std::error_code ec = co_await writer.finish();
            note_write(r, {}, ec);
            break;
        }
        case 8: {
            std::string text(s.arg, 'x');
            const scgi::response whole = scgi::response::text(statuses[s.arg & 7], text);
            std::string head;
            if (whole.head.find("Content-Length")) {
                whole.head.serialize(head);
            } else {
                whole.head.serialize(head, whole.body.size());
            }
            const std::error_code ec = co_await writer.send(whole);
            // send() checked the head was not written yet (it throws): now it is.
            r.head = head;
            r.declared_length = whole.body.size();
            note_write(r, whole.body, ec);
            break;
        }
        case 9:
            throw std::runtime_error("scripted failure");
        case 10:
            co_return;
        default: {  // 11
            asio::steady_timer timer(co_await asio::this_coro::executor);
            timer.expires_after(std::chrono::milliseconds(s.arg % 16));
            co_await timer.async_wait(asio::use_awaitable);
            break;
        }
        }
    }
}

scgi::handler scripted_handler(exchange& x) {
    return [&x](scgi::request& req, scgi::response_writer& writer) -> asio::awaitable<void> {
        std::vector<step> script;
        {
            std::lock_guard lock(x.mutex);
            script = x.script;
        }
        handler_record r;
        r.started = true;
        std::exception_ptr failure;
        try {
            co_await follow(script, r, req, writer);
        } catch (...) {
            failure = std::current_exception();
            r.threw = true;
        }
        r.head_written = writer.head_written();
        r.body_unread_at_end = req.body_remaining() > 0;
        {
            std::lock_guard lock(x.mutex);
            x.record = std::move(r);
        }
        if (failure) std::rethrow_exception(failure);
    };
}

// --- The servers ---------------------------------------------------------------

struct fuzzed_server {
    exchange x;
    scgi::parser_options parser;
    bool receive_first = true;
    std::string address;  // abstract: starts with NUL
    std::unique_ptr<scgi::server> server;
};

// A Unix socket address in the abstract namespace (`name` starts with NUL).
struct abstract_address {
    explicit abstract_address(const std::string& name) {
        address.sun_family = AF_UNIX;
        std::memcpy(address.sun_path, name.data(), name.size());
        length = static_cast<socklen_t>(offsetof(::sockaddr_un, sun_path) + name.size());
    }
    const ::sockaddr* get() const { return reinterpret_cast<const ::sockaddr*>(&address); }

    ::sockaddr_un address{};
    socklen_t length = 0;
};

// A listening Unix socket in the abstract namespace; aborts on failure (the
// fuzzer cannot run without it).
int listen_abstract(const std::string& name) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const abstract_address address(name);
    if (fd < 0 || ::bind(fd, address.get(), address.length) != 0 || ::listen(fd, 64) != 0) {
        std::perror("server_connection_fuzz: listening socket");
        std::abort();
    }
    return fd;
}

class servers {
public:
    servers() {
        for (unsigned i = 0; i < 2; ++i) {
            auto& s = all_[i];
            scgi::server_options o;
            o.threads = 1;
            o.max_connections = 4;
            o.head_timeout = head_timeout;
            o.body_timeout = head_timeout;
            o.write_timeout = head_timeout;
            o.stop_timeout = 100ms;
            o.handle_signals = false;
            o.log = [](scgi::log_level, std::string_view) {};
            o.parser.limits.header_block_bytes = 512;
            o.parser.limits.header_count = 16;
            o.parser.limits.body_bytes = 2048;
            if (i == 0) {
                o.receive_body_before_response = true;
                o.spool.max_bytes = 256;
                o.read_buffer_size = 64;
            } else {
                o.receive_body_before_response = false;
                o.read_buffer_size = 1000;
                o.parser.allow_content_length_anywhere = true;
                o.parser.allow_missing_scgi = true;
                o.parser.duplicates = scgi::duplicate_policy::first_wins;
            }
            s.parser = o.parser;
            s.receive_first = o.receive_body_before_response;
            s.address = std::string(1, '\0') + "scgi-server-connection-fuzz-" + std::to_string(::getpid()) + "-" +
                        std::to_string(i);
            s.server = std::make_unique<scgi::server>(scripted_handler(s.x), std::move(o));
            s.server->adopt(listen_abstract(s.address));
            s.server->start();
        }
    }
    ~servers() {
        for (auto& s : all_) {
            s.server->stop();
            s.server->wait();
        }
    }
    fuzzed_server& operator[](unsigned i) { return all_[i]; }

private:
    fuzzed_server all_[2];
};

servers& the_servers() {
    static servers instance;
    return instance;
}

// --- The input -----------------------------------------------------------------

enum class ending { keep_open, half_close, reset, read_then_reset };

struct decoded {
    unsigned server = 0;
    ending end = ending::keep_open;
    bool built = false;
    bool paced = false;
    std::uint8_t scheme = 0, seed = 0, send_fraction = 255, read_before_reset = 0;
    std::vector<step> script;
    std::string request;
};

decoded decode(const std::uint8_t* data, std::size_t size) {
    std::size_t at = 0;
    const auto byte = [&]() -> std::uint8_t { return at < size ? data[at++] : 0; };
    decoded d;
    const std::uint8_t flags = byte();
    d.server = flags & 1u;
    d.end = static_cast<ending>((flags >> 1) & 3u);
    d.built = (flags & 8u) != 0;
    d.paced = (flags & 16u) != 0;
    d.scheme = byte();
    d.seed = byte();
    d.send_fraction = byte();
    d.read_before_reset = byte();
    const std::size_t steps = std::min<std::size_t>(byte(), max_steps);
    for (std::size_t i = 0; i < steps; ++i) {
        step s;
        s.op = byte();
        s.arg = byte();
        d.script.push_back(s);
    }
    std::string_view rest(reinterpret_cast<const char*>(data) + std::min(at, size), size - std::min(at, size));
    if (!d.built) {
        d.request = std::string(rest);
        return d;
    }
    std::size_t body_size = 0;
    int adjust = 0;
    if (!rest.empty()) {
        body_size = static_cast<std::uint8_t>(rest[0]);
        rest.remove_prefix(1);
    }
    if (!rest.empty()) {
        adjust = static_cast<std::int8_t>(rest[0]);
        rest.remove_prefix(1);
    }
    body_size = std::min(body_size, rest.size());
    const std::string_view body = rest.substr(rest.size() - body_size);
    std::string extra(rest.substr(0, rest.size() - body_size));
    if (!extra.empty() && extra.back() != '\0') extra.push_back('\0');
    std::string block;
    if (adjust != -128) {
        const long long length = std::max(0LL, static_cast<long long>(body.size()) + adjust);
        block += std::string("CONTENT_LENGTH\0", 15) + std::to_string(length) + '\0';
    }
    block += std::string("SCGI\0" "1\0", 7) + extra;
    d.request = std::to_string(block.size()) + ":" + block + "," + std::string(body);
    return d;
}

// --- The client ----------------------------------------------------------------

struct answer {
    std::string bytes;
    bool reset = false;     // the read ended with ECONNRESET
    bool complete = false;  // the read reached the end (EOF or reset)
};

int connect_to(const std::string& name) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const abstract_address address(name);
    if (fd < 0 || ::connect(fd, address.get(), address.length) != 0) {
        std::perror("server_connection_fuzz: connect");
        std::abort();
    }
    return fd;
}

// Reads until the end of the answer, `limit` bytes, or the deadline (a hang).
answer read_answer(int fd, std::size_t limit) {
    answer a;
    const auto deadline = std::chrono::steady_clock::now() + answer_deadline;
    char buffer[4096];
    while (a.bytes.size() < limit) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                                std::chrono::steady_clock::now());
        if (left.count() <= 0) return a;
        ::pollfd p{fd, POLLIN, 0};
        const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) return a;
        const std::size_t want = std::min(sizeof buffer, limit - a.bytes.size());
        const ssize_t n = ::recv(fd, buffer, want, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            a.reset = errno == ECONNRESET;
            a.complete = true;
            return a;
        }
        if (n == 0) {
            a.complete = true;
            return a;
        }
        a.bytes.append(buffer, static_cast<std::size_t>(n));
    }
    return a;
}

void close_with_reset(int fd) {
    const ::linger hard{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    ::close(fd);
}

// --- The model -----------------------------------------------------------------

[[noreturn]] void finding(const char* what, const decoded& d, const std::string& sent, const answer& a,
                          const handler_record& r) {
    std::fprintf(stderr, "\n*** server_connection_fuzz: %s\n", what);
    std::fprintf(stderr, "server %u, end %d, %s request, %zu steps\n", d.server, static_cast<int>(d.end),
                 d.built ? "built" : "raw", d.script.size());
    for (const step s : d.script) std::fprintf(stderr, "  step op %d arg %d\n", s.op % 13, s.arg);
    std::fprintf(stderr, "sent (%zu): \"%s\"\n", sent.size(), printable(sent, 400).c_str());
    std::fprintf(stderr, "answer (%zu, %s%s): \"%s\"\n", a.bytes.size(), a.complete ? "complete" : "INCOMPLETE",
                 a.reset ? ", reset" : "", printable(a.bytes, 600).c_str());
    std::fprintf(stderr,
                 "handler: started %d threw %d head_written %d head_sent %d body_sent %llu write_error %s "
                 "(nothing sent before: %d) body_seen %zu read_failed %d unread_at_end %d\n",
                 r.started, r.threw, r.head_written, r.head_sent, static_cast<unsigned long long>(r.body_sent),
                 describe(r.write_error).c_str(), r.error_with_nothing_sent, r.body_seen.size(), r.body_read_failed,
                 r.body_unread_at_end);
    std::fprintf(stderr, "handler sent (%zu): \"%s\"\n", r.sent.size(), printable(r.sent, 600).c_str());
    std::fflush(stderr);
    std::abort();
}

// What the answer may be.
struct expectation {
    bool nothing = false;                 // no byte at all
    std::optional<std::string> exact;     // the handler's bytes, whole
    std::optional<std::string> prefix;    // any prefix of these (a failure after sending)
    std::vector<int> server_statuses;     // one server answer with one of these
};

// True if `bytes` is one whole server answer with `status`.
bool is_server_answer(std::string_view bytes, int status) {
    scgi::response_parser parser;
    std::error_code ec;
    const std::size_t used = parser.put(bytes, ec);
    if (ec || !parser.is_head_done() || parser.head().status() != status) return false;
    const auto length = parse_length(parser.head().find("Content-Length"));
    return length && *length == bytes.size() - used;
}

bool meets(const expectation& e, const answer& a) {
    if (e.nothing && a.bytes.empty()) return true;
    if (e.exact && a.bytes == *e.exact) return true;
    if (e.prefix && std::string_view(*e.prefix).starts_with(a.bytes)) return true;
    for (const int status : e.server_statuses) {
        if (is_server_answer(a.bytes, status)) return true;
    }
    return false;
}

// Whatever else happened: no body byte past a declared Content-Length.
bool within_declared_length(std::string_view bytes) {
    scgi::response_parser parser;
    std::error_code ec;
    const std::size_t used = parser.put(bytes, ec);
    if (ec || !parser.is_head_done()) return true;  // no head, nothing declared
    const auto length = parse_length(parser.head().find("Content-Length"));
    return !length || bytes.size() - used <= *length;
}

void check(const fuzzed_server& s, const decoded& d, const std::string& sent, const answer& a,
           const handler_record& r, std::chrono::steady_clock::duration elapsed) {
    if (!within_declared_length(a.bytes)) finding("body bytes after the declared Content-Length", d, sent, a, r);

    // A connection that lasted head_timeout may have met it whatever it sent:
    // the client thread (or the server's) can be held up that long on a busy
    // machine, and then a 408 with no handler run is a right answer.
    if (!r.started && elapsed >= head_timeout && is_server_answer(a.bytes, 408)) return;

    scgi::request_parser parser(s.parser);
    std::error_code ec;
    const std::size_t head_size = parser.put(sent, ec);
    if (ec == error::need_more && d.end == ending::half_close) parser.put_eof(ec);

    expectation e;
    if (ec && ec != error::need_more) {
        if (r.started) finding("the handler ran for a refused request", d, sent, a, r);
        const int status = scgi::status_for(ec);
        if (status == 0) {
            e.nothing = true;
        } else {
            e.server_statuses.push_back(status);
        }
        if (!meets(e, a)) finding("not the server's answer to a refused request", d, sent, a, r);
        return;
    }
    if (!parser.is_head_done()) {
        if (r.started) finding("the handler ran before the head was whole", d, sent, a, r);
        e.server_statuses.push_back(scgi::status_for(error::head_timeout));
        if (!meets(e, a)) finding("not a 408 for a head that never completed", d, sent, a, r);
        return;
    }
    if (!r.started) finding("a whole head, but the handler never ran", d, sent, a, r);

    const std::uint64_t length = parser.head().content_length();
    const std::string_view after_head = std::string_view(sent).substr(head_size);
    const bool body_whole = after_head.size() >= length;
    const std::string_view body = after_head.substr(0, static_cast<std::size_t>(std::min<std::uint64_t>(length, after_head.size())));
    if (!body.starts_with(r.body_seen)) finding("the handler read bytes that are not the request's body", d, sent, a, r);
    if (!r.body_read_failed && !r.body_unread_at_end && r.body_seen.size() != length && body_whole) {
        finding("the handler read the whole body, but not all of it", d, sent, a, r);
    }

    // Spooling the body before the first response byte can refuse (server 0).
    const auto spool_refusals = [&] {
        if (!s.receive_first || !r.body_unread_at_end) return;
        e.server_statuses.push_back(413);
        e.server_statuses.push_back(408);
        e.nothing = e.nothing || !body_whole;
    };
    if (r.threw || !r.head_written) {
        if (r.head_sent) {
            e.prefix = r.write_error ? r.maybe_sent : r.sent;
        } else if (r.write_error && !r.error_with_nothing_sent) {
            e.prefix = r.maybe_sent;
        } else {
            e.server_statuses.push_back(500);
            e.nothing = s.receive_first && !body_whole;
            // A failed write can have sent part of its bytes.
            if (r.write_error) e.prefix = r.maybe_sent;
        }
    } else if (r.write_error == error::content_length_mismatch) {
        e.exact = r.sent;
    } else if (r.write_error) {
        if (r.error_with_nothing_sent) {
            if (r.write_error == error::spool_limit_exceeded) {
                e.server_statuses.push_back(413);
            } else if (r.write_error == error::body_timeout) {
                e.server_statuses.push_back(408);
            } else {
                e.nothing = true;
            }
        }
        e.prefix = r.maybe_sent;
    } else if (!r.head_sent) {
        // The head is held back: the server's finish sends it.
        e.exact = r.head;
        spool_refusals();
    } else {
        e.exact = r.sent;
    }
    // Where the server answers on its own after the handler, it may first
    // wait for the rest of the body; after head_timeout (= body_timeout) of
    // delay that wait can end in a 408 or in nothing, whatever was sent.
    if (!e.server_statuses.empty() && elapsed >= head_timeout) {
        e.server_statuses.push_back(408);
        e.nothing = true;
    }
    if (!meets(e, a)) finding("the answer is not what the handler wrote or the server may say", d, sent, a, r);
}

// Waits until `s` has accepted `accepted` connections in all and serves none.
// The server counts an accepted connection, then an active one: seen
// between the two, it would look released before it began, so the state
// must hold at two looks 100 us apart.
bool wait_until_released(const fuzzed_server& s, std::size_t accepted) {
    const auto deadline = std::chrono::steady_clock::now() + release_deadline;
    const auto released = [&] {
        return s.server->connections_accepted() >= accepted && s.server->active_connections() == 0;
    };
    for (;;) {
        if (released()) {
            std::this_thread::sleep_for(100us);
            if (released()) return true;
        }
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(50us);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const decoded d = decode(data, size);
    fuzzed_server& s = the_servers()[d.server];
    {
        std::lock_guard lock(s.x.mutex);
        s.x.script = d.script;
        s.x.record = {};
    }
    const std::size_t accepted_before = s.server->connections_accepted();

    const std::size_t send_size =
        d.send_fraction == 255 ? d.request.size() : d.request.size() * d.send_fraction / 255;
    const std::string sent = d.request.substr(0, send_size);
    const auto connected_at = std::chrono::steady_clock::now();
    const int fd = connect_to(s.address);
    bool all_sent = true;
    std::size_t from = 0;
    int pauses = 0;
    const auto cuts = scgi_fuzz::make_cuts(sent.size(), d.scheme, d.seed);
    for (std::size_t i = 0; i <= cuts.size() && all_sent; ++i) {
        const std::size_t to = i < cuts.size() ? cuts[i] : sent.size();
        all_sent = scgi::test::send_all(fd, std::string_view(sent).substr(from, to - from));
        from = to;
        if (d.paced && pauses < 32 && i < cuts.size()) {
            ++pauses;
            std::this_thread::sleep_for(100us);
        }
    }

    answer a;
    switch (d.end) {
    case ending::keep_open:
    case ending::half_close:
        if (d.end == ending::half_close) ::shutdown(fd, SHUT_WR);
        a = read_answer(fd, answer_cap + 1);
        ::close(fd);
        break;
    case ending::reset:
        close_with_reset(fd);
        break;
    case ending::read_then_reset:
        a = read_answer(fd, d.read_before_reset);
        close_with_reset(fd);
        break;
    }

    handler_record r;
    const bool released = wait_until_released(s, accepted_before + 1);
    {
        std::lock_guard lock(s.x.mutex);
        r = s.x.record;
    }
    if (!released) finding("the server kept the connection after the client left", d, sent, a, r);
    const bool read_to_end = d.end == ending::keep_open || d.end == ending::half_close;
    if (read_to_end && !a.complete) {
        finding(a.bytes.size() > answer_cap ? "an endless answer" : "the answer never ended (a hang)", d, sent, a,
                r);
    }
    if (read_to_end && all_sent) check(s, d, sent, a, r, std::chrono::steady_clock::now() - connected_at);
    return 0;
}
