#!/usr/bin/env bash
# bench_smoke.sh WEIR LOADGEN: starts weir on port 0 (SOCKS4/4a/5, no auth),
# then runs weir_loadgen directly and through it; each run checks its own byte
# counts and exits non-zero on any mismatch or failed connection.
set -euo pipefail
weir=$1
loadgen=$2
work=$(mktemp -d /tmp/weir-bench-smoke.XXXXXX)
weir_pid=0
cleanup() {
    if ((weir_pid > 0)); then
        kill "$weir_pid" 2>/dev/null || true
        wait "$weir_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

"$weir" --listen 'socks://127.0.0.1:0' 2>"$work/weir.log" &
weir_pid=$!
port=""
for ((i = 0; i < 100; i++)); do
    port=$(sed -n 's|.*listening on socks://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$work/weir.log" | head -1)
    [[ -z $port ]] || break
    sleep 0.1
done
if [[ -z $port ]]; then
    echo "weir did not start:" >&2
    cat "$work/weir.log" >&2
    exit 1
fi

# Runs the loadgen and checks that its result line says what $1 expects.
run() {
    local expect=$1 out
    shift
    echo "+ weir_loadgen $*"
    out=$("$loadgen" "$@" --proxy-pid "$weir_pid" --timeout 10)
    echo "$out"
    if [[ $out != *" $expect"* ]]; then
        echo "expected '$expect' in the result" >&2
        return 1
    fi
}

proxy=socks5://127.0.0.1:$port
run ok=1 throughput --proxy direct --conns 1 --dir both --duration 0.5 --warmup 0.1
run ok=1 throughput --proxy "$proxy" --conns 1 --dir both --duration 0.5 --warmup 0.1
run ok=1 throughput --proxy "$proxy" --conns 2 --dir down --duration 0.2 --warmup 0 --steps
run "completed=200 errors=0" cycles --proxy "$proxy" --count 200 --duration 30 --sources 8
run "completed=50 errors=0" cycles --proxy "socks4://127.0.0.1:$port" --count 50 --duration 30
run "woken=50" idle --proxy "$proxy" --sessions 50 --steps
echo "bench smoke: all byte counts checked"
