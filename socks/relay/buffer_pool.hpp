#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace weir::relay::detail {

/// A heap buffer and its size.
struct byte_buffer {
    std::unique_ptr<std::uint8_t[]> data;
    std::size_t size = 0;

    explicit operator bool() const noexcept { return data != nullptr; }
};

/// The calling thread's spare buffers: a direction takes one while its bytes
/// are in flight and gives it back once they are delivered.
class buffer_pool {
public:
    /// This thread's pool (a relay never changes thread).
    static buffer_pool& local();

    /// A spare of `size` bytes, or a new one (throws std::bad_alloc).
    byte_buffer take(std::size_t size);
    /// Keeps `buffer` for reuse, or frees it when `max_spares` are kept already.
    void give_back(byte_buffer buffer, std::size_t max_spares) noexcept;
    void trim() { spares_.clear(); }

    std::size_t spares() const noexcept { return spares_.size(); }
    std::size_t made() const noexcept { return made_; }

private:
    std::vector<byte_buffer> spares_;
    std::size_t made_ = 0;
};

} // namespace weir::relay::detail
