# Two stages: build on bookworm, run on bookworm-slim as a non-root user.
#   docker build -t weir .
#   docker run -p 1088:1088 -v $PWD/users.txt:/etc/weir/users.txt:ro weir
FROM debian:bookworm AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential cmake ninja-build pkg-config \
        libasio-dev libsodium-dev libcli11-dev libfmt-dev catch2 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DWEIR_BUILD_TESTS=OFF \
    && cmake --build build --target weir

FROM debian:bookworm-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libsodium23 libfmt9 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --no-create-home --shell /usr/sbin/nologin weir
COPY --from=build /src/build/weir /usr/local/bin/weir
USER weir
EXPOSE 1088
# In a container the no-auth listener would only serve the container itself:
# listen for password clients on all addresses.
ENV WEIR_LISTEN=socks5://0.0.0.0:1088,socks5://[::]:1088 \
    WEIR_USERS=/etc/weir/users.txt
ENTRYPOINT ["/usr/local/bin/weir"]
