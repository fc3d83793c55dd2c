// mixed_load ENDPOINT [options] — checks that a server echoing request bodies
// (echo's /echo) loses nothing and mixes nothing up under hostile pacing.
//
// CONNECTIONS threads each send one request per connection, for DURATION:
// a body of a random size (0 B to --max-body, most of them small), whose
// bytes are a pseudo-random stream seeded by the request's own number, sent
// in random pieces with random pauses, while the response is read at the
// same time (so a full-duplex server cannot deadlock it). Each response must
// parse with the codec's response_parser, have status 200, and carry exactly
// the request's body: length, every byte, and the checksum of the stream the
// request number seeds (a response meant for another request has another
// checksum). Prints the count checked and every failure (the first 20 in
// full); exit status 0 only if every request was checked and none failed.
//
// Used by scripts/soak (60 s, 64 connections) and, briefly, by the test
// suite (tests/soak/CMakeLists.txt).

#include <scgi/asio/endpoint.hpp>
#include <scgi/encode_request.hpp>
#include <scgi/response_parser.hpp>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using clock_type = std::chrono::steady_clock;

struct settings {
    std::string endpoint;
    unsigned connections = 64;
    std::chrono::milliseconds duration{60'000};
    std::size_t max_body = 4 * 1024 * 1024;
    unsigned max_pause_ms = 20;
    std::uint64_t seed = 1;
    std::chrono::milliseconds request_timeout{30'000};
};

// splitmix64: a tiny, well-mixed generator; the same seed gives the same stream.
struct random_stream {
    std::uint64_t state;
    std::uint64_t next() noexcept {
        std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    std::uint64_t below(std::uint64_t n) noexcept { return n == 0 ? 0 : next() % n; }
};

// FNV-1a over the body: what the report names when a body differs.
std::uint64_t checksum(std::string_view bytes) noexcept {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (const char c : bytes) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
    return h;
}

// Most bodies small, some large, a few empty: what front ends carry.
std::size_t pick_body_size(random_stream& r, std::size_t max_body) {
    const std::uint64_t kind = r.below(100);
    if (kind < 5) return 0;
    if (kind < 60) return static_cast<std::size_t>(r.below(std::min<std::size_t>(4096, max_body) + 1));
    if (kind < 85) return static_cast<std::size_t>(r.below(std::min<std::size_t>(256 * 1024, max_body) + 1));
    return static_cast<std::size_t>(r.below(max_body + 1));
}

void fill_body(std::string& body, std::size_t size, std::uint64_t request_seed) {
    body.resize(size);
    random_stream r{request_seed};
    std::size_t i = 0;
    for (; i + 8 <= size; i += 8) {
        const std::uint64_t v = r.next();
        std::memcpy(body.data() + i, &v, 8);
    }
    const std::uint64_t v = r.next();
    std::memcpy(body.data() + i, &v, size - i);
}

struct tally {
    std::atomic<std::uint64_t> checked{0};
    std::atomic<std::uint64_t> failed{0};
    std::atomic<std::uint64_t> bytes{0};
    std::atomic<std::uint64_t> largest{0};
    std::mutex report_lock;
    std::vector<std::string> failures;  // the first few, in full

    void fail(std::string what) {
        failed.fetch_add(1);
        std::lock_guard lock(report_lock);
        if (failures.size() < 20) failures.push_back(std::move(what));
    }
};

// One request on its own connection. Empty on success, else what went wrong.
std::string one_request(const asio::generic::stream_protocol::endpoint& address, const settings& s,
                        std::uint64_t number, std::string& request, std::string& body, std::string& received) {
    random_stream r{s.seed * 0x100000001ULL + number};
    const std::size_t size = pick_body_size(r, s.max_body);
    fill_body(body, size, r.next());
    const std::uint64_t want = checksum(body);
    const std::string id = std::to_string(number);
    request.clear();
    if (auto ec = scgi::encode_request({{"REQUEST_METHOD", "POST"},
                                        {"REQUEST_URI", "/echo"},
                                        {"SERVER_PROTOCOL", "HTTP/1.1"},
                                        {"HTTP_X_REQUEST_ID", id}},
                                       size, request)) {
        return "encode: " + ec.message();
    }
    const std::size_t head_size = request.size();
    request += body;

    const int fd = ::socket(address.protocol().family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return std::string("socket: ") + std::strerror(errno);
    struct closer {
        int fd;
        ~closer() { ::close(fd); }
    } close_at_end{fd};
    if (::connect(fd, static_cast<const sockaddr*>(address.data()), static_cast<socklen_t>(address.size())) != 0 &&
        errno != EINPROGRESS) {
        return std::string("connect: ") + std::strerror(errno);
    }

    const auto deadline = clock_type::now() + s.request_timeout;
    std::size_t sent = 0;
    auto pause_until = clock_type::now();
    scgi::response_parser parser;
    bool head_done = false;
    received.clear();
    char buffer[65536];
    for (;;) {
        const auto now = clock_type::now();
        if (now >= deadline) {
            return "request " + id + " (" + std::to_string(size) + " B): no complete response within " +
                   std::to_string(s.request_timeout.count()) + " ms; sent " + std::to_string(sent) + " of " +
                   std::to_string(request.size()) + ", received " + std::to_string(received.size());
        }
        const bool may_send = sent < request.size() && now >= pause_until;
        pollfd p{fd, static_cast<short>(POLLIN | (may_send ? POLLOUT : 0)), 0};
        const auto wait = sent < request.size() && !may_send ? pause_until - now : deadline - now;
        const int timeout_ms =
            static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(wait).count());
        const int ready = ::poll(&p, 1, timeout_ms);
        if (ready < 0 && errno != EINTR) return std::string("poll: ") + std::strerror(errno);
        if (ready <= 0) continue;
        if (p.revents & POLLOUT) {
            // A random piece, and now and then a pause before the next one.
            const std::size_t piece = 1 + static_cast<std::size_t>(r.below(r.below(4) == 0 ? 16 : 65536));
            const std::size_t n_want = std::min(piece, request.size() - sent);
            const ssize_t n = ::send(fd, request.data() + sent, n_want, MSG_NOSIGNAL);
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                return "request " + id + ": send after " + std::to_string(sent) + " bytes: " + std::strerror(errno);
            }
            if (n > 0) sent += static_cast<std::size_t>(n);
            if (r.below(16) == 0 && s.max_pause_ms > 0) {
                pause_until = clock_type::now() + std::chrono::milliseconds(r.below(s.max_pause_ms + 1));
            }
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
            if (n < 0) {
                return "request " + id + " (" + std::to_string(size) + " B): recv after " +
                       std::to_string(received.size()) + " body bytes: " + std::strerror(errno);
            }
            if (n == 0) break;
            std::string_view input(buffer, static_cast<std::size_t>(n));
            if (!head_done) {
                std::error_code ec;
                const std::size_t used = parser.put(input, ec);
                if (ec && ec != scgi::error::need_more) return "request " + id + ": bad response head: " + ec.message();
                input.remove_prefix(used);
                head_done = parser.is_head_done();
            }
            received.append(input);
            if (received.size() > size) break;  // more than was sent: reported below
        }
    }
    if (sent != request.size()) {
        return "request " + id + ": the server closed after " + std::to_string(sent - std::min(sent, head_size)) +
               " of " + std::to_string(size) + " body bytes were sent";
    }
    if (!head_done) return "request " + id + ": the connection ended before a complete response head";
    if (parser.head().status() != 200) {
        return "request " + id + ": status " + std::to_string(parser.head().status());
    }
    if (received.size() != size || checksum(received) != want || received != body) {
        return "request " + id + ": body of " + std::to_string(received.size()) + " B (checksum " +
               std::to_string(checksum(received)) + "), sent " + std::to_string(size) + " B (checksum " +
               std::to_string(want) + ")";
    }
    return {};
}

std::uint64_t number_of(std::string_view text, std::string_view what) {
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc{} || end != text.data() + text.size()) {
        throw std::invalid_argument(std::string(what) + " is not a number: " + std::string(text));
    }
    return n;
}

const char usage[] =
    "usage: mixed_load ENDPOINT [--connections N] [--seconds S] [--max-body BYTES] [--max-pause-ms MS]\n"
    "                  [--seed N] [--request-timeout-ms MS]\n"
    "  Sends POST /echo requests with random bodies in random pieces and checks each echoed body.\n"
    "  Defaults: 64 connections, 60 s, bodies up to 4 MiB, pauses up to 20 ms, seed 1, 30 s per request.\n";

settings parse(int argc, char** argv) {
    settings s;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const auto value = [&]() -> std::string_view {
            if (i + 1 >= argc) throw std::invalid_argument(std::string(arg) + " needs a value");
            return argv[++i];
        };
        if (arg == "--connections") {
            s.connections = static_cast<unsigned>(number_of(value(), arg));
            if (s.connections == 0 || s.connections > 4096) throw std::invalid_argument("--connections: 1 to 4096");
        } else if (arg == "--seconds") {
            s.duration = std::chrono::milliseconds(1000 * number_of(value(), arg));
        } else if (arg == "--max-body") {
            s.max_body = static_cast<std::size_t>(number_of(value(), arg));
        } else if (arg == "--max-pause-ms") {
            s.max_pause_ms = static_cast<unsigned>(number_of(value(), arg));
        } else if (arg == "--seed") {
            s.seed = number_of(value(), arg);
        } else if (arg == "--request-timeout-ms") {
            s.request_timeout = std::chrono::milliseconds(number_of(value(), arg));
        } else if (arg.starts_with("-") || !s.endpoint.empty()) {
            throw std::invalid_argument("unexpected argument: " + std::string(arg));
        } else {
            s.endpoint = arg;
        }
    }
    if (s.endpoint.empty()) throw std::invalid_argument("no ENDPOINT");
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    settings s;
    asio::generic::stream_protocol::endpoint address;
    try {
        s = parse(argc, argv);
        std::error_code ec;
        const auto addresses = scgi::resolve(scgi::endpoint::parse(s.endpoint), ec);
        if (ec || addresses.empty()) throw std::invalid_argument(s.endpoint + ": " + ec.message());
        address = addresses.front();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mixed_load: %s\n%s", e.what(), usage);
        return 2;
    }

    tally t;
    std::atomic<std::uint64_t> next_number{0};
    const auto started = clock_type::now();
    const auto end = started + s.duration;
    std::vector<std::thread> workers;
    workers.reserve(s.connections);
    for (unsigned w = 0; w < s.connections; ++w) {
        workers.emplace_back([&] {
            std::string request, body, received;
            while (clock_type::now() < end) {
                const std::uint64_t number = next_number.fetch_add(1);
                std::string failure = one_request(address, s, number, request, body, received);
                if (!failure.empty()) {
                    t.fail(std::move(failure));
                    continue;
                }
                t.checked.fetch_add(1);
                t.bytes.fetch_add(body.size());
                std::uint64_t largest = t.largest.load();
                while (body.size() > largest && !t.largest.compare_exchange_weak(largest, body.size())) {
                }
            }
        });
    }
    for (auto& w : workers) w.join();
    const double seconds = std::chrono::duration<double>(clock_type::now() - started).count();

    for (const auto& f : t.failures) std::printf("FAILED: %s\n", f.c_str());
    std::printf("mixed_load: %llu requests checked byte for byte (%.1f MiB of bodies each way, largest %llu B), "
                "%llu failed, %u connections, %.1f s, seed %llu\n",
                static_cast<unsigned long long>(t.checked.load()), static_cast<double>(t.bytes.load()) / 1048576.0,
                static_cast<unsigned long long>(t.largest.load()), static_cast<unsigned long long>(t.failed.load()),
                s.connections, seconds, static_cast<unsigned long long>(s.seed));
    return t.failed.load() == 0 && t.checked.load() > 0 ? 0 : 1;
}
