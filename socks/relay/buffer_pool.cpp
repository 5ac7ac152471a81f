#include "socks/relay/buffer_pool.hpp"

#include <new>
#include <utility>

namespace weir::relay::detail {

buffer_pool& buffer_pool::local() {
    thread_local buffer_pool pool;
    return pool;
}

byte_buffer buffer_pool::take(std::size_t size) {
    while (!spares_.empty()) {
        byte_buffer spare = std::move(spares_.back());
        spares_.pop_back();
        if (spare.size == size) return spare;
    }
    byte_buffer fresh{std::make_unique_for_overwrite<std::uint8_t[]>(size), size};
    ++made_;
    return fresh;
}

void buffer_pool::give_back(byte_buffer buffer, std::size_t max_spares) noexcept {
    if (!buffer || spares_.size() >= max_spares) return;
    try {
        spares_.push_back(std::move(buffer));
    } catch (const std::bad_alloc&) { // the buffer goes, the pool stays as it was
    }
}

} // namespace weir::relay::detail
