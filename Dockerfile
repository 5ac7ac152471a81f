# weir in a container: built on bookworm, run on bookworm-slim as the non-root
# user weir (uid 10001), with weir's embedded defaults: SOCKS with no password
# on loopback port 1080 (for the other containers of a pod, or of
# `network_mode: service:weir`) and SOCKS5 with a password on port 1088.
#   docker build -t weir .
#   docker run -d --name weir -p 1088:1088 -v weir-state:/var/lib/weir weir
#   docker logs weir    # the generated credential, printed once
# Users from a file instead (lines from `weir passwd NAME`):
#   docker run -d -p 1088:1088 -e WEIR_USERS=/run/secrets/weir-users \
#       -v $PWD/users.txt:/run/secrets/weir-users:ro weir
# Every option is a WEIR_* variable (see `docker run --rm weir --help`).
FROM debian:bookworm AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        g++ cmake ninja-build pkg-config libasio-dev libsodium-dev libcli11-dev libfmt-dev \
    && apt-get clean && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DWEIR_BUILD_TESTS=OFF \
    && cmake --build /build --target weir -j "$(nproc)" \
    && strip /build/weir

FROM debian:bookworm-slim
# Only the shared libraries weir needs beyond libc and libstdc++ (ldd weir).
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        libsodium23 libfmt9 \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
    && groupadd --system --gid 10001 weir \
    && useradd --system --uid 10001 --gid weir --home-dir /var/lib/weir --no-create-home \
        --shell /usr/sbin/nologin weir \
    && install -d -o weir -g weir -m 0700 /var/lib/weir
COPY --from=build /build/weir /usr/local/bin/weir
# The generated credential (no users file) is kept in $STATE_DIRECTORY/users.txt:
# mount a volume there to keep it across containers.
# docker stop sends SIGKILL 10 s after SIGTERM: drain for 8 s (not 30) so that
# a default stop still ends with every session logged and exit code 0.
ENV STATE_DIRECTORY=/var/lib/weir \
    WEIR_DRAIN_TIMEOUT=8s
# Numeric, so that Kubernetes' runAsNonRoot can tell it is not root.
USER 10001:10001
WORKDIR /var/lib/weir
EXPOSE 1080 1088
# weir probe reads the same WEIR_* variables: it connects to each listener, or
# asks /healthz when WEIR_METRICS is set. No curl in the image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 CMD ["weir", "probe"]
ENTRYPOINT ["weir"]
