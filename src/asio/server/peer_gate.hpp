// The accept loop's check of each accepted peer against
// server_options::peers, and the limiter that logs a refused peer once per
// interval. Private to the server.
#pragma once

#include <scgi/asio/peer_filter.hpp>
#include <scgi/asio/server_options.hpp>

#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace scgi::detail {

class log_queue;

// Decides which refusals get a log line: the first from each peer in each
// interval. Remembers at most `capacity` peers (allocated once); a peer
// whose line is older than the interval gives its place up to a new peer,
// and the refusals it had counted since its line (never logged, as no line
// of its own followed) go on the new peer's line, so no count is lost. When
// every place is taken by a peer whose line is within the interval, the
// others share one line per interval. Not thread-safe: one per accept loop.
class refusal_log {
public:
    using clock = std::chrono::steady_clock;

    // Who was refused: a TCP address (IPv4-mapped IPv6 form), or a Unix
    // peer's uid and gid.
    struct peer_key {
        std::array<unsigned char, 16> bytes{};
        bool operator==(const peer_key&) const = default;
    };

    // What to do about one refusal. `unlogged` and `forgotten` are only
    // set when `log` is: a line reports them, or nothing does.
    struct verdict {
        bool log = false;            // write a line for this refusal
        bool untracked = false;      // the line stands for every peer the table had no room for
        std::uint64_t unlogged = 0;  // refusals (of this peer, or the untracked) not logged since the last line
        std::uint64_t forgotten = 0;  // refusals of the peer whose place this one took, unlogged since its line
    };

    refusal_log(clock::duration interval, std::size_t capacity);

    // Counts one refusal of `peer` at `now` (times never go back). A new
    // peer takes a free place, else the place of a peer whose line is older
    // than the interval, one with nothing unlogged first; the unlogged count
    // of the peer it displaces comes back as `forgotten`.
    verdict note(const peer_key& peer, clock::time_point now) noexcept;

private:
    struct entry {
        peer_key peer;
        clock::time_point last_line;
        std::uint64_t unlogged = 0;
    };

    clock::duration interval_;
    std::vector<entry> entries_;  // capacity reserved at construction, never exceeded
    std::size_t capacity_;
    entry untracked_{};           // the shared line of peers without a place
    bool untracked_logged_ = false;
};

// One listener's check of the peers it accepts. Inactive (and costless)
// when the filter has nothing to check for this listener's transport.
class peer_gate {
public:
    // `family`: the listener's address family. `where`: its endpoint's text,
    // for log lines.
    peer_gate(const server_options& options, log_queue& logs, int family, std::string where);

    // True if the filter checks this listener's peers.
    bool active() const noexcept { return checks_addresses_ || checks_credentials_; }

    // True if the peer accepted as `fd` (with `address`, `length` valid
    // bytes, as accept4 gave them) is to be served. If not, logs the
    // refusal (rate-limited); the caller closes `fd`.
    bool admit(int fd, const sockaddr_storage& address, socklen_t length);

private:
    void refused(const refusal_log::peer_key& key, const std::string& who, const char* rule) noexcept;
    void line_for(const refusal_log::verdict& v, const std::string& who, const char* rule) const;

    const server_options& options_;
    log_queue& logs_;
    bool checks_addresses_;
    bool checks_credentials_;
    std::string where_;
    refusal_log log_;
};

}  // namespace scgi::detail
