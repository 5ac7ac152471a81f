#error "socks/proto is sans-I/O: it must not include Asio (see docs/architecture.md)"
