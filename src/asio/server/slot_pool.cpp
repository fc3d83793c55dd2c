#include "slot_pool.hpp"

namespace scgi::detail {

asio::any_io_executor serial_executor(asio::io_context& io, unsigned threads) {
    if (threads == 1) return io.get_executor();
    return asio::make_strand(io);
}

connection_slot* slot_pool::acquire(bool& created, std::size_t home) {
    created = false;
    home %= homes_.size();
    std::lock_guard lock(mutex_);
    // The most recently freed first: its memory is the likeliest in cache.
    if (!free_[home].empty()) {
        connection_slot* slot = free_[home].back();
        free_[home].pop_back();
        return slot;
    }
    if (slots_.size() >= options_.max_connections) {
        // At the limit, a free slot of another thread's serves too.
        for (auto& others : free_) {
            if (others.empty()) continue;
            connection_slot* slot = others.back();
            others.pop_back();
            return slot;
        }
        return nullptr;
    }
    // Room for every slot of the home in its free list, so that give_back
    // never allocates.
    free_[home].reserve(++slots_in_home_[home]);
    created = true;
    const slot_home& where = homes_[home];
    // One thread per io_context with several homes: no strand needed.
    const auto executor = serial_executor(*where.io, homes_.size() > 1 ? 1 : options_.threads);
    connection_slot* slot =
        slots_.emplace_back(std::make_unique<connection_slot>(executor, home, options_, logs_)).get();
    slot->conn.submit_through(where.ring);
    return slot;
}

void slot_pool::give_back(connection_slot& slot) noexcept {
    std::lock_guard lock(mutex_);
    free_[slot.home].push_back(&slot);
}

}  // namespace scgi::detail
