/// @file
/// Settings of an SCGI server, with their defaults.
#pragma once

#include <scgi/asio/io_engine.hpp>
#include <scgi/asio/listen.hpp>
#include <scgi/asio/log.hpp>
#include <scgi/asio/peer_filter.hpp>
#include <scgi/asio/read_buffer.hpp>
#include <scgi/asio/spool_options.hpp>
#include <scgi/parser_options.hpp>

#include <chrono>
#include <cstddef>

namespace scgi {

/// Everything a `scgi::server` can be tuned with. Each default is what a
/// backend behind nginx, Apache or lighttpd on one machine wants to start.
struct server_options {
    /// Threads running connections. 1 suits one process per core (scale out
    /// with several processes and `listen.reuse_port`); more share one
    /// process's connections across cores: on epoll any thread serves any
    /// connection, on io_uring each thread serves those its own ring
    /// accepted (see `io_engine`).
    unsigned threads = 1;

    /// epoll or io_uring (see `io_engine`). Default: io_uring where it is
    /// available, with one log line at start saying which runs and why.
    io_engine engine = io_engine::automatic;

    /// Connections served at once. At the limit the server stops accepting
    /// (each listener holds at most one accepted connection until a slot
    /// frees; on the io_uring engine with several threads, one per thread); new connections wait in the kernel's listen backlog
    /// (`listen.backlog`) until one finishes — no error, no busy loop.
    std::size_t max_connections = 1024;

    /// The whole request head must arrive within this time of the connection
    /// being accepted (slow-header clients are dropped with 408). Over TCP
    /// the kernel holds a connection until its first bytes arrive
    /// (`listen.tcp_defer_accept`); the timeout runs from the accept.
    ///
    /// Why 5 s: nginx, Apache httpd and lighttpd write the whole head right
    /// after connecting (it is a few hundred bytes, sent in one write), so a
    /// real front end needs milliseconds. Until the head is in, a connection
    /// holds one of `max_connections` slots: with a long limit, a local
    /// process that opens connections and sends nothing (or a byte now and
    /// then) blocks the server for that long. Raise it only for a front end
    /// that is itself slow to produce the head.
    std::chrono::milliseconds head_timeout = std::chrono::seconds(5);

    /// While the handler reads the body, each read must get bytes within
    /// this time (an idle body is dropped; a slow but steady one is not).
    std::chrono::milliseconds body_timeout = std::chrono::seconds(30);

    /// Each write of the response must complete within this time (a front
    /// end that stops reading is dropped).
    std::chrono::milliseconds write_timeout = std::chrono::seconds(30);

    /// On `stop()`, in-flight requests get this long to finish. Then their
    /// connections are shut down and whatever their handlers await is
    /// cancelled; `run()` returns once the handlers have returned.
    std::chrono::milliseconds stop_timeout = std::chrono::seconds(10);

    /// Strictness and limits of request parsing (header block size, header
    /// count, body size; lenient switches for odd front ends). A request over
    /// a limit is answered 413 (body) or 431 (head).
    parser_options parser{};

    /// Bytes read per socket read, and the largest body piece a handler gets
    /// at once. Allocated once per connection slot and reused.
    std::size_t read_buffer_size = read_buffer::default_capacity;

    /// No response byte leaves before the whole request body has been
    /// received, whether the handler read it or not. When a handler writes
    /// (head or body) while body bytes are still unread, the write first
    /// receives the rest of the body into the spool (`spool`), then goes out;
    /// the handler's later reads return the spooled bytes, in order.
    ///
    /// Why: front ends are half-duplex. nginx stops sending the request body
    /// once it has passed the response head on; Apache httpd's
    /// mod_proxy_scgi sends the whole request before it reads anything. A
    /// response started early therefore stalls or is cut as soon as the
    /// body outgrows the socket buffers (about 200 KB).
    ///
    /// Turn it off only when every peer reads the response while it still
    /// sends the body (`scgi::client`, your own full-duplex clients): then a
    /// handler can stream both ways at once. Unsafe behind nginx and Apache
    /// httpd.
    bool receive_body_before_response = true;

    /// Memory and disk bounds of the body spool (see
    /// `receive_body_before_response`).
    spool_options spool{};

    /// Backlog, SO_REUSEPORT, TCP_DEFER_ACCEPT and the Unix socket file's mode.
    listen_options listen{};

    /// Which peers are served: TCP peers by address, Unix-socket peers by
    /// user or group; the others are closed unanswered and logged once per
    /// peer and interval. Default: every peer, because the socket file's
    /// mode and group, or binding TCP to 127.0.0.1, are what keeps others
    /// out (see `peer_filter`).
    peer_filter peers{};

    /// SIGINT and SIGTERM stop the server gracefully. They are caught from the
    /// server's construction on (a signal before `run()` is held until it
    /// starts); when the server is destroyed their disposition is reset to
    /// the default (Asio restores SIG_DFL, not a SIG_IGN inherited from
    /// nohup). Independently of this, every server ignores SIGPIPE: a write
    /// to a closed socket or log pipe returns EPIPE instead of killing it.
    bool handle_signals = true;

    /// Where events go: a bad request, a timeout, a handler that threw,
    /// start and stop. Default: one line per event on stderr. Lines about a
    /// connection start with `conn=<id> peer=<who>: ` (the id counts the
    /// server's connections from 1; the peer is `address:port`, or
    /// `unix:pid=<pid>,uid=<uid>` for a Unix socket). The hook runs on the
    /// server's log thread, never on a serving thread (see `log_function`);
    /// empty: no log thread, no lines.
    log_function log = log_to_stderr;

    /// Lines less severe than this are neither formatted nor queued nor
    /// counted. Default: every line (`log_level::info`).
    scgi::log_level log_level = scgi::log_level::info;

    /// The queue between the serving threads and the log thread, and the rate
    /// limit per kind of event (defaults: 1,024 lines, 256 KiB; 10 lines per
    /// kind per 10 s; 1 s to flush at destruction).
    scgi::log_limits log_limits{};
};

}  // namespace scgi
