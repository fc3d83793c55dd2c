// scgi::connection over real sockets: Unix socket pairs and TCP on 127.0.0.1.
#include <scgi/asio/connection.hpp>
#include <scgi/asio/read_request.hpp>
#include <scgi/encode_request.hpp>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>
#include <asio/write.hpp>

#include <gtest/gtest.h>

#include "run_until.hpp"

#include <array>
#include <chrono>
#include <cstring>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;
using scgi::test::run_until;

// A connected Unix socket pair: `ours` goes into the connection, `theirs`
// is the peer, a plain blocking descriptor the test reads and writes.
struct unix_pair {
    int ours = -1;
    int theirs = -1;
    unix_pair() {
        int fds[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) throw std::runtime_error("socketpair");
        ours = fds[0];
        theirs = fds[1];
    }
    ~unix_pair() {
        if (theirs >= 0) ::close(theirs);
    }
    void close_peer() {
        ::close(theirs);
        theirs = -1;
    }
};

void send_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        ASSERT_GT(n, 0) << std::strerror(errno);
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

// Everything the peer receives until the connection's end, with the error
// that ended it (0: a clean end of stream).
std::string receive_until_end(int fd, int& end_errno) {
    std::string all;
    char chunk[65536];
    for (;;) {
        const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n > 0) {
            all.append(chunk, static_cast<std::size_t>(n));
            continue;
        }
        end_errno = n == 0 ? 0 : errno;
        return all;
    }
}

// A connection over one end of a Unix socket pair.
class OpenConnection : public testing::Test {
protected:
    asio::io_context io;
    unix_pair p;
    scgi::connection c{io.get_executor()};
    void SetUp() override { c.assign(p.ours, AF_UNIX); }
};

// One async_read_some and what it completed with.
struct pending_read {
    std::array<char, 16> into{};
    std::error_code result;
    std::size_t received = 0;
    bool done = false;

    std::string bytes() const { return {into.data(), received}; }

    template <class Wrap>
    void start(scgi::connection& c, Wrap wrap) {
        c.async_read_some(asio::buffer(into), wrap([this](std::error_code ec, std::size_t n) {
            result = ec;
            received = n;
            done = true;
        }));
    }
    void start(scgi::connection& c) {
        start(c, [](auto handler) { return handler; });
    }
};

TEST(Connection, AssignRejectsANegativeDescriptorAndASecondAssign) {
    asio::io_context io;
    scgi::connection c(io.get_executor());
    EXPECT_THROW(c.assign(-1, AF_UNIX), std::invalid_argument);
    unix_pair p;
    c.assign(p.ours, AF_UNIX);
    EXPECT_TRUE(c.is_open());
    EXPECT_EQ(c.native_handle(), p.ours);
    EXPECT_THROW(c.assign(p.theirs, AF_UNIX), std::logic_error);
}

TEST_F(OpenConnection, AssignMakesABlockingDescriptorNonBlocking) {
    EXPECT_NE(::fcntl(p.ours, F_GETFL) & O_NONBLOCK, 0);
    // Proof by behaviour: nothing there, and the call returns at once.
    char byte;
    std::error_code ec;
    EXPECT_EQ(c.read_some(asio::buffer(&byte, 1), ec), 0u);
    EXPECT_EQ(ec, asio::error::would_block);
}

TEST_F(OpenConnection, ReadSomeReportsWhatArrivedThenWouldBlockThenEof) {
    send_all(p.theirs, "hello");
    std::array<char, 3> first{};
    std::array<char, 8> second{};
    std::error_code ec;
    // Two buffers: the bytes fill the first, then the second.
    const std::array<asio::mutable_buffer, 2> both{asio::buffer(first), asio::buffer(second)};
    EXPECT_EQ(c.read_some(both, ec), 5u);
    EXPECT_FALSE(ec);
    EXPECT_EQ(std::string(first.data(), 3) + std::string(second.data(), 2), "hello");
    EXPECT_EQ(c.read_some(asio::buffer(second), ec), 0u);
    EXPECT_EQ(ec, asio::error::would_block);
    // Nothing asked is not the end of input.
    EXPECT_EQ(c.read_some(asio::mutable_buffer(), ec), 0u);
    EXPECT_FALSE(ec);
    p.close_peer();
    EXPECT_EQ(c.read_some(asio::buffer(second), ec), 0u);
    EXPECT_EQ(ec, asio::error::eof);
    EXPECT_FALSE(c.is_registered()) << "nothing had to wait";
}

TEST(Connection, OperationsOnAClosedConnectionReportABadDescriptor) {
    asio::io_context io;
    scgi::connection c(io.get_executor());
    char byte = 'x';
    std::error_code ec;
    EXPECT_EQ(c.read_some(asio::buffer(&byte, 1), ec), 0u);
    EXPECT_EQ(ec, asio::error::bad_descriptor);
    EXPECT_EQ(c.write_some(asio::buffer(&byte, 1), ec), 0u);
    EXPECT_EQ(ec, asio::error::bad_descriptor);
    c.shutdown(asio::socket_base::shutdown_send, ec);
    EXPECT_EQ(ec, asio::error::bad_descriptor);
    std::error_code async_error;
    bool done = false;
    c.async_read_some(asio::buffer(&byte, 1), [&](std::error_code e, std::size_t) {
        async_error = e;
        done = true;
    });
    EXPECT_FALSE(done) << "completed inside the initiating call";
    run_until(io, [&] { return done; });
    EXPECT_EQ(async_error, asio::error::bad_descriptor);
}

TEST_F(OpenConnection, WriteSomeToAPeerThatLeftIsBrokenPipeWithoutSignal) {
    p.close_peer();
    std::error_code ec;
    EXPECT_EQ(c.write_some(asio::buffer(std::string_view("x")), ec), 0u);
    EXPECT_EQ(ec, asio::error::broken_pipe);  // and the process is still here: no SIGPIPE
}

// Bytes already there: the read completes without registering the socket,
// and not inside the initiating call.
TEST_F(OpenConnection, AsyncReadOfBytesAlreadyThereCompletesLaterWithoutRegistering) {
    send_all(p.theirs, "ready");
    pending_read read;
    read.start(c);
    EXPECT_FALSE(read.done) << "completed inside the initiating call";
    run_until(io, [&] { return read.done; });
    EXPECT_FALSE(read.result);
    EXPECT_EQ(read.bytes(), "ready");
    EXPECT_FALSE(c.is_registered());
}

// Nothing there: the read waits (registering the socket) and completes when
// bytes arrive from another thread.
TEST_F(OpenConnection, AsyncReadWaitsForBytes) {
    pending_read read;
    read.start(c);
    io.run_for(50ms);
    EXPECT_FALSE(read.done) << "completed with nothing to read";
    EXPECT_TRUE(c.is_registered());
    send_all(p.theirs, "late");
    run_until(io, [&] { return read.done; });
    EXPECT_FALSE(read.result);
    EXPECT_EQ(read.bytes(), "late");
}

// The trap of an edge-triggered reactor: an end of input consumed by an
// earlier read makes no new edge. A second read must still see it at once.
TEST_F(OpenConnection, EndOfInputIsReportedToEveryReadOnceRegistered) {
    std::array<char, 16> into{};
    std::vector<std::error_code> results;
    auto read = [&] {
        c.async_read_some(asio::buffer(into), [&](std::error_code ec, std::size_t) { results.push_back(ec); });
    };
    read();  // waits: registers the socket
    io.run_for(20ms);
    send_all(p.theirs, "x");
    p.close_peer();
    run_until(io, [&] { return results.size() == 1; });
    EXPECT_FALSE(results[0]);  // the byte
    for (int i = 0; i < 2; ++i) {
        read();
        run_until(io, [&] { return results.size() == static_cast<std::size_t>(i) + 2; });
        EXPECT_EQ(results.back(), asio::error::eof) << "read " << i + 2;
    }
}

TEST_F(OpenConnection, CancelEndsAWaitingReadWithOperationAborted) {
    pending_read read;
    read.start(c);
    io.run_for(20ms);
    ASSERT_FALSE(read.done);
    c.cancel();
    run_until(io, [&] { return read.done; });
    EXPECT_EQ(read.result, asio::error::operation_aborted);
    // The connection is still usable.
    send_all(p.theirs, "after");
    std::error_code ec;
    EXPECT_EQ(c.read_some(asio::buffer(read.into), ec), 5u);
}

// Per-operation cancellation through the handler's slot, for each type.
class ConnectionCancellation : public OpenConnection,
                               public testing::WithParamInterface<asio::cancellation_type> {};

TEST_P(ConnectionCancellation, SlotCancelsAWaitingRead) {
    asio::cancellation_signal signal;
    pending_read read;
    read.start(c, [&](auto handler) { return asio::bind_cancellation_slot(signal.slot(), handler); });
    io.run_for(20ms);
    ASSERT_FALSE(read.done);
    signal.emit(GetParam());
    run_until(io, [&] { return read.done; });
    EXPECT_EQ(read.result, asio::error::operation_aborted);
}

INSTANTIATE_TEST_SUITE_P(EachType, ConnectionCancellation,
                         testing::Values(asio::cancellation_type::terminal, asio::cancellation_type::partial,
                                         asio::cancellation_type::total));

// asio::async_write over the connection: more than the socket buffers hold,
// so it has to wait while the peer reads, and every byte arrives in order.
TEST_F(OpenConnection, AsyncWriteOfManyMegabytesWaitsForThePeer) {
    std::string data(8 * 1024 * 1024, '\0');
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + i / 4096);
    std::string received;
    int end_errno = -1;
    std::thread reader([&] { received = receive_until_end(p.theirs, end_errno); });
    std::error_code result;
    std::size_t written = 0;
    bool done = false;
    asio::async_write(c, asio::buffer(data), [&](std::error_code ec, std::size_t n) {
        result = ec;
        written = n;
        done = true;
        c.close();
    });
    run_until(io, [&] { return done; });
    reader.join();
    EXPECT_FALSE(result);
    EXPECT_EQ(written, data.size());
    EXPECT_EQ(end_errno, 0);
    EXPECT_TRUE(received == data) << "received " << received.size() << " bytes";
    EXPECT_TRUE(c.is_registered() || written == data.size());
}

// The library's composed operations run over it (AsyncReadStream), here with
// futures, the head and the body arriving in separate pieces.
TEST_F(OpenConnection, ReadRequestOperationsRunOverIt) {
    const std::vector<scgi::header> headers{{"REQUEST_METHOD", "POST"}, {"REQUEST_URI", "/x"}};
    std::string request;
    ASSERT_FALSE(scgi::encode_request(headers, 4, request));
    scgi::read_buffer buffer;
    scgi::request_parser parser;
    auto head = scgi::async_read_request_head(c, buffer, parser, asio::use_future);
    auto work = asio::make_work_guard(io);
    std::thread io_thread([&] { io.run_for(10s); });
    send_all(p.theirs, std::string_view(request).substr(0, 7));
    std::this_thread::yield();
    send_all(p.theirs, std::string_view(request).substr(7));
    ASSERT_EQ(head.wait_for(5s), std::future_status::ready);
    EXPECT_NO_THROW(head.get());
    EXPECT_EQ(parser.head().uri(), "/x");
    auto piece = scgi::async_read_body_some(c, buffer, parser, asio::use_future);
    send_all(p.theirs, "body");
    ASSERT_EQ(piece.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(piece.get(), "body");
    io.stop();
    io_thread.join();
}

TEST_F(OpenConnection, ShutdownSendGivesThePeerAnEndOfStream) {
    std::error_code ec;
    EXPECT_EQ(c.write_some(asio::buffer(std::string_view("done")), ec), 4u);
    c.shutdown(asio::socket_base::shutdown_send, ec);
    EXPECT_FALSE(ec);
    int end_errno = -1;
    EXPECT_EQ(receive_until_end(p.theirs, end_errno), "done");
    EXPECT_EQ(end_errno, 0);
    EXPECT_TRUE(c.is_open()) << "a shutdown is not a close";
}

// Reset: the peer sees a failure (ECONNRESET), not a clean end. Over TCP,
// where a reset is a packet of its own.
TEST(Connection, ResetEndsTheConnectionWithAResetOverTcp) {
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
    asio::ip::tcp::socket peer(io);
    peer.connect(acceptor.local_endpoint());
    asio::ip::tcp::socket accepted = acceptor.accept();
    scgi::connection c(io.get_executor());
    c.assign(accepted.release(), AF_INET);
    std::error_code ec;
    EXPECT_EQ(c.write_some(asio::buffer(std::string_view("partial")), ec), 7u);
    c.reset();
    EXPECT_FALSE(c.is_open());
    int end_errno = -1;
    EXPECT_EQ(receive_until_end(peer.native_handle(), end_errno), "partial");
    EXPECT_EQ(end_errno, ECONNRESET);
}

// Close: the descriptor is released (its number is free again) and a waiting
// read ends with operation_aborted.
TEST_F(OpenConnection, CloseReleasesTheDescriptorAndAbortsAWaitingRead) {
    pending_read read;
    read.start(c);
    io.run_for(20ms);
    c.close();
    run_until(io, [&] { return read.done; });
    EXPECT_EQ(read.result, asio::error::operation_aborted);
    EXPECT_FALSE(c.is_open());
    EXPECT_EQ(::fcntl(p.ours, F_GETFD), -1) << "descriptor still open";
    c.close();  // idempotent
}

// Readiness the reactor reported while nothing waited is not lost: bytes
// that arrived then, partly read, make a later wait complete at once. (With
// several threads, another thread's reactor run can see the bytes between a
// read's would_block and the wait; the wait's re-arm must catch them.)
TEST_F(OpenConnection, WaitForInputAlreadyReportedCompletesAtOnce) {
    pending_read first;
    first.start(c);  // registers the socket and waits
    io.run_for(20ms);
    send_all(p.theirs, "a");
    run_until(io, [&] { return first.done; });
    send_all(p.theirs, "bc");
    {
        // The reactor runs and sees the bytes while nothing waits.
        auto work = asio::make_work_guard(io);
        io.run_for(50ms);
    }
    char byte = 0;
    std::error_code ec;
    ASSERT_EQ(c.read_some(asio::buffer(&byte, 1), ec), 1u);  // "b"; "c" is left, no new edge
    bool done = false;
    std::error_code waited;
    c.async_wait(asio::socket_base::wait_read, [&](std::error_code e) {
        waited = e;
        done = true;
    });
    run_until(io, [&] { return done; });
    EXPECT_FALSE(waited);
    EXPECT_EQ(c.read_some(asio::buffer(&byte, 1), ec), 1u);
    EXPECT_EQ(byte, 'c');
}

// The end of input is readiness: the wait completes, and the read says eof.
TEST_F(OpenConnection, WaitForInputCompletesAtTheEndOfInput) {
    bool done = false;
    std::error_code waited;
    c.async_wait(asio::socket_base::wait_read, [&](std::error_code e) {
        waited = e;
        done = true;
    });
    io.run_for(20ms);
    ASSERT_FALSE(done);
    p.close_peer();
    run_until(io, [&] { return done; });
    EXPECT_FALSE(waited);
    char byte = 0;
    std::error_code ec;
    EXPECT_EQ(c.read_some(asio::buffer(&byte, 1), ec), 0u);
    EXPECT_EQ(ec, asio::error::eof);
}

TEST_F(OpenConnection, WaitIsCancelledThroughItsSlot) {
    asio::cancellation_signal signal;
    bool done = false;
    std::error_code waited;
    c.async_wait(asio::socket_base::wait_read, asio::bind_cancellation_slot(signal.slot(), [&](std::error_code e) {
                     waited = e;
                     done = true;
                 }));
    io.run_for(20ms);
    ASSERT_FALSE(done);
    signal.emit(asio::cancellation_type::partial);
    run_until(io, [&] { return done; });
    EXPECT_EQ(waited, asio::error::operation_aborted);
}

// async_wait: readiness without consuming, in coroutines.
TEST_F(OpenConnection, AsyncWaitReportsReadabilityWithoutConsuming) {
    std::string got;
    bool done = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            auto [ec] = co_await c.async_wait(asio::socket_base::wait_read,
                                              asio::experimental::as_tuple(asio::use_awaitable));
            EXPECT_FALSE(ec);
            std::array<char, 8> into{};
            std::error_code read_error;
            const std::size_t n = c.read_some(asio::buffer(into), read_error);
            got.assign(into.data(), n);
            done = true;
        },
        [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    io.run_for(20ms);
    EXPECT_FALSE(done);
    send_all(p.theirs, "ping");
    run_until(io, [&] { return done; });
    EXPECT_EQ(got, "ping");
}

}  // namespace
