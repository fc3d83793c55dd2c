#include <scgi/asio/endpoint.hpp>

#include <scgi/detail/ascii.hpp>
#include <scgi/error.hpp>

#include <asio/error.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>

#include <string>
#include <utility>

namespace scgi {
namespace {

constexpr std::string_view unix_prefix = "unix:";

// Bytes no host name or address literal can hold. Refusing them here turns a
// typo (a stray space from a config file) into a clear error instead of a
// resolver failure, and keeps to_string() parseable: '/' would make the text
// a path, brackets would nest.
bool valid_host_byte(char c) noexcept {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u != 0x7f && c != '/' && c != '[' && c != ']';
}

std::error_code check_host(std::string_view host) noexcept {
    if (host.empty()) return error::endpoint_invalid_host;
    for (char c : host) {
        if (!valid_host_byte(c)) return error::endpoint_invalid_host;
    }
    return {};
}

std::error_code check_path(std::string_view path) noexcept {
    // A NUL would silently cut the path the kernel binds (or, first, select
    // the abstract namespace), so a different file than named would be used.
    if (path.empty() || path.find('\0') != std::string_view::npos) return error::endpoint_invalid_path;
    if (path.size() > endpoint::max_unix_path_length) return error::endpoint_path_too_long;
    return {};
}

// 1 to 5 ASCII digits, at most 65535. No sign, no spaces.
bool parse_port(std::string_view text, std::uint16_t& port) noexcept {
    return text.size() <= 5 && detail::parse_decimal(text, port) == 0;
}

}  // namespace

endpoint endpoint::tcp(std::string host, std::uint16_t port) {
    endpoint ep;
    ep.kind_ = kind::tcp;
    ep.host_ = std::move(host);
    ep.port_ = port;
    return ep;
}

endpoint endpoint::unix_socket(std::string path) {
    endpoint ep;
    ep.kind_ = kind::unix_socket;
    ep.path_ = std::move(path);
    return ep;
}

endpoint endpoint::parse(std::string_view text, std::error_code& ec) {
    ec.clear();
    if (text.empty()) {
        ec = error::endpoint_empty;
        return {};
    }

    const bool has_prefix = text.substr(0, unix_prefix.size()) == unix_prefix;
    if (has_prefix || text.find('/') != std::string_view::npos) {
        const std::string_view path = has_prefix ? text.substr(unix_prefix.size()) : text;
        ec = check_path(path);
        if (ec) return {};
        return unix_socket(std::string(path));
    }

    std::string_view host;
    std::string_view port_text;
    if (text.front() == '[') {
        const std::size_t close = text.find(']');
        if (close == std::string_view::npos || close == 1) {
            ec = error::endpoint_invalid_host;
            return {};
        }
        host = text.substr(1, close - 1);
        const std::string_view rest = text.substr(close + 1);
        if (rest.empty()) {
            ec = error::endpoint_missing_port;
            return {};
        }
        if (rest.front() != ':') {
            ec = error::endpoint_invalid_host;
            return {};
        }
        port_text = rest.substr(1);
    } else {
        const std::size_t colon = text.rfind(':');
        if (colon == std::string_view::npos) {
            ec = error::endpoint_missing_port;
            return {};
        }
        host = text.substr(0, colon);
        // An unbracketed IPv6 literal cannot be told from its port
        // (`::1:80`): refuse rather than guess.
        if (host.find(':') != std::string_view::npos) {
            ec = error::endpoint_invalid_host;
            return {};
        }
        port_text = text.substr(colon + 1);
    }

    ec = check_host(host);
    if (ec) return {};
    std::uint16_t port = 0;
    if (!parse_port(port_text, port)) {
        ec = error::endpoint_invalid_port;
        return {};
    }
    return tcp(std::string(host), port);
}

endpoint endpoint::parse(std::string_view text) {
    std::error_code ec;
    endpoint ep = parse(text, ec);
    if (ec) throw std::system_error(ec, "scgi::endpoint::parse(\"" + std::string(text) + "\")");
    return ep;
}

std::error_code endpoint::validate() const noexcept {
    if (kind_ == kind::unix_socket) return check_path(path_);
    return check_host(host_);
}

std::string endpoint::to_string() const {
    if (kind_ == kind::unix_socket) return std::string(unix_prefix) + path_;
    std::string out;
    // "unix" needs brackets too: "unix:80" is the Unix socket "80".
    const bool bracket = host_.find(':') != std::string::npos || host_ == "unix";
    out.reserve(host_.size() + 8);
    if (bracket) out += '[';
    out += host_;
    if (bracket) out += ']';
    out += ':';
    out += std::to_string(port_);
    return out;
}

std::vector<asio::generic::stream_protocol::endpoint> resolve(const endpoint& ep, std::error_code& ec) {
    std::vector<asio::generic::stream_protocol::endpoint> out;
    ec = ep.validate();
    if (ec) return out;

    if (ep.type() == endpoint::kind::unix_socket) {
        out.emplace_back(asio::local::stream_protocol::endpoint(ep.path()));
        return out;
    }

    // The resolver wants an execution context even for a synchronous call;
    // a private one keeps this function free of the caller's.
    asio::io_context context;
    asio::ip::tcp::resolver resolver(context);
    // numeric_service: the port is a number, never a service name lookup.
    // No address_configured: with it glibc drops ::1 on hosts without a
    // global IPv6 address, so `[::1]:port` would not resolve.
    const auto results = resolver.resolve(ep.host(), std::to_string(ep.port()),
                                          asio::ip::resolver_base::numeric_service, ec);
    if (ec) {
        // EAI_SYSTEM carries an errno in Asio's "asio.system" category, which
        // Asio 1.22 does not map to std::errc: report it as a standard one.
        if (ec.category() == asio::error::get_system_category()) ec = {ec.value(), std::system_category()};
        return out;
    }
    out.reserve(results.size());
    for (const auto& entry : results) out.emplace_back(entry.endpoint());
    if (out.empty()) ec = asio::error::host_not_found;
    return out;
}

}  // namespace scgi
