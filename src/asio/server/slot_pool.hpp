// The server's connection slots: created on demand up to max_connections,
// then reused. Private to the server.
#pragma once

#include "connection_slot.hpp"

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace scgi::detail {

// Owns every slot for the server's life (the sweeper and the stop may post
// to a slot whose connection has just ended) and keeps the free ones.
// Thread-safe: accept loops take slots on the control executor, workers give
// them back on their strands.
class slot_pool {
public:
    slot_pool(asio::io_context& io, const server_options& options, log_queue& logs)
        : io_(io), options_(options), logs_(logs) {}

    // The ring new slots' connections submit through (the io_uring engine),
    // or null (epoll). Set before the first slot is created.
    void submit_through(io_ring* ring) noexcept { ring_ = ring; }

    // A free slot, or a new one while fewer than max_connections exist
    // (`created` is then set: the caller starts its worker). Null at the limit.
    connection_slot* acquire(bool& created);

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
    asio::io_context& io_;
    const server_options& options_;
    log_queue& logs_;
    io_ring* ring_ = nullptr;
    std::mutex mutex_;
    std::vector<std::unique_ptr<connection_slot>> slots_;
    std::vector<connection_slot*> free_;
};

}  // namespace scgi::detail
