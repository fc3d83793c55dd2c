// scgi::server's lifecycle: construction, listeners, start, the stop and its
// deadline, the threads. (server_impl.hpp lists where the rest lives.)
#include "server/server_impl.hpp"

#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/dispatch.hpp>
#include <asio/post.hpp>

#include <algorithm>
#include <cstdlib>
#include <csignal>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace scgi {

using detail::connection_slot;

namespace {

// `o`, or std::invalid_argument for options out of range (before anything
// is set up with them).
server_options validated(server_options o) {
    if (o.threads == 0) throw std::invalid_argument("scgi::server: threads must be at least 1");
    if (o.max_connections == 0) throw std::invalid_argument("scgi::server: max_connections must be at least 1");
    if (o.head_timeout.count() <= 0 || o.body_timeout.count() <= 0 || o.write_timeout.count() <= 0 ||
        o.stop_timeout.count() < 0) {
        throw std::invalid_argument("scgi::server: timeouts must be positive");
    }
    if (o.read_buffer_size == 0) throw std::invalid_argument("scgi::server: read_buffer_size is 0");
    return o;
}

}  // namespace

server::impl::impl(handler h, server_options o)
    : on_request(std::move(h)),
      options(validated(std::move(o))),
      logs(options),
      engine(choose_engine(options)),
      // With the io_uring engine this io_context has one thread, the first
      // (the others run ring_threads).
      io(engine.ring ? 1 : static_cast<int>(options.threads)),
      control(detail::serial_executor(io, engine.ring ? 1 : options.threads)),
      slots(io, options, logs),
      sweeper(control, slots, options),
      slot_freed(control),
      stop_deadline(control) {
    if (!on_request) throw std::invalid_argument("scgi::server: empty handler");
    start_ring_threads();
    // A write to a closed pipe or socket (including the log's stderr) must
    // return EPIPE, not kill the server.
    std::signal(SIGPIPE, SIG_IGN);
    // Catch the signals from now on: one arriving between start-up and run()
    // is held until run() starts waiting, instead of killing the process with
    // its default action.
    if (options.handle_signals) signals.emplace(control, SIGINT, SIGTERM);
}

namespace {

// The engine the environment asks for (SCGI_IO_ENGINE), for `automatic`.
io_engine engine_from_environment() {
    const char* value = std::getenv("SCGI_IO_ENGINE");
    if (value == nullptr || *value == '\0') return io_engine::automatic;
    const std::string_view name(value);
    if (name == "epoll") return io_engine::epoll;
    if (name == "io_uring") return io_engine::io_uring;
    throw std::invalid_argument("scgi::server: SCGI_IO_ENGINE is '" + std::string(name) +
                                "'; it must be epoll or io_uring");
}

}  // namespace

// io_uring unless epoll is asked for or io_uring cannot run here (then
// epoll, and the start line says why). `automatic` with several threads runs
// epoll: there every thread serves any connection, so a handler that blocks
// its thread holds up only itself; the io_uring engine gives each thread its
// own connections (see io_engine::io_uring).
engine_choice server::impl::choose_engine(const server_options& options) {
    engine_choice choice;
    io_engine wanted = options.engine;
    std::string why;
    if (wanted == io_engine::automatic) {
        wanted = engine_from_environment();
        if (wanted != io_engine::automatic) why = " (SCGI_IO_ENGINE)";
    } else {
        why = " (server_options::engine)";
    }
    if (wanted == io_engine::epoll) {
        choice.line = "io engine: epoll" + why;
        return choice;
    }
    if (wanted == io_engine::automatic && options.threads > 1) {
        choice.line = "io engine: epoll, because with " + std::to_string(options.threads) +
                      " threads it shares every connection among them (io_uring gives each thread its own; "
                      "ask for it to use it)";
        return choice;
    }
    // Tried on a thread of its own: the kernel later notifies a thread that
    // set up a ring when the ring is torn down (see io_ring), and the
    // constructing thread is the application's.
    std::string unavailable;
    std::thread([&] { unavailable = detail::io_ring::unavailable_reason(detail::io_ring::settings{}); }).join();
    if (!unavailable.empty()) {
        if (wanted == io_engine::io_uring) {
            throw std::runtime_error("scgi::server: io_uring" + why + ": " + unavailable);
        }
        choice.line = "io engine: epoll, because io_uring is unavailable: " + unavailable;
        return choice;
    }
    choice.ring = true;
    choice.line = "io engine: io_uring" + why;
    if (options.threads > 1) {
        choice.line += ", a ring per thread (" + std::to_string(options.threads) + " threads)";
    }
    return choice;
}

// The io_uring engine's rings: the first thread's, and one per other thread
// with its io_context. Each ring itself is set up by the first operation,
// on its thread.
void server::impl::start_ring_threads() {
    if (!engine.ring) return;
    ring = std::make_unique<detail::io_ring>(io, detail::io_ring::settings{});
    slots.submit_through(ring.get());
    for (unsigned i = 1; i < options.threads; ++i) {
        auto& added = ring_threads.emplace_back(std::make_unique<ring_thread>());
        slots.add_home(added->io, &added->ring);
    }
}

// Takes a listener for the accept loops (started by start_serving).
// Streamed responses write small pieces: Nagle must not hold one back for
// the front end's delayed ACK. A TCP connection inherits TCP_NODELAY from its
// listener when the kernel creates it, at the handshake, so the option is set
// here, before any accept loop runs, and costs nothing per connection.
// (Connections already queued on a listener this process adopts were created
// without it: systemd's NoDelay=yes covers those.)
endpoint server::impl::add_listener(listening_socket socket) {
    if (socket.endpoint().type() == endpoint::kind::tcp) {
        const int on = 1;
        ::setsockopt(socket.acceptor().native_handle(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    }
    endpoint actual = socket.endpoint();
    listeners.push_back(std::move(socket));
    bound.push_back(actual);
    return actual;
}

// A slot for a new connection; a new slot gets its worker coroutine, which
// serves the slot's connections for the server's life.
connection_slot* server::impl::acquire(std::size_t home) {
    bool created = false;
    connection_slot* slot = slots.acquire(created, home);
    if (!created) return slot;
    // Outside the pool's lock: with one thread the worker runs here until it
    // waits for its first connection.
    asio::co_spawn(slot->strand, work(*slot),
                   asio::bind_cancellation_slot(slot->cancel.slot(), [this](std::exception_ptr e) {
                       if (e) log_failure(detail::log_event::internal_failure, log_level::error, "connection worker failed: ", e);
                   }));
    return slot;
}

// Returns the slot of a finished connection (on the slot's strand).
void server::impl::release(connection_slot& slot) noexcept {
    slot.recycle();
    slots.give_back(slot);
    active.fetch_sub(1);
    if (waiting_for_slot.load() != 0 || stop_requested.load()) {
        asio::post(control, [this] {
            wake_slot_waiters();
            maybe_finish_stop();
        });
    }
}

void server::impl::start_serving() {
    if (listeners.empty()) throw std::logic_error("scgi::server: run() or start() before listen()");
    if (serving.exchange(true)) return;
    // A stop() that came first is carried out as soon as the loop runs.
    if (stop_requested) asio::post(control, [this] { begin_stop(); });
    // Waiters never re-arm this timer (that would cancel the other waiters):
    // it stays at "never" and cancel() wakes them all.
    slot_freed.expires_at(asio::steady_timer::time_point::max());
    for (auto& t : ring_threads) t->slot_freed.expires_at(asio::steady_timer::time_point::max());
    accept_loops_running = listeners.size();
    for (auto& listener : listeners) {
        asio::co_spawn(control, ring ? accept_loop_through_rings(listener) : accept_loop(listener),
                       [this](std::exception_ptr e) {
            if (e) log_failure(detail::log_event::internal_failure, log_level::error, "accept loop failed: ", e);
        });
    }
    sweeper.start([this](std::exception_ptr e) {
        if (e) log_failure(detail::log_event::internal_failure, log_level::error, "timeout sweeper failed: ", e);
    });
    if (signals) {
        signals->async_wait([this](std::error_code ec, int signal_number) {
            if (ec) return;
            log(log_level::info, signal_number == SIGINT ? "SIGINT: stopping" : "SIGTERM: stopping");
            begin_stop();
        });
    }
    log(log_level::info, engine.line);
    for (const auto& where : bound) log(log_level::info, "listening on " + where.to_string());
    warn_if_reuse_port_loses_connections();
}

// Closing a SO_REUSEPORT listener resets the connections still queued on
// it, unless the kernel migrates them to the other listeners of the port
// (net.ipv4.tcp_migrate_req, Linux 5.14+, per network namespace). Said
// once at start, so a rolling restart's losses have a named cause.
void server::impl::warn_if_reuse_port_loses_connections() {
    if (!options.listen.reuse_port) return;
    const bool any_tcp = std::any_of(bound.begin(), bound.end(),
                                     [](const endpoint& e) { return e.type() != endpoint::kind::unix_socket; });
    if (!any_tcp) return;
    std::ifstream setting("/proc/sys/net/ipv4/tcp_migrate_req");
    char value = '0';
    if (setting >> value && value != '0') return;
    log(log_level::warning, setting ? "SO_REUSEPORT: net.ipv4.tcp_migrate_req is 0, so stopping this process "
                                      "resets the connections the kernel hands its listener while it "
                                      "closes; set it to 1 (docs/scaling-out.md)"
                                    : "SO_REUSEPORT: this kernel cannot migrate queued connections "
                                      "(net.ipv4.tcp_migrate_req, Linux 5.14+): stopping this process resets "
                                      "the connections the kernel hands its listener while it closes "
                                      "(docs/scaling-out.md)");
}

void server::impl::begin_stop() {
    stop_requested = true;
    if (stop_begun) return;
    stop_begun = true;
    for (auto& listener : listeners) {
        // Remove the file while the socket is still open: its inode
        // cannot be reused by a replacement file meanwhile. The accept
        // loop takes what is queued, then closes the socket.
        listener.remove_socket_file();
        std::error_code ignored;
        listener.acceptor().cancel(ignored);
    }
    if (ring) {
        // Each thread's accept loops see the stop and call back their own
        // accepts (only the ring's thread may submit to it).
        // (Posted, on control too: a loop resumed here would end inside
        // this function.)
        asio::post(control, [this] { wake_ring_accept_loops(0); });
        for (std::size_t t = 0; t < ring_threads.size(); ++t) {
            asio::post(ring_threads[t]->io, [this, t] { wake_ring_accept_loops(t + 1); });
        }
    }
    wake_slot_waiters();
    if (signals) signals->cancel();
    if (active.load() != 0) {
        log(log_level::info, "stopping: waiting for " + std::to_string(active.load()) + " connection(s)");
    }
    stop_deadline.expires_after(options.stop_timeout);
    stop_deadline.async_wait([this](std::error_code ec) {
        if (ec || stopped) return;
        log(log_level::warning, "stop deadline passed: closing " + std::to_string(active.load()) +
                                    " connection(s)");
        stop_deadline_passed = true;
        wake_slot_waiters();  // an accept loop holding a connection for a slot drops it
        if (active.load() == 0) return maybe_finish_stop();
        slots.for_each([](connection_slot& slot) {
            slot.post_if_current(slot.deadline.generation(), [&slot] {
                if (!slot.conn.is_open()) return;
                slot.cancelled = true;
                slot.cancel.emit(asio::cancellation_type::terminal);
                // Whatever the coroutine does next on the socket fails at
                // once; the descriptor stays open until the coroutine closes
                // it, so its number cannot be reused under it.
                std::error_code ignored;
                slot.conn.shutdown(asio::socket_base::shutdown_both, ignored);
                slot.conn.cancel();
            });
        });
    });
    maybe_finish_stop();
}

// On control: completes the stop once it has begun, the accept loops
// have closed their listeners and no connection is in flight.
void server::impl::maybe_finish_stop() {
    if (stop_begun && accept_loops_running == 0 && active.load() == 0) finish_stop();
}

// On control, once nothing is in flight: lets io.run() return.
void server::impl::finish_stop() {
    if (stopped) return;
    stopped = true;
    // Every connection has finished: end the workers, so that run() returns.
    // (Dispatched outside the pool's lock: with one thread a worker ends here.)
    std::vector<connection_slot*> workers;
    slots.for_each([&workers](connection_slot& slot) { workers.push_back(&slot); });
    for (connection_slot* slot : workers) asio::dispatch(slot->strand, [slot] { slot->take(-1, AF_UNSPEC, sockaddr_storage{}); });
    sweeper.stop();
    stop_deadline.cancel();
    wake_slot_waiters();
    if (signals) signals->cancel();
    // The other threads' io_contexts end once the workers' ends, posted
    // above, have run.
    for (auto& t : ring_threads) t->work.reset();
    log(log_level::info, "stopped");
}

void server::impl::wake_slot_waiters() {
    slot_freed.cancel();
    for (auto& t : ring_threads) {
        asio::post(t->io, [thread = t.get()] { thread->slot_freed.cancel(); });
    }
}

server::server(handler on_request, server_options options)
    : impl_(std::make_unique<impl>(std::move(on_request), std::move(options))) {}

namespace {

handler wrap(simple_handler on_request) {
    if (!on_request) throw std::invalid_argument("scgi::server: empty handler");
    return [h = std::move(on_request)](request& req, response_writer& writer) -> asio::awaitable<void> {
        const response whole = co_await h(req);
        // Its error, if any, is the writer's: run_handler handles it.
        (void)co_await writer.send(whole);
    };
}

}  // namespace

server::server(simple_handler on_request, server_options options)
    : server(wrap(std::move(on_request)), std::move(options)) {}

server::~server() {
    stop();
    wait();
}

endpoint server::listen(const endpoint& where, std::error_code& ec) {
    listening_socket socket = scgi::listen(impl_->control, where, impl_->options.listen, ec);
    if (ec) return {};
    return impl_->add_listener(std::move(socket));
}

endpoint server::listen(const endpoint& where) {
    std::error_code ec;
    endpoint actual = listen(where, ec);
    if (ec) throw std::system_error(ec, "scgi::server: cannot listen on " + where.to_string());
    return actual;
}

std::size_t server::adopt_activated_sockets(std::error_code& ec) {
    auto sockets = scgi::adopt_activated_sockets(impl_->control, ec);
    if (ec) return 0;
    for (auto& socket : sockets) impl_->add_listener(std::move(socket));
    return sockets.size();
}

std::size_t server::adopt_activated_sockets() {
    std::error_code ec;
    const std::size_t n = adopt_activated_sockets(ec);
    if (ec) throw std::system_error(ec, "scgi::server: socket activation");
    return n;
}

endpoint server::adopt(int listening_fd, std::error_code& ec) {
    listening_socket socket = adopt_listening_socket(impl_->control, listening_fd, ec);
    if (ec) return {};
    return impl_->add_listener(std::move(socket));
}

endpoint server::adopt(int listening_fd) {
    std::error_code ec;
    endpoint actual = adopt(listening_fd, ec);
    if (ec) throw std::system_error(ec, "scgi::server: cannot adopt descriptor " + std::to_string(listening_fd));
    return actual;
}

std::vector<endpoint> server::endpoints() const { return impl_->bound; }

void server::run() {
    impl_->start_serving();
    // The calling thread is one of options.threads.
    impl_->start_threads(1);
    impl_->run_thread(0);
    wait();
}

void server::start() {
    impl_->start_serving();
    impl_->start_threads(0);
}

// Threads `first` to options.threads - 1. If one cannot be created, those
// started are stopped and joined before the error goes on: with the io_uring
// engine a thread's connections and the stop need the thread that did not
// start, so the server could not stop otherwise.
void server::impl::start_threads(unsigned first) {
    try {
        for (unsigned i = first; i < options.threads; ++i) threads.emplace_back([this, i] { run_thread(i); });
    } catch (...) {
        io.stop();
        for (auto& t : ring_threads) t->io.stop();
        for (auto& t : threads) t.join();
        threads.clear();
        throw;
    }
}

// Thread `i` of options.threads: with the io_uring engine each but the
// first runs its own io_context.
void server::impl::run_thread(unsigned i) {
    if (i == 0 || ring_threads.empty()) {
        io.run();
    } else {
        ring_threads[i - 1]->io.run();
    }
}

void server::wait() {
    for (auto& t : impl_->threads) {
        if (t.joinable()) t.join();
    }
    impl_->threads.clear();
    // The lines of the run (down to "stopped") reach the hook before wait()
    // and run() return, unless the hook takes longer than flush_timeout.
    impl_->logs.flush(impl_->options.log_limits.flush_timeout);
}

void server::stop() noexcept {
    impl_->stop_requested.store(true);
    if (!impl_->serving.load()) return;  // start_serving() will carry it out
    asio::post(impl_->control, [this] { impl_->begin_stop(); });
}

std::size_t server::active_connections() const noexcept { return impl_->active.load(); }

std::size_t server::connections_accepted() const noexcept { return impl_->accepted.load(); }

asio::any_io_executor server::get_executor() const noexcept { return impl_->io.get_executor(); }

}  // namespace scgi
