#include "slot_pool.hpp"

#include <algorithm>

namespace scgi::detail {

asio::any_io_executor serial_executor(asio::io_context& io, unsigned threads) {
    if (threads == 1) return io.get_executor();
    return asio::make_strand(io);
}

connection_slot* slot_pool::take_free(std::size_t home) noexcept {
    // The most recently freed first: its memory is the likeliest in cache.
    for (auto it = free_.rbegin(); it != free_.rend(); ++it) {
        if ((*it)->home != home) continue;
        connection_slot* slot = *it;
        free_.erase(std::next(it).base());
        return slot;
    }
    return nullptr;
}

connection_slot* slot_pool::acquire(bool& created, std::size_t home) {
    created = false;
    std::lock_guard lock(mutex_);
    if (homes_.size() == 1) {
        if (!free_.empty()) {
            connection_slot* slot = free_.back();
            free_.pop_back();
            return slot;
        }
    } else if (connection_slot* slot = take_free(home)) {
        return slot;
    }
    if (slots_.size() >= options_.max_connections) {
        // At the limit, a free slot of another thread's serves too.
        if (free_.empty()) return nullptr;
        connection_slot* slot = free_.back();
        free_.pop_back();
        return slot;
    }
    free_.reserve(slots_.size() + 1);
    created = true;
    const slot_home& where = homes_[home % homes_.size()];
    // One thread per io_context with several homes: no strand needed.
    const auto executor = serial_executor(*where.io, homes_.size() > 1 ? 1 : options_.threads);
    connection_slot* slot =
        slots_.emplace_back(std::make_unique<connection_slot>(executor, home % homes_.size(), options_, logs_)).get();
    slot->conn.submit_through(where.ring);
    return slot;
}

void slot_pool::give_back(connection_slot& slot) noexcept {
    std::lock_guard lock(mutex_);
    free_.push_back(&slot);
}

}  // namespace scgi::detail
