// scgi-uring-baseline-server: the second reference of the end-to-end
// benchmark (scripts/bench-e2e): the same minimal single-threaded C-style
// SCGI server as scgi-baseline-server, with io_uring instead of epoll. It
// answers exactly what scgi-baseline-server answers (/echo, /stream, 404,
// 400; see bench/e2e/baseline_common.hpp), so the two measure what the
// kernel interface alone costs per request.
//
//   scgi-uring-baseline-server ENDPOINT
//
// One ring (IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN where the
// kernel has them); one io_uring_enter per batch of completions, which also
// submits everything the batch prepared:
// - a multishot accept on the listener;
// - per connection, a recv into a buffer the kernel picks from a provided
//   buffer ring (an idle connection holds no buffer), re-armed only while the
//   request is incomplete;
// - the answer as one sendmsg with MSG_WAITALL, linked to the close: a
//   request that arrives in one read costs accept, recv, sendmsg and close
//   inside the ring, and no system call of its own.
// A request that does not arrive in one read is copied out of the provided
// buffer into a heap buffer of the connection's own; the provided buffer of
// a request answered at once is given back when its sendmsg completes.
//
// SIGINT and SIGTERM (a signalfd read through the ring) stop the server; a
// Unix socket file it created is removed. Needs liburing and a kernel with
// multishot accept and provided buffer rings (Linux 5.19).
#include "baseline_common.hpp"

#include <cstdlib>
#include <cstring>

#include <liburing.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/uio.h>

namespace {

using namespace baseline;

constexpr unsigned ring_entries = 4096;
constexpr unsigned buffer_count = 1024;   // provided buffers (a power of two)
constexpr size_t buffer_size = 4096;      // each: a whole small request
constexpr int buffer_group = 0;
constexpr size_t min_conn_buffer = 512;   // first heap buffer of a slow request

// What a completion is about: the low byte of its user_data; the descriptor
// is in the rest.
enum op : uint8_t { op_accept, op_recv, op_send, op_close, op_signal };

uint64_t tag(op o, int fd) { return (static_cast<uint64_t>(fd) << 8) | o; }

struct conn {
    char* buf;            // a request that did not arrive in one read
    size_t cap;
    size_t len;
    request_frame frame;  // valid once framed
    bool framed;
    bool open;
    int held_buffer;      // provided buffer the response points into, or -1
    bool close_linked;    // the send in flight is linked to the close
    size_t stream_left;   // /stream: pattern bytes still to send
    size_t stream_at;
    char head[echo_head_room];
    iovec iov[2];
    msghdr msg;
};

io_uring ring;
io_uring_buf_ring* buffers_ring = nullptr;
char* buffers = nullptr;
conn* conns = nullptr;
size_t conns_size = 0;
int listen_fd = -1;

// An SQE, submitting what is queued first if the ring is full.
io_uring_sqe* next_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    while (sqe == nullptr) {
        io_uring_submit(&ring);
        sqe = io_uring_get_sqe(&ring);
    }
    return sqe;
}

void give_back(int id) {
    io_uring_buf_ring_add(buffers_ring, buffers + static_cast<size_t>(id) * buffer_size, buffer_size,
                          static_cast<unsigned short>(id), io_uring_buf_ring_mask(buffer_count), 0);
    io_uring_buf_ring_advance(buffers_ring, 1);
}

void arm_accept() {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_multishot_accept(sqe, listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, tag(op_accept, listen_fd));
}

void arm_recv(int fd) {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_recv(sqe, fd, nullptr, buffer_size, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = buffer_group;
    io_uring_sqe_set_data64(sqe, tag(op_recv, fd));
}

void submit_close(int fd) {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_close(sqe, fd);
    io_uring_sqe_set_data64(sqe, tag(op_close, fd));
}

// Sends c->iov[0..count) with MSG_WAITALL (all of it, or an error); the
// close follows in the same submission when `then_close`.
void submit_send(int fd, int count, bool then_close) {
    conn* c = &conns[fd];
    c->msg = msghdr{};
    c->msg.msg_iov = c->iov;
    c->msg.msg_iovlen = static_cast<size_t>(count);
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_sendmsg(sqe, fd, &c->msg, MSG_NOSIGNAL | MSG_WAITALL);
    io_uring_sqe_set_data64(sqe, tag(op_send, fd));
    c->close_linked = then_close;
    if (!then_close) return;
    sqe->flags |= IOSQE_IO_LINK;
    submit_close(fd);
}

void send_static(int fd, const char* text, size_t len) {
    conns[fd].iov[0] = {const_cast<char*>(text), len};
    submit_send(fd, 1, true);
}

// The next piece of a /stream answer: the pattern, 64,000 bytes at a time.
void send_stream_piece(int fd) {
    conn* c = &conns[fd];
    const size_t len = c->stream_left < stream_chunk ? c->stream_left : stream_chunk;
    c->iov[0] = {stream_pattern + c->stream_at % 10, len};
    c->stream_left -= len;
    c->stream_at += len;
    submit_send(fd, 1, c->stream_left == 0);
}

// Answers the whole request at `req`; `buffer` is the provided buffer it is
// in (given back when the send completes), or -1.
void answer(int fd, const char* req, int buffer) {
    conn* c = &conns[fd];
    const char* uri = req + c->frame.uri_off;
    if (path_ends_with(uri, c->frame.uri_len, "/stream")) {
        if (buffer >= 0) give_back(buffer);
        c->stream_left = stream_length(uri, c->frame.uri_len, 1048576);
        c->stream_at = 0;
        c->iov[0] = {const_cast<char*>(stream_head), sizeof stream_head - 1};
        submit_send(fd, 1, c->stream_left == 0);
        return;
    }
    if (!path_ends_with(uri, c->frame.uri_len, "/echo")) {
        if (buffer >= 0) give_back(buffer);
        send_static(fd, not_found, sizeof not_found - 1);
        return;
    }
    c->held_buffer = buffer;
    c->iov[0] = {c->head, echo_head(c->head, c->frame.body_len)};
    c->iov[1] = {const_cast<char*>(req + c->frame.body_off), c->frame.body_len};
    submit_send(fd, c->frame.body_len != 0 ? 2 : 1, true);
}

// Grows c->buf to at least `want` bytes. Returns false when out of memory.
bool reserve(conn* c, size_t want) { return grow(&c->buf, &c->cap, want, min_conn_buffer); }

// `n` bytes arrived in provided buffer `id`.
void on_data(int fd, int id, size_t n) {
    conn* c = &conns[fd];
    const char* data = buffers + static_cast<size_t>(id) * buffer_size;
    const bool whole_in_buffer = c->buf == nullptr;
    if (!whole_in_buffer) {
        if (!reserve(c, c->len + n)) {
            give_back(id);
            submit_close(fd);
            return;
        }
        std::memcpy(c->buf + c->len, data, n);
        c->len += n;
    }
    const char* req = whole_in_buffer ? data : c->buf;
    const size_t have = whole_in_buffer ? n : c->len;
    if (!c->framed) {
        const frame_status st = frame_head(req, have, &c->frame);
        if (st == frame_bad) {
            give_back(id);
            send_static(fd, bad_request, sizeof bad_request - 1);
            return;
        }
        c->framed = st == frame_complete;
    }
    if (c->framed && have >= c->frame.total) {
        if (whole_in_buffer) {
            answer(fd, req, id);
        } else {
            give_back(id);
            answer(fd, req, -1);
        }
        return;
    }
    if (whole_in_buffer) {  // keep the partial request
        if (!reserve(c, n * 2)) {
            give_back(id);
            submit_close(fd);
            return;
        }
        std::memcpy(c->buf, data, n);
        c->len = n;
    }
    give_back(id);
    arm_recv(fd);
}

void on_completion(const io_uring_cqe* cqe) {
    const uint64_t data = io_uring_cqe_get_data64(cqe);
    const int fd = static_cast<int>(data >> 8);
    const int res = cqe->res;
    switch (static_cast<op>(data & 0xff)) {
    case op_accept:
        if (res >= 0) {
            if (static_cast<size_t>(res) >= conns_size) {  // cannot happen: the table covers RLIMIT_NOFILE
                close(res);
            } else {
                conns[res].open = true;
                conns[res].held_buffer = -1;
                arm_recv(res);
            }
        } else if (res != -ECONNABORTED && res != -EINTR) {
            std::fprintf(stderr, "%s: accept: %s\n", program_name, std::strerror(-res));
        }
        if ((cqe->flags & IORING_CQE_F_MORE) == 0) arm_accept();  // the kernel ended the multishot
        return;
    case op_recv:
        if (res > 0 && (cqe->flags & IORING_CQE_F_BUFFER) != 0) {
            on_data(fd, static_cast<int>(cqe->flags >> IORING_CQE_BUFFER_SHIFT), static_cast<size_t>(res));
        } else if (res == -ENOBUFS) {
            arm_recv(fd);  // every buffer was in use in this batch: they are back by the next one
        } else {
            submit_close(fd);  // the peer left before the request was whole, or an error
        }
        return;
    case op_send: {
        conn* c = &conns[fd];
        if (c->held_buffer >= 0) {
            give_back(c->held_buffer);
            c->held_buffer = -1;
        }
        if (res < 0 && !c->close_linked) {
            submit_close(fd);  // a /stream piece failed (a linked close was cancelled instead)
        } else if (res >= 0 && c->stream_left != 0) {
            send_stream_piece(fd);  // a /stream goes on while the peer reads
        }
        return;
    }
    case op_close:
        if (res == -ECANCELED) {  // the linked send failed: close on its own
            submit_close(fd);
            return;
        }
        std::free(conns[fd].buf);
        std::memset(&conns[fd], 0, sizeof(conn));
        return;
    case op_signal:
        return;
    }
}

// Maps and registers the provided buffer ring and its buffers.
bool setup_buffers() {
    const size_t ring_bytes = buffer_count * sizeof(io_uring_buf);
    void* mapped = mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mapped == MAP_FAILED) return false;
    buffers_ring = static_cast<io_uring_buf_ring*>(mapped);
    io_uring_buf_ring_init(buffers_ring);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(mapped);
    reg.ring_entries = buffer_count;
    reg.bgid = buffer_group;
    const int rc = io_uring_register_buf_ring(&ring, &reg, 0);
    if (rc != 0) {
        errno = -rc;
        return false;
    }
    buffers = static_cast<char*>(std::malloc(buffer_count * buffer_size));
    if (buffers == nullptr) return false;
    for (unsigned i = 0; i < buffer_count; ++i) {
        io_uring_buf_ring_add(buffers_ring, buffers + i * buffer_size, buffer_size, static_cast<unsigned short>(i),
                              io_uring_buf_ring_mask(buffer_count), static_cast<int>(i));
    }
    io_uring_buf_ring_advance(buffers_ring, buffer_count);
    return true;
}

// The ring with the flags that save work where the kernel has them.
int setup_ring() {
    io_uring_params params{};
    params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    int rc = io_uring_queue_init_params(ring_entries, &ring, &params);
    if (rc == -EINVAL) {
        params = io_uring_params{};
        rc = io_uring_queue_init_params(ring_entries, &ring, &params);
    }
    return rc;
}

}  // namespace

int main(int argc, char** argv) {
    program_name = "scgi-uring-baseline-server";
    endpoint ep;
    int exit_code = 0;
    const int signal_fd = start_up(argc, argv, " on io_uring", &ep, &exit_code);
    if (signal_fd < 0) return exit_code;
    const int ring_rc = setup_ring();
    if (ring_rc != 0) {
        std::fprintf(stderr, "%s: io_uring_queue_init: %s\n", program_name, std::strerror(-ring_rc));
        return 1;
    }
    fill_stream_pattern();
    conns_size = raise_fd_limit();
    conns = static_cast<conn*>(std::calloc(conns_size, sizeof(conn)));
    if (conns == nullptr || !setup_buffers()) {
        std::fprintf(stderr, "%s: setup failed: %s\n", program_name, std::strerror(errno));
        return 1;
    }
    listen_fd = open_listener(&ep, argv[1]);
    if (listen_fd < 0) return 1;

    char name[sizeof(sockaddr_un::sun_path) + 16];
    format_endpoint(listen_fd, &ep, name, sizeof name);
    std::printf("Listening on %s\n", name);
    std::fflush(stdout);

    signalfd_siginfo signal_info{};
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_read(sqe, signal_fd, &signal_info, sizeof signal_info, 0);
    io_uring_sqe_set_data64(sqe, tag(op_signal, signal_fd));
    arm_accept();

    int status = 0;
    bool running = true;
    while (running) {
        const int rc = io_uring_submit_and_wait(&ring, 1);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
            std::fprintf(stderr, "%s: io_uring_submit_and_wait: %s\n", program_name, std::strerror(-rc));
            status = 1;
            break;
        }
        unsigned head;
        unsigned seen = 0;
        io_uring_cqe* cqe;
        io_uring_for_each_cqe(&ring, head, cqe) {
            ++seen;
            if ((io_uring_cqe_get_data64(cqe) & 0xff) == op_signal) running = false;
            on_completion(cqe);
        }
        io_uring_cq_advance(&ring, seen);
    }

    io_uring_queue_exit(&ring);  // ends every request in flight
    for (size_t fd = 0; fd < conns_size; ++fd) {
        if (conns[fd].open) {
            std::free(conns[fd].buf);
            close(static_cast<int>(fd));
        }
    }
    close(listen_fd);
    if (ep.family == AF_UNIX) unlink(ep.unix_path);
    close(signal_fd);
    std::free(buffers);
    std::free(conns);
    return status;
}
