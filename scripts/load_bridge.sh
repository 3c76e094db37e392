#!/usr/bin/env bash
# Bridged-call load on 127.0.0.1: a release `hotline` (line open), OPS operators registered
# from one SIPp (digest auth) that answers every INVITE and echoes RTP, and SIPp callers at
# RATE calls/s streaming a 440 Hz tone for TALK_MS once connected. Bounded; stops by itself.
# Prints calls answered, server CPU per bridged call-second (and as % of a core per call),
# peak memory, register rows, and the operator-answer -> first-relayed-packet latency.
#   scripts/load_bridge.sh [OPS=40] [RATE=1] [CALLS=60] [TALK_MS=20000]
set -euo pipefail
OPS=${1:-40}; RATE=${2:-1}; CALLS=${3:-60}; TALK_MS=${4:-20000}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
bin=${CARGO_TARGET_DIR:-$here/target}/release/hotline
free() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free); op_port=$(free); op_media=$(free); caller_port=$(free); caller_media=$(free)
{
  cat <<TOML
[sip]
listen = "127.0.0.1:$port"
[media]
rtp_ports = "40000-49999"
[hours]
days = ["mon","tue","wed","thu","fri","sat","sun"]
open = "00:00"
close = "24:00"
[queue]
wrap_up = "1s"
[prompts]
dir = "$here/config/prompts"
[database]
url = "sqlite://$work/hotline.db?mode=rwc"
[recordings]
dir = "$work/recordings"
[log]
level = "info"
TOML
  printf 'SEQUENTIAL\n' > "$work/ops.csv"
  for i in $(seq 1 "$OPS"); do
    id=$((2000 + i))
    printf '[[operators]]\nid = "%s"\nname = "Load %s"\npassword = "p%s"\n' "$id" "$id" "$id"
    printf '%s;[authentication username=%s password=p%s];127.0.0.1;3600\n' "$id" "$id" "$id" >> "$work/ops.csv"
  done
} > "$work/hotline.toml"
"$bin" --config "$work/hotline.toml" 2> "$work/server.log" &
srv=$!; pids+=("$srv")
for _ in $(seq 1 100); do grep -q "serving" "$work/server.log" 2>/dev/null && break; sleep 0.05; done
cd "$work"
sipp "127.0.0.1:$port" -sf "$here/tests/sipp/operator_register.xml" -inf ops.csv -i 127.0.0.1 -p "$op_port" \
     -m "$OPS" -r 50 -nostdin -timeout 30s > reg.out 2>&1
sipp -sf "$here/tests/sipp/operator_answer.xml" -i 127.0.0.1 -p "$op_port" -mi 127.0.0.1 -mp "$op_media" -rtp_echo \
     -key operator_audio "$here/tests/audio/caller_tone_440.ul,-1,0" -aa -nostdin -timeout $(( CALLS / RATE + TALK_MS / 1000 + 120 ))s > op.out 2>&1 &
pids+=($!)
ticks() { awk '{print $14 + $15}' "/proc/$srv/stat"; }
t0=$(ticks); w0=$(date +%s.%N)
timeout $(( CALLS / RATE + TALK_MS / 1000 + 120 )) sipp "127.0.0.1:$port" -sf "$here/tests/sipp/caller_queue.xml" -s 792112 \
    -i 127.0.0.1 -p "$caller_port" -mi 127.0.0.1 -mp "$caller_media" -key caller_audio "$here/tests/audio/caller_tone_440.ul,-1,0" \
    -set talk_ms "$TALK_MS" -set hangup_ms 120000 -r "$RATE" -m "$CALLS" -l 500 -nostdin -trace_stat -stf stat.csv > caller.out 2>&1 || true
t1=$(ticks); w1=$(date +%s.%N)
sleep 1
rss=$(awk '/VmHWM/ {print $2}' "/proc/$srv/status")
kill -TERM "$srv"; wait "$srv" || true
python3 - "$work" "$CALLS" "$t0" "$t1" "$rss" "$w0" "$w1" <<'PY'
import csv, os, re, sqlite3, sys
work, calls, t0, t1, rss, w0, w1 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7])
db = sqlite3.connect(os.path.join(work, "hotline.db"))
rows = db.execute("select count(*), sum(outcome='answered'), coalesce(sum(talk_ms),0) from calls").fetchone()
talk_s = rows[2] / 1000
cpu = (t1 - t0) / os.sysconf('SC_CLK_TCK')
lat = []
for line in open(os.path.join(work, "server.log"), errors="replace"):
    line = re.sub(r"\x1b\[[0-9;]*m", "", line)
    m = re.search(r"after_answer=Some\(([0-9.]+)(ms|µs|s)\)", line)
    if m:
        v = float(m.group(1)); lat.append(v / 1000 if m.group(2) == "µs" else v * 1000 if m.group(2) == "s" else v)
lat.sort()
pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float('nan')
print(f"calls={calls} rows={rows[0]} answered={rows[1]} bridged talk={talk_s:.0f} s over {w1 - w0:.0f} s wall")
print(f"server CPU {cpu:.2f} s = {1000 * cpu / max(talk_s, 1):.2f} ms per bridged call-second = {100 * cpu / max(talk_s, 1):.3f} % of a core per call (both directions, relay + signalling + register)")
print(f"operator answer -> first relayed packet (ms): p50={pct(.5):.2f} p90={pct(.9):.2f} max={lat[-1] if lat else float('nan'):.2f} (n={len(lat)})")
print(f"peak RSS {rss // 1024} MiB")
PY
echo "logs: $work"
