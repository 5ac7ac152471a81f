#!/usr/bin/env bash
# Measures weir (splice and copy relays), weir_reference_relay (a minimal
# splice relay: what this machine allows a relay) and, when installed,
# microsocks and Dante against the direct path in the same run, with
# weir_loadgen, and prints one Markdown table on stdout (progress goes to stderr).
#
#   bench/run.sh [BUILD_DIR]      BUILD_DIR defaults to build-bench (Release)
#
# Environment: DURATION (measured seconds per run, 2), WARMUP (0.5), REPEAT
# (rounds per figure, the median kept: 3; a round runs every column in turn),
# LATENCY_REPEAT (rounds of the ping-pong rows and one-client rows, 5: where the
# scheduler puts a lone connection's threads moves them by 10% run to run),
# AUTH_REPEAT (pairs of the user/pass row, 5: a single pair's auth cost moves
# by several points, for every proxy), IDLE_SESSIONS (9500), PROXIES (default:
# reference weir-splice weir-copy microsocks dante hev), ROWS (default: every
# row, tput-1-up tput-1-down tput-1-both tput-1-both-trunc tput-8-up tput-8-down
# tput-8-both tput-8-both-trunc cycles cycles-pipe cycles-auth cycles-1 latency
# idle udp-rr-64 udp-rr-1200 udp-many udp-ping udp-flood udp-paced udp-held),
# TRUNC_DURATION (measured seconds of the *-trunc rows, 3: both ways at once,
# the client and the sink reading with recv(MSG_TRUNC), which copies nothing,
# so that the relay, not the readers' copies, is what limits), UDP_ASSOCIATIONS (udp-rr and
# udp-flood: 16), UDP_PACED_RATE (datagrams/s of udp-paced: 50000 of 1,200 B,
# 480 Mbit/s),
# UDP_HELD (associations of the udp-held row, 4000),
# HEV_SOCKS5_SERVER (path to a hev-socks5-server binary built outside this
# repository; the hev column is measured only when it is set), WEIR_BASE (path
# to another build's weir, e.g. of the commit before a change: adds the
# column base-splice, run exactly as weir-splice, so that before and after are
# measured in the same rounds), WEIR_ARGS (more options for the weir columns, not
# base-splice: WEIR_ARGS="--metrics 127.0.0.1:0" measures weir with its metrics
# endpoint on).
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
    cmake --build "$build" --target weir weir_loadgen weir_reference_relay -j2 >&2
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
trunc_duration=${TRUNC_DURATION:-3}
repeat=${REPEAT:-3}
latency_repeat=${LATENCY_REPEAT:-5}
auth_repeat=${AUTH_REPEAT:-5}
warmup=${WARMUP:-0.5}
idle_sessions=${IDLE_SESSIONS:-9500}
udp_associations=${UDP_ASSOCIATIONS:-16}
udp_held=${UDP_HELD:-4000}
udp_paced_rate=${UDP_PACED_RATE:-50000}
proxies=${PROXIES:-reference weir-splice weir-copy microsocks dante hev}
# Extra options for the weir columns only (not base-*), e.g. WEIR_ARGS="--metrics 127.0.0.1:0".
declare -A weir_args=([weir-splice]="${WEIR_ARGS:-}" [weir-copy]="${WEIR_ARGS:-}")
[[ -z ${WEIR_BASE:-} || " $proxies " == *" base-splice "* ]] || proxies="$proxies base-splice"
all_rows="tput-1-up tput-1-down tput-1-both tput-1-both-trunc tput-8-up tput-8-down tput-8-both \
tput-8-both-trunc cycles cycles-pipe cycles-auth cycles-1 latency idle udp-rr-64 udp-rr-1200 \
udp-many udp-ping udp-flood udp-paced udp-held"
read -ra rows <<<"${ROWS:-$all_rows}"
for row in "${rows[@]}"; do
    [[ " $all_rows " == *" $row "* ]] || { echo "run.sh: no row named '$row' (rows: $all_rows)" >&2; exit 2; }
done
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
    reference)
        spawn "$build/weir_reference_relay" --port "$port" 2>>"$work/$1.log"
        proxy_pid=$last_pid
        spawn "$build/weir_reference_relay" --port "$((port + 1))" --user "$user" \
            --password "$pass" 2>>"$work/$1.log"
        auth_pid=$last_pid
        ;;
    weir-* | base-*)
        [[ -f $work/users ]] || (umask 077 && printf '%s\n' "$pass" | "$weir" passwd "$user" >"$work/users")
        local binary=$weir
        [[ $1 != base-* ]] || binary=$WEIR_BASE
        spawn "$binary" --relay "${1#*-}" --listen "socks://127.0.0.1:$port" \
            --listen "socks5://127.0.0.1:$((port + 1))" --users "$work/users" --log-level warn \
            --max-sessions-per-client 0 ${weir_args[$1]:-} \
            2>>"$work/$1.log"
        proxy_pid=$last_pid auth_pid=$last_pid
        ;;
    microsocks)
        spawn microsocks -i 127.0.0.1 -p "$port" 2>>"$work/$1.log"
        proxy_pid=$last_pid
        spawn microsocks -i 127.0.0.1 -p "$((port + 1))" -u "$user" -P "$pass" 2>>"$work/$1.log"
        auth_pid=$last_pid
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
        ;;
    dante) # username auth in Dante means system accounts: not measured
        sed -e "s/@PORT@/$port/" -e "s|@LOG@|$work/dante.log|" "$root/bench/danted.conf" \
            >"$work/danted.conf"
        spawn danted -f "$work/danted.conf" -p "$work/danted.pid"
        proxy_pid=$last_pid
        ;;
    esac
    # Every proxy with a password listener has it on the next port.
    ((auth_pid == 0)) || auth_url=socks5://$user:$pass@127.0.0.1:$((port + 1))
    wait_port "$port"
    [[ -z $auth_url ]] || wait_port "$((port + 1))"
}

# Runs one loadgen scenario once for column $1, row $2 and appends its result
# line, with the loadgen's first complaint as note=..., to $work/runs/COL.ROW.
run_once() {
    local col=$1 row=$2 out rc=0 note
    shift 2
    out=$(timeout 180 "$loadgen" "$@" --label "$col/$row" 2>"$work/err") || rc=$?
    [[ -n $out ]] || out="result label=$col/$row"
    note=$(sed -n '1s/^loadgen: //p' "$work/err" | tr ' =' '_:')
    cat "$work/err" >>"$errors"
    out="$out rc=$rc${note:+ note=$note}"
    echo "  ${out#result label=}" >&2
    printf '%s\n' "$out" >>"$work/runs/$col.$row"
}

# The line of file $1 whose key $2 is the median, after that key's value and
# a space (an odd count of lines picks a real run; a failed one counts lowest).
middle_of() {
    awk -v key="$2" '{ k = -1; for (i = 1; i <= NF; i++) if (index($i, key "=") == 1)
        k = substr($i, length(key) + 2); print k, $0 }' "$1" | sort -g -k1,1 |
        sed -n "$((($(wc -l <"$1") + 1) / 2))p"
}

# How many percent fewer cycles a proxy completed with auth (file $2) than
# without it just before (file $1), per round: paired, so a slow spell of the
# machine falls on both halves of a pair. Prints result fields: the median
# over rounds, and the lowest and highest of them (the spread is the point:
# from run to run the figure moves by several points for every proxy).
auth_cost() {
    awk 'function rate(   i) { for (i = 1; i <= NF; i++) if (index($i, "cycles_per_s=") == 1)
             return substr($i, 14) + 0; return 0 }
         FNR == NR { base[FNR] = rate(); next }
         base[FNR] > 0 && rate() > 0 { printf "%.1f\n", 100 * (1 - rate() / base[FNR]) }' "$1" "$2" |
        sort -g | awk '{ v[NR] = $1 } END {
            if (NR == 0) { print "auth_cost_pct=-"; exit }
            m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "auth_cost_pct=%.1f auth_cost_low=%.1f auth_cost_high=%.1f auth_cost_pairs=%d\n",
                   m, v[1], v[NR], NR }'
}

# Appends the median of column $1's runs of row $2 (by the row's main figure)
# to the results. For latency, p99 is the median of the runs' p99s, taken
# apart from p50's: a run's tail depends on where the scheduler put the three
# threads of a ping-pong (about one run in four has a p99 two to three times
# the others', through any proxy and the reference relay alike).
keep_median() {
    local file=$work/runs/$1.$2 key p99
    [[ -f $file ]] || return 0
    case $2 in
    tput-*) key=gbps ;;
    cycles*) key=cycles_per_s ;;
    latency) key=p50_us ;;
    udp-rr-* | udp-many | udp-ping) key=rr_per_s ;;
    udp-flood) key=dgrams_per_s ;;
    udp-paced) key=loss_pct ;;
    udp-held) key=answered ;;
    *) key=woken ;;
    esac
    if [[ $2 == cycles-auth ]]; then
        middle_of "$file" "$key" | cut -d' ' -f2- |
            sed "s/\$/ $(auth_cost "$work/runs/$1.cycles-auth-base" "$file")/" \
                >>"$results"
    elif [[ $2 == latency ]]; then
        p99=$(middle_of "$file" p99_us | cut -d' ' -f1)
        middle_of "$file" "$key" | cut -d' ' -f2- | sed "s/ p99_us=[^ ]*/ p99_us=$p99/" >>"$results"
    else
        middle_of "$file" "$key" | cut -d' ' -f2- >>"$results"
    fi
}

# One run of row $2 for column $1 (its URLs and pids in the arrays below).
# Handshakes go one step at a time (as curl does; microsocks needs it); the
# cycles-pipe row sends greeting, credentials and request in one write.
run_row() {
    local col=$1 row=$2 c d
    local timing=(--duration "$duration" --warmup "$warmup")
    local common=(--proxy "${url[$col]}" --proxy-pid "${pid[$col]}" "${timing[@]}")
    # The 32-client cycles: no auth, user/pass and its no-auth partner alike.
    local clients32=(--steps --concurrency 32 --sources 200)
    case $row in
    tput-*-trunc) # the scenario of issue 19: no copy on either reading side
        IFS=- read -r _ c d _ <<<"$row"
        run_once "$col" "$row" throughput --proxy "${url[$col]}" --proxy-pid "${pid[$col]}" \
            --duration "$trunc_duration" --warmup "$warmup" --steps --conns "$c" --dir "$d" \
            --truncate
        ;;
    tput-*)
        IFS=- read -r _ c d <<<"$row"
        run_once "$col" "$row" throughput "${common[@]}" --steps --conns "$c" --dir "$d"
        ;;
    cycles) run_once "$col" "$row" cycles "${common[@]}" "${clients32[@]}" ;;
    cycles-1) run_once "$col" "$row" cycles "${common[@]}" --steps --concurrency 1 --sources 200 ;;
    cycles-pipe)
        [[ $col == direct ]] || run_once "$col" "$row" cycles "${common[@]}" --concurrency 32 \
            --sources 200
        ;;
    cycles-auth) # each right after the same proxy without auth: the pair gives the auth's cost
        [[ -n ${auth_url[$col]} ]] || return 0
        run_once "$col" cycles-auth-base cycles "${common[@]}" "${clients32[@]}"
        run_once "$col" "$row" cycles --proxy "${auth_url[$col]}" --proxy-pid "${auth_pid[$col]}" \
            "${timing[@]}" "${clients32[@]}"
        ;;
    latency) run_once "$col" "$row" latency "${common[@]}" --steps ;;
    udp-*)
        udp_capable "$col" || return 0
        case $row in
        udp-rr-*) # request/response, 4 datagrams in flight per association
            run_once "$col" "$row" udp-rr "${common[@]}" --associations "$udp_associations" \
                --in-flight 4 --size "${row#udp-rr-}"
            ;;
        udp-many) # many associations, one datagram in flight each
            run_once "$col" "$row" udp-rr "${common[@]}" --associations 256 --in-flight 1 --size 64
            ;;
        udp-ping) # one datagram at a time on one association: the relay's latency
            run_once "$col" "$row" udp-rr "${common[@]}" --associations 1 --in-flight 1 --size 64
            ;;
        udp-flood) # one way, as fast as the load generator sends
            run_once "$col" "$row" udp-flood "${common[@]}" --associations "$udp_associations" \
                --size 1200
            ;;
        udp-paced) # one way, 8 associations at a steady rate: what is lost below saturation
            run_once "$col" "$row" udp-flood "${common[@]}" --associations 8 --size 1200 \
                --rate "$udp_paced_rate"
            ;;
        esac
        ;;
    esac
}

# Whether column $1 relays UDP ASSOCIATE (weir's UDP relay is the same for
# splice and copy: measured once, as weir-splice; microsocks has no UDP).
udp_capable() {
    case $1 in
    direct | reference | weir-splice | base-splice | dante | hev) return 0 ;;
    *) return 1 ;;
    esac
}

# Every proxy runs at once, each on its own ports, and each round measures a
# row for every column in turn: a slow spell of this shared machine then
# lands on all columns alike instead of on whichever ran during it.
mkdir -p "$work/runs"
declare -A url pid auth_url auth_pid
columns=(direct)
url[direct]=direct pid[direct]=0 auth_url[direct]="" auth_pid[direct]=0
for name in $proxies; do
    case $name in
    microsocks) command -v microsocks >/dev/null || continue ;;
    dante) command -v danted >/dev/null || continue ;;
    hev) [[ -x ${HEV_SOCKS5_SERVER:-} ]] || continue ;;
    base-*) [[ -x ${WEIR_BASE:-} ]] || continue ;;
    esac
    start_proxy "$name"
    url[$name]=$noauth_url pid[$name]=$proxy_pid
    auth_url[$name]=$auth_url auth_pid[$name]=$auth_pid
    columns+=("$name")
done
for row in "${rows[@]}"; do
    [[ $row != idle && $row != udp-held ]] || continue # below, one proxy at a time
    rounds=$repeat
    [[ $row != latency && $row != cycles-1 && $row != udp-ping ]] || rounds=$latency_repeat
    [[ $row != cycles-auth ]] || rounds=$auth_repeat
    for ((round = 1; round <= rounds; round++)); do
        echo "$row, round $round of $rounds:" >&2
        for col in "${columns[@]}"; do run_row "$col" "$row"; done
    done
    for col in "${columns[@]}"; do keep_median "$col" "$row"; done
done
for col in "${columns[@]:1}"; do stop "${pid[$col]}" "${auth_pid[$col]}"; done

# Idle sessions: one proxy at a time, each a fresh process, so that its RSS
# before the sessions is its baseline.
columns_idle=("${columns[@]:1}")
[[ " ${rows[*]} " == *" idle "* ]] || columns_idle=()
for name in "${columns_idle[@]}"; do
    echo "$name, idle:" >&2
    start_proxy "$name"
    run_once "$name" idle idle --proxy "$noauth_url" --proxy-pid "$proxy_pid" \
        --sessions "$idle_sessions" --concurrency 64 --steps
    keep_median "$name" idle
    stop "$proxy_pid" "$auth_pid"
done

# Held UDP associations: the same, and a ping through each afterwards.
columns_held=()
[[ " ${rows[*]} " != *" udp-held "* ]] || columns_held=("${columns[@]:1}")
for name in "${columns_held[@]}"; do
    udp_capable "$name" || continue
    echo "$name, udp-held:" >&2
    start_proxy "$name"
    run_once "$name" udp-held udp-held --proxy "$noauth_url" --proxy-pid "$proxy_pid" \
        --associations "$udp_held"
    keep_median "$name" udp-held
    stop "$proxy_pid" "$auth_pid"
done

echo "weir_loadgen: $(nproc) cores, Linux $(uname -r), median of $repeat interleaved rounds" \
    "($latency_repeat for ping-pong and one client, $auth_repeat user/pass pairs) of ${duration} s" \
    "measured after ${warmup} s" \
    "warm-up, netns=$WEIR_BENCH_NETNS, $(date -u +%FT%TZ)"
echo
awk -v columns="${columns[*]}" -f "$root/bench/table.awk" "$results"
echo
echo "Cells: value (ratio to direct in the same run); s/GB: proxy CPU-seconds per GB moved;"
echo "machine s/GB: busy CPU-seconds of the whole machine per GB (proxy, weir_loadgen and the"
echo "kernel's loopback work, whichever process it was charged to; idle and steal left out);"
echo "cpu P/L: CPU-seconds of the proxy (all its threads and processes) / of weir_loadgen"
echo "(client and sink threads) in the measured window; 2 cores give at most 2x the window."
echo "UDP rows: $udp_associations associations (udp-held: $udp_held), payload bytes as named (a SOCKS"
echo "header of 10 more each way through a proxy); us/dgram: proxy CPU-microseconds per datagram it"
echo "relayed (a round trip is 2); flood loss: share of what the load generator sent that never"
echo "reached the discard port (direct: the kernel's; through a proxy: mostly its receive buffer)."
echo "Raw result lines: $results; the loadgen's complaints: $errors"
