#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weir::cli {

/// Edits (insert, delete, replace, swap two neighbours) that turn a into b.
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate closest to `word`, if close enough to be a typo of it (at
/// most 2 edits, and fewer than half its length); the first of equals.
std::optional<std::string> nearest(std::string_view word,
                                   const std::vector<std::string>& candidates);

} // namespace weir::cli
