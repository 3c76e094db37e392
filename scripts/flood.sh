#!/usr/bin/env bash
# Attacks on a public number, against a release `hotline` on 127.0.0.1 only. Bounded in
# count and time; stops by itself. Prints what got in, what was refused, the server's
# memory and file descriptors before, at the peak and after, and its log lines.
#
#   scripts/flood.sh invite [RATE=450] [SECONDS=12] [limits|open]
#       SIPp's built-in UAC places RATE calls/s for SECONDS (line closed: the after-hours
#       message; each caller hangs up after 15 s), then the calls are let finish.
#   scripts/flood.sh tcp [CONNECTIONS=3000] [limits|open]
#       CONNECTIONS idle TCP connections from 127.0.0.1, held 45 s, then closed.
#
# `limits` runs on the documented defaults; `open` lifts every limit (the line as it was
# before they existed) for comparison; `plain` writes no limit keys at all.
set -euo pipefail
what=${1:-invite}
case "$what" in
  invite) RATE=${2:-450}; SECS=${3:-12}; MODE=${4:-limits} ;;
  tcp) CONNS=${2:-3000}; MODE=${3:-limits} ;;
  *) echo "usage: $0 invite|tcp ..." >&2; exit 2 ;;
esac
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'kill "${srv:-}" 2>/dev/null || true' EXIT
# BIN=path measures another build (e.g. one made before the limits, with MODE=plain: no
# limit keys in its configuration).
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet --manifest-path "$here/Cargo.toml"
fi
bin=${BIN:-${CARGO_TARGET_DIR:-$here/target}/release/hotline}
free_port() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, getattr(socket, sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"; }
port=$(free_port SOCK_DGRAM); http=$(free_port SOCK_STREAM)
if [ "$MODE" = open ]; then
  limits='[limits]
max_calls = 100000
max_waiting = 100000
invite_rate = 0
trunk_invite_rate = 0
register_rate = 0
options_rate = 0'
  tcp='tcp_max_per_address = 65535
tcp_idle_timeout = "1h"'
else
  limits=''; tcp=''
fi
cat > "$work/hotline.toml" <<TOML
[sip]
listen = "127.0.0.1:$port"
$tcp
[media]
rtp_ports = "20000-29999"
[hours]
days = []
[prompts]
dir = "$here/config/prompts"
[database]
url = "sqlite://$work/hotline.db?mode=rwc"
[recordings]
dir = "$work/recordings"
[http]
listen = "127.0.0.1:$http"
[log]
level = "warn"
$limits
TOML
# Enough descriptors for the open line to show what an attack can take.
ulimit -n 20000 2>/dev/null || true
"$bin" --config "$work/hotline.toml" 2> "$work/server.log" &
srv=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
mem() { awk '/^VmRSS/ {r=$2} /^VmHWM/ {h=$2} END {printf "rss=%d MiB peak=%d MiB", r/1024, h/1024}' "/proc/$srv/status"; }
fds() { ls "/proc/$srv/fd" | wc -l; }
echo "mode=$MODE before: $(mem) fds=$(fds)"

if [ "$what" = invite ]; then
  calls=$(( RATE * SECS ))
  ( cd "$work" && timeout $(( SECS + 60 )) sipp "127.0.0.1:$port" -sn uac -s 792112 \
      -i 127.0.0.1 -p 0 -r "$RATE" -m "$calls" -l "$calls" -d 15000 \
      -nostdin -trace_stat -stf stat.csv > sipp.out 2>&1 ) &
  sipp=$!
  peak_fds=0
  while kill -0 "$sipp" 2>/dev/null; do
    n=$(fds); [ "$n" -gt "$peak_fds" ] && peak_fds=$n
    sleep 0.5
  done
  echo "flood over: $(mem) fds now=$(fds) peak=$peak_fds"
  # Every call is over; their BYE transactions linger 32 s (Timer J), then the line is idle.
  sleep 40
  echo "40 s after: $(mem) fds=$(fds)"
  python3 - "$work" "$calls" <<'PY'
import csv, os, sqlite3, sys
work, calls = sys.argv[1], int(sys.argv[2])
rows = list(csv.DictReader(open(os.path.join(work, "stat.csv")), delimiter=';'))
last = rows[-1] if rows else {}
print(f"INVITEs sent={calls} SIPp successful={last.get('SuccessfulCall(C)')} failed={last.get('FailedCall(C)')}")
db = sqlite3.connect(os.path.join(work, "hotline.db"))
by = db.execute("select outcome, coalesce(end_reason,''), count(*) from calls group by 1, 2 order by 3 desc").fetchall()
print("register rows:", sum(n for _, _, n in by), by)
PY
else
  python3 - "$port" "$CONNS" "$srv" <<'PY'
import resource, socket, sys, time, os
port, conns, srv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, conns + 100), hard))
def mem():
    s = open(f"/proc/{srv}/status").read().split("\n")
    v = {l.split(":")[0]: l.split()[1] for l in s if l.startswith(("VmRSS", "VmHWM"))}
    return f"rss={int(v['VmRSS'])//1024} MiB peak={int(v['VmHWM'])//1024} MiB fds={len(os.listdir(f'/proc/{srv}/fd'))}"
def still_open(socks):
    n = 0
    for s in socks:
        try:
            if s.recv(1, socket.MSG_DONTWAIT | socket.MSG_PEEK) == b"":
                continue
        except BlockingIOError:
            pass
        except OSError:
            continue
        n += 1
    return n
socks, failed = [], 0
t0 = time.time()
for _ in range(conns):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
        s.setblocking(False)
        socks.append(s)
    except OSError:
        failed += 1
        s.close()
print(f"connected {len(socks)} of {conns} in {time.time()-t0:.1f} s ({failed} failed)")
time.sleep(3)
print(f"after 3 s: {still_open(socks)} still open; server {mem()}")
deadline = time.time() + 42
closed_at = None
while time.time() < deadline:
    time.sleep(1)
    n = still_open(socks)
    if n == 0 and closed_at is None:
        closed_at = time.time() - t0
        break
print(f"after {time.time()-t0:.0f} s: {still_open(socks)} still open (all closed by the server at {closed_at and round(closed_at)} s); server {mem()}")
for s in socks:
    s.close()
time.sleep(5)
print(f"5 s after the client closed everything: server {mem()}")
PY
fi
curl -sf "http://127.0.0.1:$http/metrics" | grep -E '^hotline_(limit_refusals_total|tcp_|rtp_port|calls_total|sip_messages_total\{direction="out",status="503"\})' || true
kill -TERM "$srv"; wait "$srv" || true
echo "server log: $(wc -l < "$work/server.log") lines, $(grep -c ERROR "$work/server.log" || true) ERROR, $(grep -c WARN "$work/server.log" || true) WARN"
grep -E 'ERROR|WARN' "$work/server.log" | sed -E 's/^[^ ]+ +//' | cut -c1-160 | sort | uniq -c | sort -rn | head -5
echo "logs: $work"
