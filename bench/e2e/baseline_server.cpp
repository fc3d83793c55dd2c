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

#include "baseline_common.hpp"

namespace {

using namespace baseline;

// --- limits of this server -----------------------------------------------------

constexpr size_t scratch_size = 64u * 1024;   // one read of a whole small request
constexpr size_t min_conn_buffer = 512;       // first heap buffer of a slow request
constexpr int accept_batch = 64;              // accepts per listener wake-up
constexpr int max_events = 256;


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

int epoll_fd = -1;
conn* conns = nullptr;          // one per possible descriptor (RLIMIT_NOFILE)
size_t conns_size = 0;
char scratch[scratch_size];
int spare_fd = -1;              // released to shed a connection when out of descriptors

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
bool reserve(conn* c, size_t want) { return grow(&c->buf, &c->cap, want, min_conn_buffer); }

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
            len = c->stream_left < stream_chunk ? c->stream_left : stream_chunk;
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

// Starts a /stream answer: the head, then `length` pattern bytes, written by
// conn_write as the socket takes them.
void answer_stream(int fd, size_t length) {
    conn* c = &conns[fd];
    c->len = c->sent = 0;
    if (!reserve(c, sizeof stream_head - 1)) {
        conn_close(fd);
        return;
    }
    std::memcpy(c->buf, stream_head, sizeof stream_head - 1);
    c->len = sizeof stream_head - 1;
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
    char head[echo_head_room];
    const size_t head_len = echo_head(head, frame->body_len);
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

}  // namespace

int main(int argc, char** argv) {
    endpoint ep;
    int exit_code = 0;
    const int signal_fd = start_up(argc, argv, "", &ep, &exit_code);
    if (signal_fd < 0) return exit_code;

    fill_stream_pattern();
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
