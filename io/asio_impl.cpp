// The one translation unit that compiles Asio's implementation.
#include <asio/impl/src.hpp>
