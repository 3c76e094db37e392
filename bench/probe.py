#!/usr/bin/env python3
"""One measured call through the server: the probe is both the caller and the operator.

    bench/probe.py SERVER_PORT OPERATOR_ID PASSWORD

It registers as operator OPERATOR_ID (digest), dials the line as a caller, answers its own
call as the operator, and then sends G.711 at 50 packets/s both ways through the server.
Every packet carries its send time; the receiving socket reads the kernel's arrival
timestamp (SO_TIMESTAMPNS), so each relayed packet's delay through the server is known
exactly, whatever the probe's own scheduling. Each SIGUSR2 marks the start of the next
window of the run: the first the steady window (every call bridged), the second the end
(calls hanging up). On SIGTERM it hangs up and prints, as JSON, the delay percentiles and
the added jitter (p99 delay minus the fastest), per direction: at the top level for
everything before the calls began to end, as the benchmark has always reported, and under
"windows" for the steady window and the calls' end apart.
Everything goes to 127.0.0.1 only; the probe ends by itself after --limit seconds.
"""

import hashlib
import json
import math
import os
import random
import signal
import socket
import struct
import sys
import threading
import time

HOST = "127.0.0.1"
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def udp(port=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((HOST, port))
    return s


def parse(data):
    text = data.decode("utf-8", "replace")
    head, _, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return lines[0], headers, body


def h(headers, name):
    return headers.get(name, [""])[0]


class Probe:
    def __init__(self, server_port, op_id, password, limit):
        self.server = (HOST, server_port)
        self.op_id, self.password, self.limit = op_id, password, limit
        self.sip = udp()
        self.sip.settimeout(0.2)
        self.port = self.sip.getsockname()[1]
        self.caller_rtp, self.op_rtp = udp(), udp()
        for s in (self.caller_rtp, self.op_rtp):
            s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            s.settimeout(0.2)
        self.tag = "p%08x" % random.getrandbits(32)
        # (arrival in ns of the realtime clock, delay in ms) for every packet of ours.
        self.delays = {"caller_to_operator": [], "operator_to_caller": []}
        self.marks = []
        self.stop = threading.Event()
        self.server_rtp = {}

    def via(self):
        return f"SIP/2.0/UDP {HOST}:{self.port};branch=z9hG4bK{random.getrandbits(48):x};rport"

    def send(self, text):
        self.sip.sendto(text.encode(), self.server)

    def recv(self, deadline):
        while time.monotonic() < deadline:
            try:
                data, _ = self.sip.recvfrom(65535)
            except socket.timeout:
                continue
            return parse(data)
        raise SystemExit("probe: no answer from the server")

    def sdp(self, port):
        return (f"v=0\r\no=probe 1 1 IN IP4 {HOST}\r\ns=-\r\nc=IN IP4 {HOST}\r\nt=0 0\r\n"
                f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n")

    def register(self):
        aor = f"sip:{self.op_id}@{HOST}:{self.server[1]}"
        call_id = f"reg-{random.getrandbits(48):x}"
        auth = ""
        for cseq in (1, 2):
            self.send(f"REGISTER sip:{HOST}:{self.server[1]} SIP/2.0\r\nVia: {self.via()}\r\n"
                      f"From: <{aor}>;tag={self.tag}\r\nTo: <{aor}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n"
                      f"Contact: <sip:{self.op_id}@{HOST}:{self.port}>\r\nExpires: 3600\r\nMax-Forwards: 70\r\n"
                      f"{auth}Content-Length: 0\r\n\r\n")
            start, headers, _ = self.recv(time.monotonic() + 5)
            if " 200 " in start:
                return
            challenge = h(headers, "www-authenticate")
            params = dict(p.strip().split("=", 1) for p in challenge[len("Digest "):].split(","))
            params = {k: v.strip('"') for k, v in params.items()}
            uri = f"sip:{HOST}:{self.server[1]}"
            ha1 = hashlib.md5(f"{self.op_id}:{params['realm']}:{self.password}".encode()).hexdigest()
            ha2 = hashlib.md5(f"REGISTER:{uri}".encode()).hexdigest()
            cnonce = "%x" % random.getrandbits(32)
            resp = hashlib.md5(f"{ha1}:{params['nonce']}:00000001:{cnonce}:auth:{ha2}".encode()).hexdigest()
            auth = (f'Authorization: Digest username="{self.op_id}", realm="{params["realm"]}", '
                    f'nonce="{params["nonce"]}", uri="{uri}", response="{resp}", algorithm=MD5, '
                    f'qop=auth, nc=00000001, cnonce="{cnonce}"\r\n')
        raise SystemExit("probe: REGISTER refused")

    def answer(self, start, headers, body):
        """Our operator side answers the server's INVITE (and any re-INVITE) with 200."""
        to = h(headers, "to")
        if ";tag=" not in to:
            to += ";tag=o" + self.tag
        vias = "".join(f"Via: {v}\r\n" for v in headers.get("via", []))
        sdp = self.sdp(self.op_rtp.getsockname()[1])
        self.send(f"SIP/2.0 200 OK\r\n{vias}From: {h(headers, 'from')}\r\nTo: {to}\r\n"
                  f"Call-ID: {h(headers, 'call-id')}\r\nCSeq: {h(headers, 'cseq')}\r\n"
                  f"Contact: <sip:{self.op_id}@{HOST}:{self.port}>\r\nContent-Type: application/sdp\r\n"
                  f"Content-Length: {len(sdp)}\r\n\r\n{sdp}")
        self.server_rtp["operator"] = rtp_target(body) or self.server_rtp.get("operator")

    def reply_ok(self, headers):
        vias = "".join(f"Via: {v}\r\n" for v in headers.get("via", []))
        self.send(f"SIP/2.0 200 OK\r\n{vias}From: {h(headers, 'from')}\r\nTo: {h(headers, 'to')}\r\n"
                  f"Call-ID: {h(headers, 'call-id')}\r\nCSeq: {h(headers, 'cseq')}\r\nContent-Length: 0\r\n\r\n")

    def call(self):
        """Dials the line; returns once our own operator side has answered the bridge."""
        self.call_id = f"probe-{random.getrandbits(48):x}"
        sdp = self.sdp(self.caller_rtp.getsockname()[1])
        self.invite_via = self.via()
        self.send(f"INVITE sip:792112@{HOST}:{self.server[1]} SIP/2.0\r\nVia: {self.invite_via}\r\n"
                  f"From: <sip:+79110000000@{HOST}>;tag={self.tag}\r\nTo: <sip:792112@{HOST}>\r\n"
                  f"Call-ID: {self.call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:probe@{HOST}:{self.port}>\r\n"
                  f"Max-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n{sdp}")
        deadline = time.monotonic() + 60
        bridged = False
        while not bridged:
            start, headers, body = self.recv(deadline)
            if start.startswith("SIP/2.0 200") and "INVITE" in h(headers, "cseq"):
                self.caller_to = h(headers, "to")
                self.server_rtp["caller"] = rtp_target(body)
                contact = h(headers, "contact").strip("<>").split(">")[0]
                self.remote_target = contact
                self.send(f"ACK {contact} SIP/2.0\r\nVia: {self.via()}\r\n"
                          f"From: <sip:+79110000000@{HOST}>;tag={self.tag}\r\nTo: {self.caller_to}\r\n"
                          f"Call-ID: {self.call_id}\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
            elif start.startswith("INVITE "):
                self.answer(start, headers, body)
                bridged = True
            elif start.startswith(("OPTIONS ", "UPDATE ", "INFO ")):
                self.reply_ok(headers)

    def rtp_sender(self):
        seq = 0
        ssrc = random.getrandbits(32)
        next_at = time.monotonic()
        while not self.stop.is_set():
            for sock, target in ((self.caller_rtp, self.server_rtp.get("caller")),
                                 (self.op_rtp, self.server_rtp.get("operator"))):
                if target:
                    stamp = struct.pack("!Q", time.time_ns())
                    payload = stamp + bytes([0x55]) * 152
                    header = struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, (seq * 160) & 0xFFFFFFFF, ssrc)
                    sock.sendto(header + payload, target)
            seq += 1
            next_at += 0.02
            time.sleep(max(0.0, next_at - time.monotonic()))

    def rtp_receiver(self, sock, direction):
        while not self.stop.is_set():
            try:
                data, anc, _, _ = sock.recvmsg(2048, socket.CMSG_SPACE(16))
            except socket.timeout:
                continue
            if len(data) < 20:
                continue
            arrived = None
            for level, kind, value in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", value[:16])
                    arrived = sec * 1_000_000_000 + nsec
            sent = struct.unpack("!Q", data[12:20])[0]
            # Prompts and music carry no stamp of ours: only our own packets count.
            if arrived and 0 < arrived - sent < 10_000_000_000:
                self.delays[direction].append((arrived, (arrived - sent) / 1e6))

    def sip_loop(self):
        while not self.stop.is_set():
            try:
                data, _ = self.sip.recvfrom(65535)
            except socket.timeout:
                continue
            start, headers, body = parse(data)
            if start.startswith("INVITE "):
                self.answer(start, headers, body)
            elif start.startswith(("BYE ", "OPTIONS ", "UPDATE ", "INFO ")):
                self.reply_ok(headers)

    def hang_up(self):
        self.send(f"BYE {self.remote_target} SIP/2.0\r\nVia: {self.via()}\r\n"
                  f"From: <sip:+79110000000@{HOST}>;tag={self.tag}\r\nTo: {self.caller_to}\r\n"
                  f"Call-ID: {self.call_id}\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")


def rtp_target(body):
    addr, port = HOST, None
    for line in body.split("\r\n"):
        if line.startswith("c=IN IP4 "):
            addr = line.split()[-1]
        elif line.startswith("m=audio "):
            port = int(line.split()[1])
    return (addr, port) if port else None


def windows(delays, marks):
    """The delays split by the marks: before the calls began to end (the top level, which
    includes the calls' set-up), the steady window, and the calls' end."""
    steady_at = marks[0] if marks else math.inf
    end_at = marks[1] if len(marks) > 1 else math.inf
    before = [d for t, d in delays if t < end_at]
    steady = [d for t, d in delays if steady_at <= t < end_at]
    ending = [d for t, d in delays if t >= end_at]
    return before, {"steady": steady, "ending": ending}


def summary(delays):
    if not delays:
        return {"packets": 0}
    d = sorted(delays)
    pick = lambda p: round(d[min(len(d) - 1, int(p * len(d)))], 3)
    return {"packets": len(d), "delay_ms_min": round(d[0], 3), "delay_ms_p50": pick(0.5),
            "delay_ms_p99": pick(0.99), "delay_ms_max": round(d[-1], 3),
            "added_jitter_ms_p99": round(pick(0.99) - d[0], 3)}


def main():
    server_port, op_id, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    limit = float(os.environ.get("PROBE_LIMIT", "900"))
    probe = Probe(server_port, op_id, password, limit)
    probe.register()
    print("registered", flush=True)
    # Wait to be told to dial (SIGUSR1), so the probe's operator is the longest idle one.
    go = threading.Event()
    signal.signal(signal.SIGUSR1, lambda *_: go.set())
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGUSR2, lambda *_: probe.marks.append(time.time_ns()))
    go.wait(limit)
    probe.call()
    print("bridged", flush=True)
    threads = [threading.Thread(target=probe.rtp_sender, daemon=True),
               threading.Thread(target=probe.sip_loop, daemon=True),
               threading.Thread(target=probe.rtp_receiver, args=(probe.op_rtp, "caller_to_operator"), daemon=True),
               threading.Thread(target=probe.rtp_receiver, args=(probe.caller_rtp, "operator_to_caller"), daemon=True)]
    for t in threads:
        t.start()
    done.wait(limit)
    probe.stop.set()
    for t in threads:
        t.join(timeout=2)
    probe.hang_up()
    result = {"windows": {"steady": {}, "ending": {}}}
    for direction, delays in probe.delays.items():
        before, parts = windows(delays, probe.marks)
        result[direction] = summary(before)
        for name, part in parts.items():
            result["windows"][name][direction] = summary(part)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
