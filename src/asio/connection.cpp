#include <scgi/asio/connection.hpp>

#include <cerrno>
#include <stdexcept>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace scgi {

namespace {

std::error_code last_error() noexcept { return {errno, asio::error::get_system_category()}; }

msghdr message_of(std::span<const iovec> parts) noexcept {
    msghdr message{};
    message.msg_iov = const_cast<iovec*>(parts.data());
    message.msg_iovlen = parts.size();
    return message;
}

}  // namespace

void connection::assign(int descriptor, int family, bool is_non_blocking) {
    if (descriptor < 0) throw std::invalid_argument("scgi::connection::assign: negative descriptor");
    if (is_open()) throw std::logic_error("scgi::connection::assign: the connection is open");
    if (!is_non_blocking) {
        const int flags = ::fcntl(descriptor, F_GETFL);
        if (flags >= 0 && (flags & O_NONBLOCK) == 0) ::fcntl(descriptor, F_SETFL, flags | O_NONBLOCK);
    }
    fd_ = descriptor;
    family_ = family;
}

std::size_t connection::receive(std::span<const iovec> into, std::error_code& ec) noexcept {
    ec.clear();
    if (fd_ < 0) {
        ec = asio::error::bad_descriptor;
        return 0;
    }
    if (into.empty()) return 0;  // nothing asked: not the end of input
    for (;;) {
        ssize_t n;
        if (into.size() == 1) {
            n = ::recv(fd_, into[0].iov_base, into[0].iov_len, MSG_DONTWAIT);
        } else {
            msghdr message = message_of(into);
            n = ::recvmsg(fd_, &message, MSG_DONTWAIT);
        }
        if (n > 0) return static_cast<std::size_t>(n);
        if (n == 0) {
            ec = asio::error::eof;
        } else if (errno == EINTR) {
            continue;
        } else {
            ec = last_error();  // EWOULDBLOCK == EAGAIN on Linux
        }
        return 0;
    }
}

std::size_t connection::send(std::span<const iovec> from, std::error_code& ec) noexcept {
    ec.clear();
    if (fd_ < 0) {
        ec = asio::error::bad_descriptor;
        return 0;
    }
    if (from.empty()) return 0;
    msghdr message = message_of(from);
    for (;;) {
        const ssize_t n = ::sendmsg(fd_, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) return static_cast<std::size_t>(n);
        if (errno == EINTR) continue;
        ec = last_error();
        return 0;
    }
}

bool connection::register_with_reactor(std::error_code& ec) {
    if (socket_) return true;
    if (fd_ < 0) {
        ec = asio::error::bad_descriptor;
        return false;
    }
    socket_.emplace(executor_);
    socket_->assign(asio::generic::stream_protocol(family_, family_ == AF_UNIX ? 0 : IPPROTO_TCP), fd_, ec);
    if (ec) {
        // The descriptor stays ours (Asio did not take it).
        socket_.reset();
        return false;
    }
    ec.clear();
    return true;
}

void connection::shutdown(shutdown_type what, std::error_code& ec) noexcept {
    ec.clear();
    if (fd_ < 0) {
        ec = asio::error::bad_descriptor;
        return;
    }
    if (::shutdown(fd_, static_cast<int>(what)) != 0) ec = last_error();
}

std::error_code connection::error_of(int result) noexcept {
    if (result == -ECANCELED) return asio::error::operation_aborted;
    return {-result, asio::error::get_system_category()};
}

void connection::cancel() noexcept {
    if (ring_) {
        // (A cancellation entry costs nothing if nothing is in flight.)
        if (fd_ >= 0 && ring_ops_ != 0) ring_->cancel_all(fd_);
        return;
    }
    if (!socket_) return;  // nothing waits
    std::error_code ignored;
    socket_->cancel(ignored);
}

void connection::close() noexcept {
    if (ring_ && fd_ >= 0 && ring_ops_ != 0) {
        // Operations still in flight end with operation_aborted (the ring
        // holds its own reference to the socket, so closing the descriptor
        // alone would not end them, and a cancellation by descriptor needs
        // it open): the cancellation, then the close, go with the next batch.
        ring_->cancel_all(fd_);
        ring_->close(fd_);
        fd_ = -1;
        return;
    }
    if (socket_) {
        std::error_code ignored;
        socket_->close(ignored);
        socket_.reset();
    } else if (fd_ >= 0) {
        ::close(fd_);
    }
    fd_ = -1;
}

void connection::reset() noexcept {
    if (fd_ < 0) return;
    const linger abortive{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive);
    close();
}

}  // namespace scgi
