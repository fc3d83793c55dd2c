#include "deadline_sweeper.hpp"

#include <algorithm>

namespace scgi::detail {

asio::awaitable<void> deadline_sweeper::run() {
    const auto shortest = std::min({options_.head_timeout, options_.body_timeout, options_.write_timeout});
    const auto interval = std::clamp(shortest / 4, std::chrono::milliseconds(5), std::chrono::milliseconds(1000));
    while (!stopped_) {
        timer_.expires_after(interval);
        auto [ec] = co_await timer_.async_wait(use_tuple);
        if (ec || stopped_) break;
        const auto now = clock::now().time_since_epoch().count();
        slots_.for_each([now](connection_slot& slot) {
            const auto due = slot.deadline.due();
            if (due == 0 || due > now) return;
            slot.post_if_current(slot.deadline.generation(), [&slot, due] {
                // The operation may have finished since, and the next one
                // run under another deadline.
                if (slot.deadline.due() != due) return;
                // The deadline stays armed: if the operation had already
                // finished and its continuation starts another one, the
                // next sweep cancels that too. The coroutine disarms.
                slot.timed_out = true;
                slot.conn.cancel();
            });
        });
    }
}

}  // namespace scgi::detail
