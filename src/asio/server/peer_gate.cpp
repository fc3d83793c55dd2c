#include "peer_gate.hpp"

#include "log_queue.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace scgi::detail {

refusal_log::refusal_log(clock::duration interval, std::size_t capacity) : interval_(interval), capacity_(capacity) {
    entries_.reserve(capacity_);
}

refusal_log::verdict refusal_log::note(const peer_key& peer, clock::time_point now) noexcept {
    const auto due = [&](const entry& e) { return now - e.last_line >= interval_; };
    const auto line_for = [&](entry& e, bool untracked) {
        verdict v{true, untracked, e.unlogged};
        e.last_line = now;
        e.unlogged = 0;
        return v;
    };
    auto found = std::find_if(entries_.begin(), entries_.end(), [&](const entry& e) { return e.peer == peer; });
    if (found != entries_.end()) {
        if (due(*found)) return line_for(*found, false);
        ++found->unlogged;
        return {};
    }
    // A new peer: a free place, or that of a peer whose interval is over.
    // Such a peer may have refusals counted since its line that no line of
    // its own reported: they go on this line, not away with the place. A
    // place with none is taken first, so that a line speaks of other peers
    // only when it must.
    entry* place = nullptr;
    if (entries_.size() < capacity_) {
        place = &entries_.emplace_back();
    } else {
        for (entry& e : entries_) {
            if (!due(e)) continue;
            if (place == nullptr || e.unlogged == 0) place = &e;
            if (e.unlogged == 0) break;
        }
    }
    if (place != nullptr) {
        const std::uint64_t forgotten = place->unlogged;
        place->peer = peer;
        place->unlogged = 0;
        verdict v = line_for(*place, false);
        v.forgotten = forgotten;
        return v;
    }
    if (!untracked_logged_ || due(untracked_)) {
        untracked_logged_ = true;
        return line_for(untracked_, true);
    }
    ++untracked_.unlogged;
    return {};
}

namespace {

std::string address_text(const sockaddr_storage& address) {
    char text[INET6_ADDRSTRLEN] = {};
    if (address.ss_family == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
        ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
    } else if (address.ss_family == AF_INET6) {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
        ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
    } else {
        return "an address of family " + std::to_string(address.ss_family);
    }
    return text;
}

refusal_log::peer_key key_of(const sockaddr_storage& address) {
    refusal_log::peer_key key;
    if (address.ss_family == AF_INET) {
        key.bytes[10] = 0xff;
        key.bytes[11] = 0xff;
        std::memcpy(key.bytes.data() + 12, &reinterpret_cast<const sockaddr_in*>(&address)->sin_addr, 4);
    } else if (address.ss_family == AF_INET6) {
        std::memcpy(key.bytes.data(), &reinterpret_cast<const sockaddr_in6*>(&address)->sin6_addr, 16);
    }
    return key;
}

// Unix peers are told apart from any IPv6 address by a first byte of 0x01
// with the rest not an address anyone connects from (01xx::/8 is reserved).
refusal_log::peer_key key_of(uid_t uid, gid_t gid) {
    refusal_log::peer_key key;
    key.bytes[0] = 0x01;
    std::memcpy(key.bytes.data() + 4, &uid, sizeof uid);
    std::memcpy(key.bytes.data() + 8, &gid, sizeof gid);
    return key;
}

}  // namespace

peer_gate::peer_gate(const server_options& options, log_queue& logs, int family, std::string where)
    : options_(options),
      logs_(logs),
      checks_addresses_((family == AF_INET || family == AF_INET6) && options.peers.checks_addresses()),
      checks_credentials_(family == AF_UNIX && options.peers.checks_credentials()),
      where_(std::move(where)),
      log_(options.peers.refusal_log_interval, active() ? options.peers.refusal_log_peers : 0) {}

bool peer_gate::admit(int fd, const sockaddr_storage& address, socklen_t length) {
    if (checks_addresses_) {
        if (options_.peers.admits_address(reinterpret_cast<const sockaddr*>(&address), length)) return true;
        refused(key_of(address), address_text(address), "not in peer_filter::allowed_addresses");
        return false;
    }
    if (checks_credentials_) {
        ucred credentials{};
        socklen_t size = sizeof credentials;
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &size) != 0) {
            // Cannot tell who it is: not served (the filter fails closed).
            refused(key_of(static_cast<uid_t>(-1), static_cast<gid_t>(-1)), "an unknown peer",
                    "SO_PEERCRED failed");
            return false;
        }
        if (options_.peers.admits_credentials(credentials.uid, credentials.gid)) return true;
        refused(key_of(credentials.uid, credentials.gid),
                "uid " + std::to_string(credentials.uid) + " gid " + std::to_string(credentials.gid) + " (pid " +
                    std::to_string(credentials.pid) + ")",
                "neither in peer_filter::allowed_uids nor in allowed_gids");
        return false;
    }
    return true;
}

void peer_gate::refused(const refusal_log::peer_key& key, const std::string& who, const char* rule) noexcept {
    const refusal_log::verdict v = log_.note(key, refusal_log::clock::now());
    if (!v.log) return;
    try {
        line_for(v, who, rule);
    } catch (...) {
        logs_.post(log_event::peer_refused, log_level::warning,
                   [](log_line_builder& line) { line << "refused a connection on a filtered listener"; });
    }
}

void peer_gate::line_for(const refusal_log::verdict& v, const std::string& who, const char* rule) const {
    std::string line = "refused a connection from " + who + " on " + where_ + " (" + rule +
                       "): closed without an answer";
    if (v.untracked) {
        line += "; more than " + std::to_string(options_.peers.refusal_log_peers) +
                " peers refused in the interval, the others are summed in this line";
    }
    if (v.unlogged > 0) {
        line += "; " + std::to_string(v.unlogged) +
                (v.untracked ? " more from them refused unlogged since the last such line"
                             : " more from it refused unlogged since its last line");
    }
    if (v.forgotten > 0) {
        line += "; " + std::to_string(v.forgotten) +
                " refusal(s) of a peer no longer tracked (this one took its place) went unlogged";
    }
    logs_.post(log_event::peer_refused, log_level::warning, [&line](log_line_builder& out) { out << line; });
}

}  // namespace scgi::detail
