// The server's connection slots: created on demand up to max_connections,
// then reused. Private to the server.
#pragma once

#include "connection_slot.hpp"

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace scgi::detail {

// Where a slot's connections run: an io_context, and the ring they submit
// through (the io_uring engine) or null (epoll).
struct slot_home {
    asio::io_context* io = nullptr;
    io_ring* ring = nullptr;
};

// Owns every slot for the server's life (the sweeper and the stop may post
// to a slot whose connection has just ended) and keeps the free ones.
// Thread-safe: accept loops take slots (on the control executor, or on each
// thread's own with the io_uring engine), workers give them back on their
// strands.
class slot_pool {
public:
    slot_pool(asio::io_context& io, const server_options& options, log_queue& logs)
        : homes_{slot_home{&io, nullptr}}, free_(1), slots_in_home_(1), options_(options), logs_(logs) {}

    // The ring new slots' connections submit through (the io_uring engine),
    // or null (epoll). Set before the first slot is created.
    void submit_through(io_ring* ring) noexcept { homes_.front().ring = ring; }

    // The io_uring engine with several threads: each thread runs an
    // io_context and a ring of its own (home 0 is the constructor's), and a
    // slot belongs to one of them for the server's life. Before the first
    // slot is created.
    void add_home(asio::io_context& io, io_ring* ring) {
        homes_.push_back(slot_home{&io, ring});
        free_.emplace_back();
        slots_in_home_.push_back(0);
    }

    // A free slot, or a new one while fewer than max_connections exist
    // (`created` is then set: the caller starts its worker). Null at the limit.
    // With several homes, a slot of `home` if one is free or can be created
    // (its connection then stays on the accepting thread), else any free one.
    connection_slot* acquire(bool& created, std::size_t home = 0);

    // Puts a slot back in the free list. Never allocates (room was reserved
    // when the slot was created), so a finishing connection cannot fail here.
    void give_back(connection_slot& slot) noexcept;

    // Calls `f(slot)` for every slot, under the pool's lock: `f` may only
    // read a slot's deadline and post to its strand.
    template <class F>
    void for_each(F f) {
        std::lock_guard lock(mutex_);
        for (const auto& owned : slots_) f(*owned);
    }

private:
    std::vector<slot_home> homes_;
    std::vector<std::vector<connection_slot*>> free_;  // per home
    std::vector<std::size_t> slots_in_home_;
    const server_options& options_;
    log_queue& logs_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<connection_slot>> slots_;
};

}  // namespace scgi::detail
