#!/usr/bin/env bash
# Load test on 127.0.0.1: a release `hotline` (line closed, so every call is answered and
# plays the after-hours message) and SIPp's built-in UAC placing CALLS calls at RATE calls/s,
# each hanging up after HOLD_MS. Bounded in count and time; stops by itself.
# Prints call-setup latency (INVITE -> 200, as SIPp measures it), the server's CPU time per
# call, its peak memory, and the register's row count against the calls placed.
#   scripts/load.sh [RATE=50] [CALLS=1000] [HOLD_MS=3000]
set -euo pipefail
RATE=${1:-50}; CALLS=${2:-1000}; HOLD_MS=${3:-3000}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'kill "${srv:-}" 2>/dev/null || true' EXIT
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
bin=${CARGO_TARGET_DIR:-$here/target}/release/hotline
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/hotline.toml" <<TOML
[sip]
listen = "127.0.0.1:$port"
[media]
rtp_ports = "40000-49999"
[hours]
days = []
[prompts]
dir = "$here/config/prompts"
[database]
url = "sqlite://$work/hotline.db?mode=rwc"
[recordings]
dir = "$work/recordings"
[log]
level = "warn"
TOML
"$bin" --config "$work/hotline.toml" 2> "$work/server.log" &
srv=$!
for _ in $(seq 1 100); do grep -q "serving" "$work/server.log" 2>/dev/null && break; sleep 0.05; done
ticks() { awk '{print $14 + $15}' "/proc/$srv/stat"; }
t0=$(ticks)
( cd "$work" && timeout $(( CALLS / RATE + HOLD_MS / 1000 + 60 )) sipp "127.0.0.1:$port" -sn uac -s 792112 \
    -i 127.0.0.1 -p 0 -r "$RATE" -m "$CALLS" -l $(( RATE * (HOLD_MS / 1000 + 2) )) -d "$HOLD_MS" \
    -nostdin -trace_rtt -rtt_freq 1 -trace_stat -stf stat.csv > sipp.out 2>&1 ) || true
t1=$(ticks)
sleep 1
rss=$(awk '/VmHWM/ {print $2}' "/proc/$srv/status")
kill -TERM "$srv"; wait "$srv" || true
rows=$(python3 -c "import sqlite3; print(sqlite3.connect('$work/hotline.db').execute('select count(*) from calls where outcome=\"after_hours\"').fetchone()[0])")
python3 - "$work" "$CALLS" "$t0" "$t1" "$rss" "$rows" "$RATE" <<'PY'
import csv, glob, os, sys
work, calls, t0, t1, rss, rows, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], int(sys.argv[6]), sys.argv[7]
rtts = []
for f in glob.glob(os.path.join(work, "*_rtt.csv")):
    for r in csv.reader(open(f), delimiter=';'):
        try: rtts.append(float(r[1]))
        except (ValueError, IndexError): pass
rtts.sort()
pct = lambda p: rtts[min(len(rtts) - 1, int(p * len(rtts)))] if rtts else float('nan')
tck = os.sysconf('SC_CLK_TCK')
cpu = (t1 - t0) / tck
ok = fail = 0
try:
    last = list(csv.DictReader(open(os.path.join(work, "stat.csv")), delimiter=';'))[-1]
    ok, fail = int(last['SuccessfulCall(C)']), int(last['FailedCall(C)'])
except Exception: pass
print(f"rate={rate}/s calls={calls} ok={ok} failed={fail} register_rows={rows}")
print(f"setup latency INVITE->200 (ms): p50={pct(.5):.2f} p90={pct(.9):.2f} p99={pct(.99):.2f} max={rtts[-1] if rtts else float('nan'):.2f} (n={len(rtts)})")
print(f"server CPU: {cpu:.2f} s for {calls} calls = {1000*cpu/max(calls,1):.2f} ms/call; peak RSS {int(rss)//1024} MiB")
PY
echo "logs: $work"
