#include "slot_pool.hpp"

namespace scgi::detail {

asio::any_io_executor serial_executor(asio::io_context& io, unsigned threads) {
    if (threads == 1) return io.get_executor();
    return asio::make_strand(io);
}

connection_slot* slot_pool::acquire(bool& created) {
    created = false;
    std::lock_guard lock(mutex_);
    if (!free_.empty()) {
        connection_slot* slot = free_.back();
        free_.pop_back();
        return slot;
    }
    if (slots_.size() >= options_.max_connections) return nullptr;
    free_.reserve(slots_.size() + 1);
    created = true;
    connection_slot* slot = slots_.emplace_back(std::make_unique<connection_slot>(io_, options_, logs_)).get();
    slot->conn.submit_through(ring_);
    return slot;
}

void slot_pool::give_back(connection_slot& slot) noexcept {
    std::lock_guard lock(mutex_);
    free_.push_back(&slot);
}

}  // namespace scgi::detail
