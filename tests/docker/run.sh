#!/usr/bin/env bash
# make test-docker: builds weir's container image and proves it works, on a
# machine with no image registry: Debian's docker.io and debootstrap, base
# images made locally, the container on the host's network (loopback ports
# picked free), real curl through it. One line per check, then "N passed, M
# failed"; the exit status is non-zero on any failure.
#
# Environment:
#   WEIR_TEST_IMAGE        the image's tag (default weir:test)
#   WEIR_TEST_DOCKER_ROOT  run a dockerd of our own with its socket, data and
#                          state under this directory (a run from nothing: no
#                          base images, no build cache), stopped at the end
set -euo pipefail
if [ -n "${WEIR_TEST_DOCKER_ROOT:-}" ]; then WEIR_TEST_DOCKER_ROOT=$(realpath -m "$WEIR_TEST_DOCKER_ROOT"); fi
cd "$(dirname "$0")/../.."

IMAGE=${WEIR_TEST_IMAGE:-weir:test}
WAIT=60 # seconds: every wait below is bounded by this
TMP=$(mktemp -d /tmp/weir-docker.XXXXXX)
CONTAINERS=()
HTTP_PID=""
DOCKERD_PID=""
passed=0
failed=0

cleanup() {
    set +e
    for c in "${CONTAINERS[@]}"; do docker rm -f "$c" >/dev/null 2>&1; done
    [ -n "$HTTP_PID" ] && kill "$HTTP_PID" 2>/dev/null && wait "$HTTP_PID" 2>/dev/null
    if [ -n "$DOCKERD_PID" ]; then
        kill "$DOCKERD_PID" 2>/dev/null
        for _ in $(seq "$WAIT"); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 1; done
        # What a stopped dockerd may leave mounted under a root of our own (its netns).
        [ -n "${WEIR_TEST_DOCKER_ROOT:-}" ] &&
            awk -v r="$WEIR_TEST_DOCKER_ROOT/" 'index($2, r) == 1 {print $2}' /proc/mounts |
            sort -r | xargs -r umount
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { echo "ok   $*"; passed=$((passed + 1)); }
bad() { echo "FAIL $*"; failed=$((failed + 1)); }
# check DESCRIPTION COMMAND...: one line, ok or FAIL.
check() {
    local what=$1
    shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}
# A fatal step: without it the rest cannot run.
must() {
    local what=$1
    shift
    if "$@"; then ok "$what"; else bad "$what"; finish; fi
}

install_missing() {
    local missing="" p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return
    echo "installing:$missing"
    if [ "$(id -u)" != 0 ]; then
        echo "error: missing packages:$missing (run as root, or install them)" >&2
        exit 1
    fi
    apt-get update -q && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends $missing
}

# ---------------------------------------------------------------------------
# The daemon and the base images

start_dockerd() {
    local args=(--iptables=false --ip6tables=false --bridge=none)
    if [ -n "${WEIR_TEST_DOCKER_ROOT:-}" ]; then
        local root=$WEIR_TEST_DOCKER_ROOT
        mkdir -p "$root"
        export DOCKER_HOST=unix://$root/docker.sock
        args+=(-H "$DOCKER_HOST" --data-root "$root/data" --exec-root "$root/exec"
            --pidfile "$root/docker.pid")
    elif docker info >/dev/null 2>&1; then
        return 0
    fi
    echo "starting dockerd (log: $TMP/dockerd.log)"
    dockerd "${args[@]}" >"$TMP/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for _ in $(seq "$WAIT"); do
        docker info >/dev/null 2>&1 && return 0
        kill -0 "$DOCKERD_PID" 2>/dev/null || break
        sleep 1
    done
    tail -20 "$TMP/dockerd.log"
    return 1
}

has_image() { docker image inspect "$1" >/dev/null 2>&1; }

# One debootstrap for both: bookworm as it comes, slim without documentation,
# manuals and locales (as Debian's own slim image).
make_base_images() {
    has_image debian:bookworm && has_image debian:bookworm-slim && return 0
    local root=$TMP/rootfs
    echo "debootstrap bookworm (minbase) into $root"
    debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian \
        >"$TMP/debootstrap.log" 2>&1 || { tail -20 "$TMP/debootstrap.log"; return 1; }
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb \
        "$root"/var/cache/apt/*.bin
    has_image debian:bookworm ||
        tar -C "$root" -c . | docker import -c 'CMD ["bash"]' - debian:bookworm >/dev/null
    rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
        "$root"/usr/share/locale/* "$root"/usr/share/lintian
    has_image debian:bookworm-slim ||
        tar -C "$root" -c . | docker import -c 'CMD ["bash"]' - debian:bookworm-slim >/dev/null
    rm -rf "$root"
}

build_image() {
    local start=$SECONDS
    # The classic builder: --network host without BuildKit's entitlements.
    if ! DOCKER_BUILDKIT=0 docker build --network host -t "$IMAGE" . >"$TMP/build.log" 2>&1; then
        tail -40 "$TMP/build.log"
        return 1
    fi
    echo "     built $IMAGE in $((SECONDS - start)) s"
}

# ---------------------------------------------------------------------------
# Helpers for the checks

free_ports() { # N: N free loopback ports, one a line
    python3 -c 'import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in ss))' "$1"
}

# wait_logs CONTAINER REGEX [COUNT]: until COUNT log lines match.
wait_logs() {
    local n
    for _ in $(seq "$WAIT"); do
        n=$(docker logs "$1" 2>&1 | grep -cE "$2" || true)
        [ "$n" -ge "${3:-1}" ] && return 0
        sleep 1
    done
    echo "     $1 did not log ${3:-1} line(s) matching '$2'; its log:"
    docker logs "$1" 2>&1 | tail -20 | sed 's/^/     | /'
    return 1
}

log_count() { docker logs "$1" 2>&1 | grep -cE "$2" || true; }

# run_weir NAME [docker run options]: a detached weir container on the host's network.
run_weir() {
    local name=$1
    shift
    CONTAINERS+=("$name")
    docker run -d --name "$name" --network host \
        --health-interval 1s --health-timeout 5s --health-start-period 2s --health-retries 3 \
        "$@" "$IMAGE" >/dev/null
}

# fetch_same PROXY-OPTIONS...: the page through the proxy is the page.
fetch_same() {
    local got
    got=$(curl -sS --max-time 20 "$@" "http://127.0.0.1:$HTTP_PORT/page" | sha256sum) || return 1
    [ "${got%% *}" = "$PAGE_SHA" ]
}

wait_healthy() {
    local state=""
    for _ in $(seq "$WAIT"); do
        state=$(docker inspect -f '{{.State.Health.Status}}' "$1")
        [ "$state" = healthy ] && return 0
        sleep 1
    done
    echo "     health of $1 is '$state' after $WAIT s:"
    docker inspect -f '{{range .State.Health.Log}}{{.ExitCode}} {{.Output}}{{end}}' "$1" |
        tail -5 | sed 's/^/     | /'
    return 1
}

# stops_cleanly CONTAINER [N]: the Nth start of the container (default 1) ends well.
stops_cleanly() {
    docker stop -t 20 "$1" >/dev/null || return 1
    [ "$(docker inspect -f '{{.State.ExitCode}}' "$1")" = 0 ] &&
        [ "$(log_count "$1" '(^| )stopped$')" -eq "${2:-1}" ] &&
        [ "$(log_count "$1" ': draining')" -eq "${2:-1}" ]
}

# The image holds no package lists or caches, no curl, and every library weir needs.
lean_image() {
    docker run --rm --entrypoint sh "$IMAGE" -c '
        [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null)" ] &&
        [ -z "$(ls /var/cache/apt/archives/*.deb 2>/dev/null)" ] &&
        ! command -v curl >/dev/null &&
        ! ldd /usr/local/bin/weir | grep -q "not found"'
}

not_root() {
    local uid
    uid=$(docker exec "$1" id -u) && [ -n "$uid" ] && [ "$uid" != 0 ]
}

# ---------------------------------------------------------------------------
# The checks

install_missing docker.io debootstrap curl python3
must "dockerd answers" start_dockerd
must "base images debian:bookworm and debian:bookworm-slim" make_base_images
must "docker build --network host -t $IMAGE ." build_image
echo "     image size: $(docker image inspect -f '{{.Size}}' "$IMAGE") bytes"
check "the image has no apt lists or caches, no curl, all of weir's libraries" lean_image

# A page to fetch, served on loopback.
mapfile -t PORTS < <(free_ports 4)
HTTP_PORT=${PORTS[0]}
mkdir -p "$TMP/www"
head -c 1048576 /dev/urandom >"$TMP/www/page"
PAGE_SHA=$(sha256sum <"$TMP/www/page")
PAGE_SHA=${PAGE_SHA%% *}
python3 -m http.server --bind 127.0.0.1 --directory "$TMP/www" "$HTTP_PORT" \
    >"$TMP/http.log" 2>&1 &
HTTP_PID=$!
http_up() {
    curl -s --retry 20 --retry-connrefused --retry-delay 1 --max-time 30 -o /dev/null \
        "http://127.0.0.1:$HTTP_PORT/page"
}
must "a local HTTP server on 127.0.0.1:$HTTP_PORT" http_up

# Users from a file mounted read-only, as a Docker or Kubernetes secret.
# Readable by the image's user only (uid 10001), as Kubernetes' fsGroup and
# defaultMode would make it.
make_users_file() {
    mkdir -p "$TMP/secrets"
    printf 'secret\n' | docker run --rm -i "$IMAGE" passwd alice >"$TMP/secrets/weir-users" &&
        grep -q '^alice:\$argon2id\$' "$TMP/secrets/weir-users" &&
        chown 10001:10001 "$TMP/secrets/weir-users" && chmod 0400 "$TMP/secrets/weir-users"
}
must "a users file from weir passwd in the image" make_users_file
S5=${PORTS[1]}
S4=${PORTS[2]}
run_weir weir-test-users \
    -e WEIR_LISTEN="socks5://127.0.0.1:$S5,socks://127.0.0.1:$S4" \
    -e WEIR_USERS=/run/secrets/weir-users \
    -v "$TMP/secrets/weir-users:/run/secrets/weir-users:ro"
must "container with a users secret listens" wait_logs weir-test-users 'listening on ' 2
check "curl socks5h://alice:secret@ fetches the page (sha256)" \
    fetch_same -x "socks5h://alice:secret@127.0.0.1:$S5"
check "a wrong password fetches nothing" \
    bash -c "! curl -s --max-time 20 -o /dev/null -x socks5h://alice:wrong@127.0.0.1:$S5 \
        http://127.0.0.1:$HTTP_PORT/page"
check "curl --socks4a fetches the page (sha256)" fetch_same --socks4a "127.0.0.1:$S4"
check "weir runs as a non-root user (docker exec id -u)" not_root weir-test-users
check "health turns healthy (weir probe)" wait_healthy weir-test-users
check "docker stop: drains, logs 'stopped', exit code 0" stops_cleanly weir-test-users

# The embedded defaults, as the image runs them (no WEIR_LISTEN), in a network
# namespace of their own: weir probe reaches the wildcard listeners on loopback.
defaults_healthy() {
    CONTAINERS+=(weir-test-defaults)
    docker run -d --name weir-test-defaults --network none --health-interval 1s \
        --health-start-period 2s "$IMAGE" >/dev/null &&
        wait_logs weir-test-defaults 'listening on .*:1080' &&
        wait_logs weir-test-defaults 'listening on .*:1088' && wait_healthy weir-test-defaults &&
        docker exec weir-test-defaults weir probe
}
check "the embedded defaults turn healthy (--network none)" defaults_healthy

# No users: the generated credential, printed once, kept in $STATE_DIRECTORY.
G5=${PORTS[3]}
CRED='password=[^ ]+'
run_weir weir-test-generated -e WEIR_LISTEN="socks5://127.0.0.1:$G5"
must "container with no users listens" wait_logs weir-test-generated 'listening on '
line=$(docker logs weir-test-generated 2>&1 | grep -E "$CRED" | head -1 || true)
user=$(sed -nE 's/.*user=([^ ]+).*/\1/p' <<<"$line")
pass=$(sed -nE 's/.*password=([^ ]+).*/\1/p' <<<"$line")
check "the generated credential is printed once" \
    test "$(log_count weir-test-generated "$CRED")" -eq 1 -a -n "$user" -a -n "$pass"
check "the generated credential fetches the page" \
    fetch_same -x "socks5h://$user:$pass@127.0.0.1:$G5"
docker restart -t 20 weir-test-generated >/dev/null || true
must "after docker restart it listens again" wait_logs weir-test-generated 'listening on ' 2
check "after the restart the credential is not printed again" \
    test "$(log_count weir-test-generated "$CRED")" -eq 1
check "after the restart the same credential fetches the page" \
    fetch_same -x "socks5h://$user:$pass@127.0.0.1:$G5"
check "docker stop after the restart: exit code 0" stops_cleanly weir-test-generated 2

finish
