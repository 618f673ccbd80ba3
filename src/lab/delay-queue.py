#!/usr/bin/env python3
# The lab's delay line for kernels without sch_netem: binds NFQUEUE number QUEUE (in the
# namespace it runs in, the lab's switch namespace), holds every packet the kernel queues to it
# for DELAY_MS, then lets it through (NF_ACCEPT), in arrival order. Plain netlink, no libraries.
# The packets come from an iptables NFQUEUE rule per switch port of the delayed host, which
# br_netfilter runs for bridged IPv4 frames (so they arrive as AF_INET; ARP is not delayed).
#
#   python3 delay-queue.py QUEUE DELAY_MS
#
# Prints "ready" on stdout once bound. On SIGTERM it releases every held packet and exits, after
# one line on stderr: how many packets it held and how late it let them go (a delay line starved
# of CPU holds packets longer than asked; the lab's log shows it).
# Started and stopped by src/lab/lab.ts (`degrade`, `heal`); never run it by hand on a queue
# number the lab did not give it.

import heapq
import os
import select
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2
NF_ACCEPT = 1
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS = 1, 2
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1

queue = int(sys.argv[1])
delay = float(sys.argv[2]) / 1000.0
sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
sock.bind((0, 0))
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
seq = 0


def attr(kind, payload):
    length = 4 + len(payload)
    return struct.pack('=HH', length, kind) + payload + b'\0' * ((4 - length % 4) % 4)


def message(kind, attrs, flags=NLM_F_REQUEST):
    global seq
    seq += 1
    body = struct.pack('=BBH', socket.AF_UNSPEC, 0, socket.htons(queue)) + b''.join(attrs)
    return struct.pack('=IHHII', 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | kind, flags, seq, 0) + body


def configure(attrs):
    sock.send(message(NFQNL_MSG_CONFIG, attrs, NLM_F_REQUEST | NLM_F_ACK))
    data = sock.recv(65536)
    _, kind = struct.unpack_from('=IH', data, 0)
    if kind == NLMSG_ERROR:
        err = struct.unpack_from('=i', data, 16)[0]
        if err != 0:
            sys.stderr.write('delay-queue: binding queue %d: %s\n' % (queue, os.strerror(-err)))
            sys.exit(1)


def accept(packet_id):
    sock.send(message(NFQNL_MSG_VERDICT, [attr(NFQA_VERDICT_HDR, struct.pack('!II', NF_ACCEPT, packet_id))]))


configure([attr(NFQA_CFG_CMD, struct.pack('!BBH', NFQNL_CFG_CMD_BIND, 0, socket.AF_INET))])
configure([attr(NFQA_CFG_PARAMS, struct.pack('!IB', 0, NFQNL_COPY_META))])

held = []  # (release time, arrival order, packet id)
arrivals = 0
late_max = 0.0
late_sum = 0.0
released = 0
stopping = False


def stop(_signum, _frame):
    global stopping
    stopping = True


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
sys.stdout.write('ready\n')
sys.stdout.flush()

while not stopping:
    # Never block for long: a SIGTERM only sets `stopping`, and select() is retried after it.
    timeout = 0.1 if not held else min(0.1, max(0.0, held[0][0] - time.monotonic()))
    try:
        readable, _, _ = select.select([sock], [], [], timeout)
    except InterruptedError:
        continue
    if readable:
        try:
            data = sock.recv(1 << 20)
        except OSError:  # ENOBUFS: the kernel dropped some; go on
            data = b''
        now = time.monotonic()
        off = 0
        while off + 16 <= len(data):
            length, kind = struct.unpack_from('=IH', data, off)
            if length < 16:
                break
            if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                a = off + 20
                while a + 4 <= off + length:
                    alen, akind = struct.unpack_from('=HH', data, a)
                    if alen < 4:
                        break
                    if (akind & 0x7FFF) == NFQA_PACKET_HDR:
                        arrivals += 1
                        heapq.heappush(held, (now + delay, arrivals, struct.unpack_from('!I', data, a + 4)[0]))
                    a += (alen + 3) & ~3
            off += (length + 3) & ~3
    now = time.monotonic()
    while held and held[0][0] <= now:
        due, _, packet_id = heapq.heappop(held)
        accept(packet_id)
        late = now - due
        late_max = max(late_max, late)
        late_sum += late
        released += 1

while held:
    accept(heapq.heappop(held)[2])

sys.stderr.write('delay-queue: queue %d: %d packets held %d ms, released late by %.1f ms on average, %.1f ms at most\n' % (queue, released, round(delay * 1000), (late_sum / released * 1000) if released else 0.0, late_max * 1000))
