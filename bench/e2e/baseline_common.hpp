// What the end-to-end benchmark's two reference servers share
// (bench/e2e/baseline_server.cpp with epoll, uring_baseline_server.cpp with
// io_uring): the endpoint syntax and the listener, the request framing, the
// canned answers. C style: no exceptions, no library.
#pragma once

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include <csignal>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace baseline {

// The name error messages start with; main sets it.
inline const char* program_name = "scgi-baseline-server";

// --- limits -------------------------------------------------------------------

constexpr size_t max_head_digits = 7;         // the netstring length, "1048576" at most
constexpr size_t max_header_block = 1u << 20; // 1 MiB of headers
constexpr size_t max_body = 64u << 20;        // 64 MiB of body, buffered whole

// --- endpoints ----------------------------------------------------------------

struct endpoint {
    int family;                 // AF_UNIX, AF_INET or AF_INET6
    sockaddr_storage addr;
    socklen_t addr_len;
    char unix_path[sizeof(sockaddr_un::sun_path)];
};

// Parses a non-empty run of ASCII digits of length `len` into *out
// (std::from_chars: no sign, no spaces), with an upper bound. Returns false
// if it is not one or exceeds `limit`.
inline bool parse_decimal(const char* p, size_t len, size_t limit, size_t* out) {
    size_t value = 0;
    const auto [end, ec] = std::from_chars(p, p + len, value);
    if (len == 0 || end != p + len || ec != std::errc{} || value > limit) return false;
    *out = value;
    return true;
}

// Parses a decimal port, 0..65535. Returns -1 on anything else.
inline int parse_port(const char* text) {
    size_t value = 0;
    return parse_decimal(text, strlen(text), 65535, &value) ? static_cast<int>(value) : -1;
}

// Fills `ep` from the endpoint syntax above. On failure writes a message to
// `error` and returns false.
inline bool parse_endpoint(const char* text, endpoint* ep, char* error, size_t error_size) {
    std::memset(ep, 0, sizeof *ep);
    const char* path = nullptr;
    if (std::strncmp(text, "unix:", 5) == 0) {
        path = text + 5;
    } else if (std::strchr(text, '/') != nullptr) {
        path = text;
    }
    if (path != nullptr) {
        const size_t len = std::strlen(path);
        if (len == 0) {
            std::snprintf(error, error_size, "empty Unix socket path in '%s'", text);
            return false;
        }
        if (len >= sizeof ep->unix_path) {
            std::snprintf(error, error_size, "Unix socket path is %zu bytes, the limit is %zu: '%s'",
                          len, sizeof ep->unix_path - 1, path);
            return false;
        }
        std::memcpy(ep->unix_path, path, len + 1);
        sockaddr_un sun{};
        sun.sun_family = AF_UNIX;
        std::memcpy(sun.sun_path, path, len + 1);
        std::memcpy(&ep->addr, &sun, sizeof sun);
        ep->family = AF_UNIX;
        ep->addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len + 1);
        return true;
    }

    char host[64];
    const char* port_text = nullptr;
    if (text[0] == '[') {
        const char* close = std::strchr(text, ']');
        if (close == nullptr || close[1] != ':') {
            std::snprintf(error, error_size, "expected '[v6-address]:port', got '%s'", text);
            return false;
        }
        const size_t host_len = static_cast<size_t>(close - text - 1);
        if (host_len == 0 || host_len >= sizeof host) {
            std::snprintf(error, error_size, "bad IPv6 address in '%s'", text);
            return false;
        }
        std::memcpy(host, text + 1, host_len);
        host[host_len] = '\0';
        port_text = close + 2;
        sockaddr_in6 sin6{};
        sin6.sin6_family = AF_INET6;
        if (inet_pton(AF_INET6, host, &sin6.sin6_addr) != 1) {
            std::snprintf(error, error_size, "'%s' is not a numeric IPv6 address", host);
            return false;
        }
        std::memcpy(&ep->addr, &sin6, sizeof sin6);
        ep->family = AF_INET6;
        ep->addr_len = sizeof sin6;
    } else {
        const char* colon = std::strrchr(text, ':');
        if (colon == nullptr) {
            std::snprintf(error, error_size,
                          "expected host:port, [v6]:port, unix:/path or a path, got '%s'", text);
            return false;
        }
        const size_t host_len = static_cast<size_t>(colon - text);
        if (host_len == 0 || host_len >= sizeof host) {
            std::snprintf(error, error_size, "bad host in '%s'", text);
            return false;
        }
        std::memcpy(host, text, host_len);
        host[host_len] = '\0';
        port_text = colon + 1;
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        const char* numeric = std::strcmp(host, "localhost") == 0 ? "127.0.0.1" : host;
        if (inet_pton(AF_INET, numeric, &sin.sin_addr) != 1) {
            std::snprintf(error, error_size,
                          "'%s' is not a numeric IPv4 address (IPv6 goes in brackets)", host);
            return false;
        }
        std::memcpy(&ep->addr, &sin, sizeof sin);
        ep->family = AF_INET;
        ep->addr_len = sizeof sin;
    }
    const int port = parse_port(port_text);
    if (port < 0) {
        std::snprintf(error, error_size, "bad port '%s' (expected 0..65535)", port_text);
        return false;
    }
    if (ep->family == AF_INET) {
        reinterpret_cast<sockaddr_in*>(&ep->addr)->sin_port = htons(static_cast<uint16_t>(port));
    } else {
        reinterpret_cast<sockaddr_in6*>(&ep->addr)->sin6_port = htons(static_cast<uint16_t>(port));
    }
    return true;
}

// Writes the bound address as an endpoint string ("127.0.0.1:8000",
// "[::1]:8000", "unix:/path").
inline void format_endpoint(int fd, const endpoint* ep, char* out, size_t out_size) {
    if (ep->family == AF_UNIX) {
        std::snprintf(out, out_size, "unix:%s", ep->unix_path);
        return;
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0) {
        std::memcpy(&bound, &ep->addr, sizeof bound);
    }
    char host[INET6_ADDRSTRLEN];
    if (ep->family == AF_INET) {
        const auto* sin = reinterpret_cast<const sockaddr_in*>(&bound);
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
        std::snprintf(out, out_size, "%s:%u", host, ntohs(sin->sin_port));
    } else {
        const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&bound);
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
        std::snprintf(out, out_size, "[%s]:%u", host, ntohs(sin6->sin6_port));
    }
}

// Removes a stale Unix socket file at `path`: only a socket, and only if no
// server answers on it. Returns false (with a message) if the path is in use
// or is something else than a socket.
inline bool remove_stale_socket(const endpoint* ep) {
    struct stat st {};
    if (lstat(ep->unix_path, &st) != 0) {
        if (errno == ENOENT) return true;
        std::fprintf(stderr, "%s: %s: %s\n", program_name, ep->unix_path, std::strerror(errno));
        return false;
    }
    if (!S_ISSOCK(st.st_mode)) {
        std::fprintf(stderr, "%s: %s exists and is not a socket; not removing it\n", program_name,
                     ep->unix_path);
        return false;
    }
    const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0) {
        std::fprintf(stderr, "%s: socket: %s\n", program_name, std::strerror(errno));
        return false;
    }
    const int rc = connect(probe, reinterpret_cast<const sockaddr*>(&ep->addr), ep->addr_len);
    const int connect_errno = errno;
    close(probe);
    if (rc == 0) {
        std::fprintf(stderr, "%s: %s is in use by a running server\n", program_name,
                     ep->unix_path);
        return false;
    }
    if (connect_errno != ECONNREFUSED && connect_errno != ENOENT) {
        std::fprintf(stderr, "%s: probing %s: %s\n", program_name, ep->unix_path,
                     std::strerror(connect_errno));
        return false;
    }
    if (unlink(ep->unix_path) != 0 && errno != ENOENT) {
        std::fprintf(stderr, "%s: removing stale %s: %s\n", program_name, ep->unix_path,
                     std::strerror(errno));
        return false;
    }
    return true;
}

// Creates, binds and listens. Returns the listening descriptor, or -1 after
// printing why.
inline int open_listener(const endpoint* ep, const char* text) {
    if (ep->family == AF_UNIX && !remove_stale_socket(ep)) return -1;
    const int fd = socket(ep->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        std::fprintf(stderr, "%s: socket: %s\n", program_name, std::strerror(errno));
        return -1;
    }
    if (ep->family != AF_UNIX) {
        const int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    }
    if (bind(fd, reinterpret_cast<const sockaddr*>(&ep->addr), ep->addr_len) != 0) {
        std::fprintf(stderr, "%s: bind %s: %s\n", program_name, text, std::strerror(errno));
        close(fd);
        return -1;
    }
    if (listen(fd, SOMAXCONN) != 0) {
        std::fprintf(stderr, "%s: listen %s: %s\n", program_name, text, std::strerror(errno));
        close(fd);
        if (ep->family == AF_UNIX) unlink(ep->unix_path);
        return -1;
    }
    return fd;
}

// --- request framing ------------------------------------------------------------

// What the server needs to know about a request: where it ends and its path.
struct request_frame {
    size_t total;      // netstring + body: the request's length in bytes
    size_t body_off;   // offset of the first body byte
    size_t body_len;   // CONTENT_LENGTH
    size_t uri_off;    // REQUEST_URI value (offset and length; 0/0 if absent)
    size_t uri_len;
};

enum frame_status { frame_need_more, frame_complete, frame_bad };



// Frames the request whose first `n` bytes are at `p`: the netstring length,
// the header block's end, CONTENT_LENGTH and REQUEST_URI. Returns
// frame_need_more until the header block is whole, then frame_bad or fills
// *frame and returns frame_complete (the body may still be incomplete: the
// caller compares with frame->total).
inline frame_status frame_head(const char* p, size_t n, request_frame* frame) {
    size_t digits = 0;
    while (digits < n && p[digits] >= '0' && p[digits] <= '9') {
        if (++digits > max_head_digits) return frame_bad;
    }
    if (digits == n) return frame_need_more;
    size_t block_len = 0;
    if (p[digits] != ':' || !parse_decimal(p, digits, max_header_block, &block_len)) {
        return frame_bad;
    }
    const size_t block_off = digits + 1;
    if (n < block_off + block_len + 1) return frame_need_more;
    if (p[block_off + block_len] != ',') return frame_bad;

    bool have_length = false;
    frame->uri_off = 0;
    frame->uri_len = 0;
    const char* block = p + block_off;
    size_t pos = 0;
    while (pos < block_len) {
        const char* name = block + pos;
        const auto* name_end = static_cast<const char*>(std::memchr(name, '\0', block_len - pos));
        if (name_end == nullptr) return frame_bad;
        const size_t name_len = static_cast<size_t>(name_end - name);
        pos += name_len + 1;
        const char* value = block + pos;
        const auto* value_end = static_cast<const char*>(std::memchr(value, '\0', block_len - pos));
        if (value_end == nullptr) return frame_bad;
        const size_t value_len = static_cast<size_t>(value_end - value);
        pos += value_len + 1;
        if (name_len == 14 && std::memcmp(name, "CONTENT_LENGTH", 14) == 0) {
            if (!parse_decimal(value, value_len, max_body, &frame->body_len)) return frame_bad;
            have_length = true;
        } else if (name_len == 11 && std::memcmp(name, "REQUEST_URI", 11) == 0) {
            frame->uri_off = static_cast<size_t>(value - p);
            frame->uri_len = value_len;
        }
    }
    if (!have_length) return frame_bad;
    frame->body_off = block_off + block_len + 1;
    frame->total = frame->body_off + frame->body_len;
    return frame_complete;
}

// True if the path (REQUEST_URI before '?') ends with `suffix`.
inline bool path_ends_with(const char* uri, size_t len, const char* suffix) {
    const auto* query = static_cast<const char*>(std::memchr(uri, '?', len));
    if (query != nullptr) len = static_cast<size_t>(query - uri);
    const size_t n = std::strlen(suffix);
    return len >= n && std::memcmp(uri + len - n, suffix, n) == 0;
}

// The value of `n=` in the query of `uri`, or `fallback` if absent or not a
// number of at most 2^40.
inline size_t stream_length(const char* uri, size_t len, size_t fallback) {
    const auto* query = static_cast<const char*>(std::memchr(uri, '?', len));
    if (query == nullptr) return fallback;
    const char* p = query + 1;
    const char* end = uri + len;
    while (p < end) {
        const auto* amp = static_cast<const char*>(std::memchr(p, '&', static_cast<size_t>(end - p)));
        const char* stop = amp != nullptr ? amp : end;
        size_t value = 0;
        if (stop - p > 2 && p[0] == 'n' && p[1] == '=' &&
            parse_decimal(p + 2, static_cast<size_t>(stop - p - 2), size_t{1} << 40, &value)) {
            return value;
        }
        p = stop + 1;
    }
    return fallback;
}

// --- answers --------------------------------------------------------------------

inline constexpr char bad_request[] =
    "Status: 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nBad Request\n";
inline constexpr char not_found[] =
    "Status: 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nNot Found\n";

// Writes the decimal digits of `value` to `out`; returns how many.
inline size_t format_size(char* out, size_t value) {
    char digits[24];
    size_t n = 0;
    do {
        digits[n++] = static_cast<char>('0' + value % 10);
        value /= 10;
    } while (value != 0);
    for (size_t i = 0; i < n; ++i) out[i] = digits[n - 1 - i];
    return n;
}

// The head of an /echo answer for a body of `body_len` bytes, into `out`
// (at least echo_head_room bytes); returns its length.
inline constexpr size_t echo_head_room = 128;
inline size_t echo_head(char* out, size_t body_len) {
    static const char start[] = "Status: 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ";
    size_t len = sizeof start - 1;
    std::memcpy(out, start, len);
    len += format_size(out + len, body_len);
    std::memcpy(out + len, "\r\n\r\n", 4);
    return len + 4;
}

// The head of a /stream answer (no Content-Length: the body ends with the
// connection).
inline constexpr char stream_head[] = "Status: 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n";

// 64,000 bytes of "0123456789...", and 10 more: a multiple of 10, so any run
// of the /stream pattern is a slice of it starting at (offset % 10).
inline constexpr size_t stream_chunk = 64000;
inline char stream_pattern[stream_chunk + 10];
inline void fill_stream_pattern() {
    for (size_t i = 0; i < sizeof stream_pattern; ++i) stream_pattern[i] = static_cast<char>('0' + i % 10);
}

// Raises the soft descriptor limit to the hard one; returns the limit.
inline size_t raise_fd_limit() {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
    if (lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &lim) != 0) getrlimit(RLIMIT_NOFILE, &lim);
    }
    const rlim_t cap = 1u << 20;  // keep the table bounded if the limit is "infinity"
    return static_cast<size_t>(lim.rlim_cur < cap ? lim.rlim_cur : cap);
}

// Grows the heap buffer *buf of *cap bytes to at least `want` (doubling,
// from `first` bytes). Returns false when out of memory (*buf unchanged).
inline bool grow(char** buf, size_t* cap, size_t want, size_t first) {
    if (*cap >= want) return true;
    size_t size = *cap != 0 ? *cap : first;
    while (size < want) size *= 2;
    auto* grown = static_cast<char*>(std::realloc(*buf, size));
    if (grown == nullptr) return false;
    *buf = grown;
    *cap = size;
    return true;
}

// What both servers start with: the usage line for --help or a wrong
// argument count (`what` says what the server is, after "A minimal
// single-threaded C-style SCGI server"), ENDPOINT parsed into *ep, SIGPIPE
// ignored, and SIGINT and SIGTERM blocked and delivered to a non-blocking
// signalfd instead. Returns the signalfd, or -1 with *exit_code set (0 after
// --help, 2 for a usage error, 1 for a failure).
inline int start_up(int argc, char** argv, const char* what, endpoint* ep, int* exit_code) {
    if (argc != 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
        std::fprintf(argc == 2 ? stdout : stderr,
                     "usage: %s ENDPOINT\n"
                     "  ENDPOINT: host:port, [v6]:port, unix:/path, or a path containing '/'\n"
                     "A minimal single-threaded C-style SCGI server%s: /echo answers the body back,\n"
                     "/stream?n=BYTES sends BYTES of \"0123456789...\".\n",
                     program_name, what);
        *exit_code = argc == 2 ? 0 : 2;
        return -1;
    }
    char error[256];
    if (!parse_endpoint(argv[1], ep, error, sizeof error)) {
        std::fprintf(stderr, "%s: %s\n", program_name, error);
        *exit_code = 2;
        return -1;
    }
    std::signal(SIGPIPE, SIG_IGN);
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    const int signal_fd = sigprocmask(SIG_BLOCK, &stop_signals, nullptr) == 0
                              ? signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC)
                              : -1;
    if (signal_fd < 0) {
        std::fprintf(stderr, "%s: signals: %s\n", program_name, std::strerror(errno));
        *exit_code = 1;
    }
    return signal_fd;
}

}  // namespace baseline
