#pragma once

#include "io/task.hpp"

#include <exception>
#include <optional>
#include <utility>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <catch2/catch.hpp>

namespace weir::server::test {

// Runs a coroutine to completion on a fresh io_context and returns its result.
template <typename T>
T run(asio::io_context& io, io::task<T> aw) {
    std::optional<T> out;
    asio::co_spawn(io, std::move(aw), [&](std::exception_ptr e, T v) {
        if (e) std::rethrow_exception(e);
        out = std::move(v);
    });
    io.run();
    REQUIRE(out.has_value());
    return std::move(*out);
}

} // namespace weir::server::test
