#!/usr/bin/env bash
# bench_smoke.sh WEIR LOADGEN REFERENCE: starts weir on port 0 (SOCKS4/4a/5, no
# auth; SOCKS5 with a password; the copy relay), then runs weir_loadgen
# directly and through them, and through weir_reference_relay; each run checks
# its own byte counts and exits non-zero on any mismatch or failed connection.
set -euo pipefail
weir=$1
loadgen=$2
reference=$3
work=$(mktemp -d /tmp/weir-bench-smoke.XXXXXX)
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# Starts a process whose stderr names the port it bound ("...127.0.0.1:PORT");
# sets started_pid and started_port.
start() {
    local name=$1 log=$work/$1.log i
    shift
    : >"$log" # there before the process is: the reads below must not race its start
    "$@" 2>>"$log" &
    started_pid=$!
    pids+=("$started_pid")
    started_port=""
    for ((i = 0; i < 100; i++)); do
        started_port=$(sed -n 's|.*listening on .*127\.0\.0\.1:\([0-9]*\).*|\1|p' "$log" | head -1)
        [[ -z $started_port ]] || return 0
        sleep 0.1
    done
    echo "$name did not start:" >&2
    cat "$log" >&2
    exit 1
}

start weir "$weir" --listen 'socks://127.0.0.1:0'
weir_pid=$started_pid port=$started_port
printf 'p@ss w0rd\n' | "$weir" passwd bench >"$work/users"
start weir-auth "$weir" --listen 'socks5://127.0.0.1:0' --users "$work/users"
weir_auth_pid=$started_pid weir_auth_port=$started_port
start weir-copy "$weir" --listen 'socks://127.0.0.1:0' --relay copy
weir_copy_pid=$started_pid weir_copy_port=$started_port
start reference "$reference" --port 0 --threads 2
reference_pid=$started_pid reference_port=$started_port
start reference-auth "$reference" --port 0 --user bench --password 'p@ss w0rd'
reference_auth_pid=$started_pid reference_auth_port=$started_port

# Runs the loadgen and checks that its result line (kept in last_out) says
# what $1 expects.
run() {
    local expect=$1 out
    shift
    echo "+ weir_loadgen $*"
    out=$("$loadgen" "$@" --timeout 10)
    last_out=$out
    echo "$out"
    if [[ $out != *" $expect"* ]]; then
        echo "expected '$expect' in the result" >&2
        return 1
    fi
}

proxy=socks5://127.0.0.1:$port
run ok=1 throughput --proxy direct --conns 1 --dir both --duration 0.5 --warmup 0.1
# The whole machine was busy moving those bytes: its CPU per GB is there and positive.
if ! awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^machine_cpu_per_gb=/) {
        split($i, kv, "="); found = kv[2] + 0 > 0 } } END { exit !found }' <<<"$last_out"; then
    echo "expected a positive machine_cpu_per_gb in the result" >&2
    exit 1
fi
run ok=1 throughput --proxy "$proxy" --proxy-pid "$weir_pid" --conns 1 --dir both --duration 0.5 \
    --warmup 0.1
run ok=1 throughput --proxy "$proxy" --proxy-pid "$weir_pid" --conns 2 --dir down --duration 0.2 \
    --warmup 0 --steps
# Both ends reading with recv(MSG_TRUNC) (the *-trunc rows): the counts still match.
run "truncate=1 gbps=" throughput --proxy "$proxy" --proxy-pid "$weir_pid" --conns 2 --dir both \
    --duration 0.3 --warmup 0.1 --steps --truncate
[[ $last_out == *" ok=1"* ]] || { echo "expected ok=1 in the result" >&2; exit 1; }
run "completed=200 errors=0" cycles --proxy "$proxy" --proxy-pid "$weir_pid" --count 200 \
    --duration 30 --sources 8
run "completed=50 errors=0" cycles --proxy "socks4://127.0.0.1:$port" --proxy-pid "$weir_pid" \
    --count 50 --duration 30
run "completed=50 errors=0" cycles --proxy "socks4a://127.0.0.1:$port" --proxy-pid "$weir_pid" \
    --count 50 --duration 30
run "pings=300 " latency --proxy "$proxy" --proxy-pid "$weir_pid" --count 300 --duration 30 \
    --warmup 0
run "woken=50" idle --proxy "$proxy" --proxy-pid "$weir_pid" --sessions 50 --steps

# UDP ASSOCIATE: request/response (exits non-zero when no round trip came
# back), a one-way flood (when nothing arrived), associations held (when one
# of them did not answer its ping).
run "associations=4 in_flight=2 size=64" udp-rr --proxy "$proxy" --proxy-pid "$weir_pid" \
    --associations 4 --in-flight 2 --duration 0.3 --warmup 0.1
run "associations=2 size=1200" udp-flood --proxy "$proxy" --proxy-pid "$weir_pid" \
    --associations 2 --size 1200 --rate 2000 --duration 0.3 --warmup 0.1
run "opened=20 answered=20" udp-held --proxy "$proxy" --proxy-pid "$weir_pid" --associations 20

# Password-protected weir: the first login runs Argon2id, the rest hit the cache.
run "completed=100 errors=0" cycles --proxy "socks5://bench:p@ss w0rd@127.0.0.1:$weir_auth_port" \
    --proxy-pid "$weir_auth_pid" --count 100 --duration 30 --steps

copy=socks5://127.0.0.1:$weir_copy_port
run ok=1 throughput --proxy "$copy" --proxy-pid "$weir_copy_pid" --conns 2 --dir both \
    --duration 0.3 --warmup 0.1 --steps
run "completed=100 errors=0" cycles --proxy "$copy" --proxy-pid "$weir_copy_pid" --count 100 \
    --duration 30

reference=socks5://127.0.0.1:$reference_port
run ok=1 throughput --proxy "$reference" --proxy-pid "$reference_pid" --conns 2 --dir both \
    --duration 0.3 --warmup 0.1 --steps
run "completed=200 errors=0" cycles --proxy "$reference" --proxy-pid "$reference_pid" \
    --count 200 --duration 30
run "woken=50" idle --proxy "$reference" --proxy-pid "$reference_pid" --sessions 50 --steps
run "associations=4 in_flight=2 size=64" udp-rr --proxy "$reference" \
    --proxy-pid "$reference_pid" --associations 4 --in-flight 2 --duration 0.3 --warmup 0.1
run "opened=20 answered=20" udp-held --proxy "$reference" --proxy-pid "$reference_pid" \
    --associations 20
run "completed=100 errors=0" cycles --proxy "socks5://bench:p@ss w0rd@127.0.0.1:$reference_auth_port" \
    --proxy-pid "$reference_auth_pid" --count 100 --duration 30 --steps
# A wrong password must make the run fail, naming the refusal.
refused() {
    local name=$1 port=$2 out
    echo "+ weir_loadgen cycles with a wrong password ($name)"
    if out=$("$loadgen" cycles --proxy "socks5://bench:wrong@127.0.0.1:$port" \
        --count 1 --duration 30 --steps --timeout 10 2>&1); then
        echo "$name took a wrong password: $out" >&2
        return 1
    fi
    if [[ $out != *"proxy refused"* ]]; then
        echo "expected a refusal from $name: $out" >&2
        return 1
    fi
}
refused "the reference relay" "$reference_auth_port"
refused weir "$weir_auth_port"
echo "bench smoke: all byte counts and answers checked"
