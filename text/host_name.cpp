#include "text/host_name.hpp"

#include <cstddef>

namespace weir::text {
namespace {

constexpr std::size_t max_name = 253; // a DNS name in text form, without the trailing dot
constexpr std::size_t max_label = 63;

bool is_label_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

} // namespace

bool is_host_name(std::string_view name) noexcept {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    if (name.empty() || name.size() > max_name) return false;
    std::size_t label = 0;
    for (const char c : name) {
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
            continue;
        }
        if (!is_label_char(c) || ++label > max_label) return false;
    }
    return label > 0;
}

} // namespace weir::text
