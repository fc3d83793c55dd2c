// scgi-baseline-server: the baseline of the end-to-end benchmark
// (scripts/bench-e2e). A minimal single-threaded SCGI server written the way
// one would in C: POSIX sockets, one level-triggered epoll loop, a fixed table
// of per-connection state indexed by file descriptor, no exceptions, no
// library. It answers what the `echo` example answers, so the two can be
// driven by the same load generator and compared by CPU time per request.
//
//   scgi-baseline-server ENDPOINT
//
// ENDPOINT is `host:port` (numeric IPv4 or `localhost`), `[v6]:port`,
// `unix:/path`, or any argument containing '/' (a Unix socket path). Port 0
// picks a free port; the line "Listening on ..." names the real one.
//
// A request is parsed just enough to know when it is whole: the netstring
// length, then CONTENT_LENGTH and REQUEST_URI wherever they are in the header
// block. No other rule of the protocol is checked (that is the point of a
// baseline). A path ending in "/echo" gets `Status: 200 OK` and the body back;
// one ending in "/stream" gets `?n=BYTES` (default 1048576) of the pattern
// "0123456789..." without Content-Length, as the `echo` example's /stream,
// written from one static buffer as the socket takes it; any other path
// gets 404; a request that cannot be framed gets 400. The connection is then
// closed: SCGI carries one request per connection.
//
// Per request, when the request is already in the socket at accept time (the
// common case on loopback), the system calls are accept4, read, sendmsg,
// close: the floor. Otherwise one epoll_ctl registers the connection and the
// read happens when epoll reports it. The whole request is buffered (in a
// shared scratch buffer when it arrives in one read, so the usual path does
// not allocate); there are no timeouts, so idle connections stay open, which
// the idle-memory measurement relies on.
//
// SIGINT and SIGTERM (read through a signalfd in the same loop) stop the
// server cleanly; a Unix socket file it created is removed.
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <charconv>
#include <cstring>
#include <system_error>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

namespace {

// --- limits -------------------------------------------------------------------

constexpr size_t max_head_digits = 7;         // the netstring length, "1048576" at most
constexpr size_t max_header_block = 1u << 20; // 1 MiB of headers
constexpr size_t max_body = 64u << 20;        // 64 MiB of body, buffered whole
constexpr size_t scratch_size = 64u * 1024;   // one read of a whole small request
constexpr size_t min_conn_buffer = 512;       // first heap buffer of a slow request
constexpr int accept_batch = 64;              // accepts per listener wake-up
constexpr int max_events = 256;

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
bool parse_decimal(const char* p, size_t len, size_t limit, size_t* out) {
    size_t value = 0;
    const auto [end, ec] = std::from_chars(p, p + len, value);
    if (len == 0 || end != p + len || ec != std::errc{} || value > limit) return false;
    *out = value;
    return true;
}

// Parses a decimal port, 0..65535. Returns -1 on anything else.
int parse_port(const char* text) {
    size_t value = 0;
    return parse_decimal(text, strlen(text), 65535, &value) ? static_cast<int>(value) : -1;
}

// Fills `ep` from the endpoint syntax above. On failure writes a message to
// `error` and returns false.
bool parse_endpoint(const char* text, endpoint* ep, char* error, size_t error_size) {
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
void format_endpoint(int fd, const endpoint* ep, char* out, size_t out_size) {
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
bool remove_stale_socket(const endpoint* ep) {
    struct stat st {};
    if (lstat(ep->unix_path, &st) != 0) {
        if (errno == ENOENT) return true;
        std::fprintf(stderr, "scgi-baseline-server: %s: %s\n", ep->unix_path, std::strerror(errno));
        return false;
    }
    if (!S_ISSOCK(st.st_mode)) {
        std::fprintf(stderr, "scgi-baseline-server: %s exists and is not a socket; not removing it\n",
                     ep->unix_path);
        return false;
    }
    const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0) {
        std::fprintf(stderr, "scgi-baseline-server: socket: %s\n", std::strerror(errno));
        return false;
    }
    const int rc = connect(probe, reinterpret_cast<const sockaddr*>(&ep->addr), ep->addr_len);
    const int connect_errno = errno;
    close(probe);
    if (rc == 0) {
        std::fprintf(stderr, "scgi-baseline-server: %s is in use by a running server\n",
                     ep->unix_path);
        return false;
    }
    if (connect_errno != ECONNREFUSED && connect_errno != ENOENT) {
        std::fprintf(stderr, "scgi-baseline-server: probing %s: %s\n", ep->unix_path,
                     std::strerror(connect_errno));
        return false;
    }
    if (unlink(ep->unix_path) != 0 && errno != ENOENT) {
        std::fprintf(stderr, "scgi-baseline-server: removing stale %s: %s\n", ep->unix_path,
                     std::strerror(errno));
        return false;
    }
    return true;
}

// Creates, binds and listens. Returns the listening descriptor, or -1 after
// printing why.
int open_listener(const endpoint* ep, const char* text) {
    if (ep->family == AF_UNIX && !remove_stale_socket(ep)) return -1;
    const int fd = socket(ep->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        std::fprintf(stderr, "scgi-baseline-server: socket: %s\n", std::strerror(errno));
        return -1;
    }
    if (ep->family != AF_UNIX) {
        const int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    }
    if (bind(fd, reinterpret_cast<const sockaddr*>(&ep->addr), ep->addr_len) != 0) {
        std::fprintf(stderr, "scgi-baseline-server: bind %s: %s\n", text, std::strerror(errno));
        close(fd);
        return -1;
    }
    if (listen(fd, SOMAXCONN) != 0) {
        std::fprintf(stderr, "scgi-baseline-server: listen %s: %s\n", text, std::strerror(errno));
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
frame_status frame_head(const char* p, size_t n, request_frame* frame) {
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
bool path_ends_with(const char* uri, size_t len, const char* suffix) {
    const auto* query = static_cast<const char*>(std::memchr(uri, '?', len));
    if (query != nullptr) len = static_cast<size_t>(query - uri);
    const size_t n = std::strlen(suffix);
    return len >= n && std::memcmp(uri + len - n, suffix, n) == 0;
}

// The value of `n=` in the query of `uri`, or `fallback` if absent or not a
// number of at most 2^40.
size_t stream_length(const char* uri, size_t len, size_t fallback) {
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

// --- connections --------------------------------------------------------------

// Per-connection state, indexed by descriptor. `buf` is allocated only when a
// request does not arrive in one read or a response does not leave in one
// write; it then holds the partial request, later the unsent response.
struct conn {
    char* buf;
    size_t cap;
    size_t len;           // bytes in buf
    size_t sent;          // when writing: bytes of buf already sent
    request_frame frame;  // valid once framed
    size_t stream_left;   // /stream: pattern bytes still to send after buf
    size_t stream_at;     // /stream: pattern bytes sent so far
    bool framed;
    bool writing;
    bool in_epoll;
    bool open;
};

// 64,000 bytes of "0123456789...": a multiple of 10, so any run of the
// /stream pattern is a slice of it starting at (offset % 10).
char stream_pattern[64000 + 10];

int epoll_fd = -1;
conn* conns = nullptr;          // one per possible descriptor (RLIMIT_NOFILE)
size_t conns_size = 0;
char scratch[scratch_size];
int spare_fd = -1;              // released to shed a connection when out of descriptors

const char bad_request[] =
    "Status: 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nBad Request\n";
const char not_found[] =
    "Status: 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nNot Found\n";

void conn_close(int fd) {
    conn* c = &conns[fd];
    std::free(c->buf);
    std::memset(c, 0, sizeof *c);
    close(fd);  // also removes it from the epoll set
}

bool watch(int fd, uint32_t events) {
    conn* c = &conns[fd];
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_fd, c->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0) {
        std::fprintf(stderr, "scgi-baseline-server: epoll_ctl: %s\n", std::strerror(errno));
        return false;
    }
    c->in_epoll = true;
    return true;
}

// Grows c->buf to at least `want` bytes. Returns false when out of memory.
bool reserve(conn* c, size_t want) {
    if (c->cap >= want) return true;
    size_t cap = c->cap != 0 ? c->cap : min_conn_buffer;
    while (cap < want) cap *= 2;
    auto* grown = static_cast<char*>(std::realloc(c->buf, cap));
    if (grown == nullptr) return false;
    c->buf = grown;
    c->cap = cap;
    return true;
}

// Sends what is left of c->buf, then of a /stream; closes once all is sent.
void conn_write(int fd) {
    conn* c = &conns[fd];
    for (;;) {
        const char* from;
        size_t len;
        if (c->sent < c->len) {
            from = c->buf + c->sent;
            len = c->len - c->sent;
        } else if (c->stream_left != 0) {
            from = stream_pattern + c->stream_at % 10;
            len = c->stream_left < 64000 ? c->stream_left : 64000;
        } else {
            break;
        }
        const ssize_t n = send(fd, from, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                if (!c->writing) {
                    c->writing = true;
                    if (!watch(fd, EPOLLOUT)) conn_close(fd);
                }
                return;  // EPOLLOUT is watched
            }
            conn_close(fd);
            return;
        }
        if (c->sent < c->len) {
            c->sent += static_cast<size_t>(n);
        } else {
            c->stream_left -= static_cast<size_t>(n);
            c->stream_at += static_cast<size_t>(n);
        }
    }
    conn_close(fd);
}

// Sends the response (head + body pieces) with one sendmsg; whatever the
// socket does not take is copied to a fresh c->buf and sent when writable.
void respond(int fd, const iovec* iov, int iov_count) {
    size_t total = 0;
    for (int i = 0; i < iov_count; ++i) total += iov[i].iov_len;
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(iov);
    msg.msg_iovlen = static_cast<size_t>(iov_count);
    ssize_t n;
    do {
        n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN) {
        conn_close(fd);
        return;
    }
    const size_t sent = n < 0 ? 0 : static_cast<size_t>(n);
    if (sent == total) {
        conn_close(fd);
        return;
    }
    // The rest goes to a new buffer: the old one may hold the request the
    // iovecs point into.
    conn* c = &conns[fd];
    auto* rest = static_cast<char*>(std::malloc(total - sent));
    if (rest == nullptr) {
        conn_close(fd);
        return;
    }
    size_t skip = sent;
    size_t at = 0;
    for (int i = 0; i < iov_count; ++i) {
        const size_t len = iov[i].iov_len;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        std::memcpy(rest + at, static_cast<const char*>(iov[i].iov_base) + skip, len - skip);
        at += len - skip;
        skip = 0;
    }
    std::free(c->buf);
    c->buf = rest;
    c->cap = c->len = total - sent;
    c->sent = 0;
    c->writing = true;
    if (!watch(fd, EPOLLOUT)) conn_close(fd);
}

void respond_static(int fd, const char* text, size_t len) {
    iovec iov{const_cast<char*>(text), len};
    respond(fd, &iov, 1);
}

// Writes the decimal digits of `value` to `out`; returns how many.
size_t format_size(char* out, size_t value) {
    char digits[24];
    size_t n = 0;
    do {
        digits[n++] = static_cast<char>('0' + value % 10);
        value /= 10;
    } while (value != 0);
    for (size_t i = 0; i < n; ++i) out[i] = digits[n - 1 - i];
    return n;
}

// Starts a /stream answer: the head, then `length` pattern bytes, written by
// conn_write as the socket takes them.
void answer_stream(int fd, size_t length) {
    static const char head[] = "Status: 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n";
    conn* c = &conns[fd];
    c->len = c->sent = 0;
    if (!reserve(c, sizeof head - 1)) {
        conn_close(fd);
        return;
    }
    std::memcpy(c->buf, head, sizeof head - 1);
    c->len = sizeof head - 1;
    c->stream_left = length;
    c->stream_at = 0;
    c->writing = false;
    conn_write(fd);
}

// Answers the whole request at `req` (framed by `frame`).
void answer(int fd, const char* req, const request_frame* frame) {
    const char* uri = req + frame->uri_off;
    if (path_ends_with(uri, frame->uri_len, "/stream")) {
        answer_stream(fd, stream_length(uri, frame->uri_len, 1048576));
        return;
    }
    if (!path_ends_with(uri, frame->uri_len, "/echo")) {
        respond_static(fd, not_found, sizeof not_found - 1);
        return;
    }
    static const char head_start[] =
        "Status: 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ";
    char head[sizeof head_start + 32];
    size_t head_len = sizeof head_start - 1;
    std::memcpy(head, head_start, head_len);
    head_len += format_size(head + head_len, frame->body_len);
    std::memcpy(head + head_len, "\r\n\r\n", 4);
    head_len += 4;
    iovec iov[2] = {{head, head_len}, {const_cast<char*>(req + frame->body_off), frame->body_len}};
    respond(fd, iov, frame->body_len != 0 ? 2 : 1);
}

// Reads what the socket has; answers once the request is whole.
void conn_read(int fd) {
    conn* c = &conns[fd];
    for (;;) {
        char* dst;
        size_t room;
        if (c->buf == nullptr) {
            dst = scratch;
            room = sizeof scratch;
        } else {
            if (c->len == c->cap && !reserve(c, c->cap * 2)) {
                conn_close(fd);
                return;
            }
            dst = c->buf + c->len;
            room = c->cap - c->len;
        }
        const ssize_t n = read(fd, dst, room);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                if (!c->in_epoll && !watch(fd, EPOLLIN)) conn_close(fd);
                return;
            }
            conn_close(fd);
            return;
        }
        if (n == 0) {  // the peer gave up before the request was whole
            conn_close(fd);
            return;
        }
        const char* req = c->buf != nullptr ? c->buf : scratch;
        const size_t have = (c->buf != nullptr ? c->len : 0) + static_cast<size_t>(n);
        if (!c->framed) {
            const frame_status st = frame_head(req, have, &c->frame);
            if (st == frame_bad) {
                respond_static(fd, bad_request, sizeof bad_request - 1);
                return;
            }
            c->framed = st == frame_complete;
        }
        if (c->framed && have >= c->frame.total) {
            answer(fd, req, &c->frame);
            return;
        }
        if (c->buf == nullptr) {  // keep the partial request
            if (!reserve(c, static_cast<size_t>(n) * 2)) {
                conn_close(fd);
                return;
            }
            std::memcpy(c->buf, scratch, static_cast<size_t>(n));
        }
        c->len = have;
    }
}

// Accepts a batch of connections; each is read at once, since its request is
// usually there already.
void on_accept(int listen_fd) {
    for (int i = 0; i < accept_batch; ++i) {
        const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EAGAIN) return;
            if ((errno == EMFILE || errno == ENFILE) && spare_fd >= 0) {
                // Out of descriptors: accept and drop one connection so the
                // listener does not stay readable forever.
                close(spare_fd);
                const int shed = accept(listen_fd, nullptr, nullptr);
                if (shed >= 0) close(shed);
                spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                std::fprintf(stderr, "scgi-baseline-server: out of file descriptors, dropped a connection\n");
                return;
            }
            std::fprintf(stderr, "scgi-baseline-server: accept4: %s\n", std::strerror(errno));
            return;
        }
        if (static_cast<size_t>(fd) >= conns_size) {  // cannot happen: the table covers RLIMIT_NOFILE
            close(fd);
            continue;
        }
        conns[fd].open = true;
        conn_read(fd);
    }
}

// Raises the soft descriptor limit to the hard one; returns the limit.
size_t raise_fd_limit() {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
    if (lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &lim) != 0) getrlimit(RLIMIT_NOFILE, &lim);
    }
    const rlim_t cap = 1u << 20;  // keep the table bounded if the limit is "infinity"
    return static_cast<size_t>(lim.rlim_cur < cap ? lim.rlim_cur : cap);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
        std::fprintf(argc == 2 ? stdout : stderr,
                     "usage: scgi-baseline-server ENDPOINT\n"
                     "  ENDPOINT: host:port, [v6]:port, unix:/path, or a path containing '/'\n"
                     "A minimal single-threaded C-style SCGI server: /echo answers the body back,\n"
                     "/stream?n=BYTES sends BYTES of \"0123456789...\".\n");
        return argc == 2 ? 0 : 2;
    }
    endpoint ep;
    char error[256];
    if (!parse_endpoint(argv[1], &ep, error, sizeof error)) {
        std::fprintf(stderr, "scgi-baseline-server: %s\n", error);
        return 2;
    }

    std::signal(SIGPIPE, SIG_IGN);
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &stop_signals, nullptr) != 0) {
        std::fprintf(stderr, "scgi-baseline-server: sigprocmask: %s\n", std::strerror(errno));
        return 1;
    }
    const int signal_fd = signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC);
    if (signal_fd < 0) {
        std::fprintf(stderr, "scgi-baseline-server: signalfd: %s\n", std::strerror(errno));
        return 1;
    }

    for (size_t i = 0; i < sizeof stream_pattern; ++i) stream_pattern[i] = static_cast<char>('0' + i % 10);
    conns_size = raise_fd_limit();
    conns = static_cast<conn*>(std::calloc(conns_size, sizeof(conn)));
    spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (conns == nullptr || epoll_fd < 0) {
        std::fprintf(stderr, "scgi-baseline-server: setup failed: %s\n", std::strerror(errno));
        return 1;
    }

    const int listen_fd = open_listener(&ep, argv[1]);
    if (listen_fd < 0) return 1;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listen_fd;
    epoll_event sev{};
    sev.events = EPOLLIN;
    sev.data.fd = signal_fd;
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev) != 0 ||
        epoll_ctl(epoll_fd, EPOLL_CTL_ADD, signal_fd, &sev) != 0) {
        std::fprintf(stderr, "scgi-baseline-server: epoll_ctl: %s\n", std::strerror(errno));
        if (ep.family == AF_UNIX) unlink(ep.unix_path);
        return 1;
    }

    char name[sizeof(sockaddr_un::sun_path) + 16];
    format_endpoint(listen_fd, &ep, name, sizeof name);
    std::printf("Listening on %s\n", name);
    std::fflush(stdout);

    int status = 0;
    bool running = true;
    epoll_event events[max_events];
    while (running) {
        const int n = epoll_wait(epoll_fd, events, max_events, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            std::fprintf(stderr, "scgi-baseline-server: epoll_wait: %s\n", std::strerror(errno));
            status = 1;
            break;
        }
        for (int i = 0; i < n; ++i) {
            const int fd = events[i].data.fd;
            if (fd == listen_fd) {
                on_accept(listen_fd);
            } else if (fd == signal_fd) {
                running = false;
            } else if (conns[fd].writing) {
                conn_write(fd);
            } else {
                conn_read(fd);
            }
        }
    }

    for (size_t fd = 0; fd < conns_size; ++fd) {
        if (conns[fd].open) conn_close(static_cast<int>(fd));
    }
    close(listen_fd);
    if (ep.family == AF_UNIX) unlink(ep.unix_path);
    close(epoll_fd);
    close(signal_fd);
    if (spare_fd >= 0) close(spare_fd);
    std::free(conns);
    return status;
}
