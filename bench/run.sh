#!/usr/bin/env bash
# Measures weir (splice and copy relays) and, when installed, microsocks and
# Dante against the direct path in the same run, with weir_loadgen, and prints
# one Markdown table on stdout (progress goes to stderr).
#
#   bench/run.sh [BUILD_DIR]      BUILD_DIR defaults to build-bench (Release)
#
# Environment: DURATION (measured seconds per run, 2), WARMUP (0.5), REPEAT
# (runs per figure, the median kept: 3),
# IDLE_SESSIONS (9500), PROXIES (default: weir-splice weir-copy microsocks dante hev),
# HEV_SOCKS5_SERVER (path to a hev-socks5-server binary built outside this
# repository; the hev column is measured only when it is set).
# Everything runs in a private network namespace (unshare -n) when it can, so
# conntrack and TIME_WAIT stay out of the host's way; only 127.0.0.0/8 is used.
set -euo pipefail

self=$(realpath "${BASH_SOURCE[0]}")
root=$(dirname "$(dirname "$self")")
build=$(realpath -m "${1:-$root/build-bench}")

if [[ -z ${WEIR_BENCH_NETNS:-} ]]; then
    if [[ ! -f $build/CMakeCache.txt ]]; then
        cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >&2
    fi
    cmake --build "$build" --target weir weir_loadgen -j2 >&2
    if [[ $(id -u) == 0 ]] && unshare -n true 2>/dev/null; then
        exec unshare -n env WEIR_BENCH_NETNS=1 bash "$self" "$build"
    fi
    echo "run.sh: no private network namespace (needs root): using the host's loopback" >&2
    WEIR_BENCH_NETNS=host
fi
if [[ $WEIR_BENCH_NETNS == 1 ]]; then
    ip link set lo up
    sysctl -qw net.ipv4.ip_local_port_range="20000 65000" || true
fi

duration=${DURATION:-2}
repeat=${REPEAT:-3}
warmup=${WARMUP:-0.5}
idle_sessions=${IDLE_SESSIONS:-9500}
proxies=${PROXIES:-weir-splice weir-copy microsocks dante hev}
weir=$build/weir
loadgen=$build/weir_loadgen
results=$build/bench-results.txt
errors=$build/bench-loadgen.err
work=$(mktemp -d /tmp/weir-bench.XXXXXX)
: >"$results"
: >"$errors"

pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# Starts a background process, remembered for cleanup; its pid in $last_pid.
spawn() {
    "$@" &
    last_pid=$!
    pids+=("$last_pid")
}

# Stops the given pids (0 and repeats skipped) and forgets them.
stop() {
    local p q keep=()
    for p in "$@"; do ((p > 0)) && kill "$p" 2>/dev/null || true; done
    for p in "$@"; do ((p > 0)) && wait "$p" 2>/dev/null || true; done
    for q in "${pids[@]}"; do
        [[ " $* " == *" $q "* ]] || keep+=("$q")
    done
    pids=("${keep[@]}")
}

# Waits (5 s at most) until something listens on 127.0.0.1:$1.
wait_port() {
    local i
    for ((i = 0; i < 50; i++)); do
        [[ -n $(ss -Hltn "src 127.0.0.1:$1") ]] && return 0
        sleep 0.1
    done
    echo "run.sh: nothing listens on port $1" >&2
    return 1
}

user=bench
pass=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
port=11080

# bench/hev.yml for port $1 with auth block $2 (one worker per core, as weir).
hev_config() {
    local line
    while IFS= read -r line; do
        case $line in
        @AUTH@) [[ -z $2 ]] || printf '%s\n' "$2" ;;
        *) line=${line//@PORT@/$1}; printf '%s\n' "${line//@WORKERS@/$(nproc)}" ;;
        esac
    done <"$root/bench/hev.yml"
}

# Starts proxy $1; sets proxy_pid, auth_pid (0: none), noauth_url, auth_url ("": unsupported).
start_proxy() {
    port=$((port + 10))
    auth_pid=0
    auth_url=""
    noauth_url=socks5://127.0.0.1:$port
    case $1 in
    weir-*)
        [[ -f $work/users ]] || printf '%s\n' "$pass" | "$weir" passwd "$user" >"$work/users"
        spawn "$weir" --relay "${1#weir-}" --listen "socks://127.0.0.1:$port" \
            --listen "socks5://127.0.0.1:$((port + 1))" --users "$work/users" --log-level warn \
            --max-sessions-per-client 0 \
            2>>"$work/$1.log"
        proxy_pid=$last_pid auth_pid=$last_pid
        auth_url=socks5://$user:$pass@127.0.0.1:$((port + 1))
        ;;
    microsocks)
        spawn microsocks -i 127.0.0.1 -p "$port" 2>>"$work/$1.log"
        proxy_pid=$last_pid
        spawn microsocks -i 127.0.0.1 -p "$((port + 1))" -u "$user" -P "$pass" 2>>"$work/$1.log"
        auth_pid=$last_pid
        auth_url=socks5://$user:$pass@127.0.0.1:$((port + 1))
        ;;
    hev)
        hev_config "$port" "" >"$work/hev.yml"
        hev_config "$((port + 1))" "auth:
  username: '$user'
  password: '$pass'" >"$work/hev-auth.yml"
        spawn "$HEV_SOCKS5_SERVER" "$work/hev.yml"
        proxy_pid=$last_pid
        spawn "$HEV_SOCKS5_SERVER" "$work/hev-auth.yml"
        auth_pid=$last_pid
        auth_url=socks5://$user:$pass@127.0.0.1:$((port + 1))
        ;;
    dante) # username auth in Dante means system accounts: not measured
        sed -e "s/@PORT@/$port/" -e "s|@LOG@|$work/dante.log|" "$root/bench/danted.conf" \
            >"$work/danted.conf"
        spawn danted -f "$work/danted.conf" -p "$work/danted.pid"
        proxy_pid=$last_pid
        ;;
    esac
    wait_port "$port"
    [[ -z $auth_url ]] || wait_port "$((port + 1))"
}

# Runs one loadgen scenario for column $1, row $2 REPEAT times and appends the
# median run's result line (by the scenario's main figure), with the loadgen's
# first complaint as note=... when it had one. A failed run counts as the lowest.
measure() {
    local col=$1 row=$2 i n=1 out rc note key runs=()
    shift 2
    case $1 in
    throughput) key=gbps ;;
    cycles) key=cycles_per_s ;;
    latency) key=p50_us ;;
    *) key="" ;;
    esac
    [[ -z $key ]] || n=$repeat
    for ((i = 0; i < n; i++)); do
        rc=0
        out=$(timeout 180 "$loadgen" "$@" --label "$col/$row" 2>"$work/err") || rc=$?
        [[ -n $out ]] || out="result label=$col/$row"
        note=$(sed -n '1s/^loadgen: //p' "$work/err" | tr ' =' '_:')
        cat "$work/err" >>"$errors"
        out="$out rc=$rc${note:+ note=$note}"
        echo "  ${out#result label=}" >&2
        runs+=("$(sed -n "s/.* $key=\([0-9.]*\).*/\1/p" <<<"$out" | grep . || echo -1) $out")
    done
    # The median: the middle of the runs sorted by the key (an odd count picks a real run).
    printf '%s\n' "${runs[@]}" | sort -g -k1,1 | sed -n "$(((${#runs[@]} + 1) / 2))p" |
        cut -d' ' -f2- >>"$results"
}

# Handshakes go one step at a time (as curl does; microsocks needs it); the
# cycles-pipe row sends greeting, credentials and request in one write.
run_column() {
    local col=$1 url=$2 pid=$3 aurl=$4 apid=$5 c d
    local common=(--proxy "$url" --proxy-pid "$pid" --duration "$duration" --warmup "$warmup")
    for c in 1 8; do
        for d in up down both; do
            measure "$col" "tput-$c-$d" throughput "${common[@]}" --steps --conns "$c" --dir "$d"
        done
    done
    measure "$col" cycles cycles "${common[@]}" --steps --concurrency 32 --sources 200
    if [[ $col != direct ]]; then
        measure "$col" cycles-pipe cycles "${common[@]}" --concurrency 32 --sources 200
    fi
    if [[ -n $aurl ]]; then
        measure "$col" cycles-auth cycles --proxy "$aurl" --proxy-pid "$apid" --steps \
            --duration "$duration" --warmup "$warmup" --concurrency 32 --sources 200
    fi
    measure "$col" latency latency "${common[@]}" --steps
}

echo "direct:" >&2
run_column direct direct 0 "" 0
columns=(direct)
for name in $proxies; do
    case $name in
    microsocks) command -v microsocks >/dev/null || continue ;;
    dante) command -v danted >/dev/null || continue ;;
    hev) [[ -x ${HEV_SOCKS5_SERVER:-} ]] || continue ;;
    esac
    echo "$name:" >&2
    start_proxy "$name"
    run_column "$name" "$noauth_url" "$proxy_pid" "$auth_url" "$auth_pid"
    stop "$proxy_pid" "$auth_pid"
    start_proxy "$name" # a fresh process: its RSS before the sessions is its baseline
    measure "$name" idle idle --proxy "$noauth_url" --proxy-pid "$proxy_pid" \
        --sessions "$idle_sessions" --concurrency 64 --steps
    stop "$proxy_pid" "$auth_pid"
    columns+=("$name")
done

echo "weir_loadgen: $(nproc) cores, Linux $(uname -r), median of $repeat runs of ${duration} s measured after ${warmup} s" \
    "warm-up, netns=$WEIR_BENCH_NETNS, $(date -u +%FT%TZ)"
echo
awk -v columns="${columns[*]}" -f "$root/bench/table.awk" "$results"
echo
echo "Cells: value (ratio to direct in the same run); s/GB: proxy CPU-seconds per GB moved;"
echo "cpu P/L: CPU-seconds of the proxy (all its threads and processes) / of weir_loadgen"
echo "(client and sink threads) in the measured window; 2 cores give at most 2x the window."
echo "Raw result lines: $results; the loadgen's complaints: $errors"
