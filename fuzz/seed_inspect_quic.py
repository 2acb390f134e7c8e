#!/usr/bin/env python3
"""Seeds for the `inspect_quic` fuzz target, written to corpus/inspect_quic/ (from fuzz/).

The target reads records `[control, length (u16 LE), bytes]` (see
fuzz_targets/inspect_quic.rs): control bit 0 client, bit 1 sealed plaintext frames,
bit 2 version 2, bit 3 second DCID, bits 4-5 packet number length - 1, bit 7 coalesced.

Seeds:
- raw: the first 8 UDP datagrams of every QUIC connection tshark shows in a few shared
  captures (v1, v2, Retry, version negotiation, a ClientHello over several Initials),
  each as a raw record, client bit from the side that sent the first datagram;
- sealed: the ClientHello of RFC 9001 appendix A.2 in CRYPTO frames, whole, in two
  pieces, in two pieces out of order and coalesced, in v2; and the server's ACK + CRYPTO
  ServerHello of appendix A.3 after it.
"""

import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PCAPS = os.path.join(HERE, "..", "..", "shared", "pcaps")
OUT = os.path.join(HERE, "corpus", "inspect_quic")

CAPTURES = [
    "real/ja4/pcap__quic-tls-handshake.pcapng",
    "real/nDPI/tests__cfgs__default__pcap__quic-v2.pcapng",
    "edge/tcpdump/tests__quic_retry.pcap",
    "edge/tcpdump/tests__quic_vn.pcap",
    "edge/tcpdump/tests__quic_handshake.pcap",
    "edge/nDPI/tests__cfgs__default__pcap__quic_frags_ch_in_multiple_packets.pcapng",
    "edge/wireshark/test__captures__quic-fragmented-handshakes.pcapng",
    "real/retina/traces__quic_kyber.pcapng",
]

# RFC 9001 A.2: the CRYPTO frame's data (a ClientHello); A.3: the server's plaintext.
CLIENT_HELLO = bytes.fromhex(
    "010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e86804fe3a47f06a2b69484c"
    "00000413011302010000c000000010000e00000b6578616d706c652e636f6dff01000100000a"
    "00080006001d0017001800100007000504616c706e000500050100000000003300260024001d"
    "00209370b2c9caa47fbabaf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b0003"
    "020304000d0010000e0403050306030203080408050806002d00020101001c00024001003900"
    "320408ffffffffffffffff05048000ffff07048000ffff0801100104800075300901100f0883"
    "94c8f03e51570806048000ffff"
)
SERVER_PLAIN = bytes.fromhex(
    "02000000000600405a020000560303eefce7f7b37ba1d1632e96677825ddf73988cfc79825df"
    "566dc5430b9a045a1200130100002e00330024001d00209d3c940d89690b84d08a60993c144e"
    "ca684d1081287c834d5311bcf32bb9da1a002b00020304"
)


def record(control, data):
    return bytes([control]) + struct.pack("<H", len(data)) + data


def crypto(offset, data):
    return bytes([6]) + struct.pack(">I", 0x80000000 | offset) + struct.pack(">H", 0x4000 | len(data)) + data


def raw_seeds():
    seeds = []
    for rel in CAPTURES:
        path = os.path.join(PCAPS, rel)
        if not os.path.exists(path):
            print(f"missing {rel}", file=sys.stderr)
            continue
        out = subprocess.run(
            ["tshark", "-r", path, "-n", "-Y", "udp", "-T", "fields", "-E", "occurrence=l",
             "-e", "ip.src", "-e", "ipv6.src", "-e", "udp.srcport", "-e", "ip.dst",
             "-e", "ipv6.dst", "-e", "udp.dstport", "-e", "udp.payload"],
            capture_output=True, text=True,
        ).stdout
        connections = {}
        for line in out.splitlines():
            f = line.split("\t")
            if len(f) < 7 or not f[6]:
                continue
            src, dst = (f[0] + f[1], f[2]), (f[3] + f[4], f[5])
            key = tuple(sorted([src, dst]))
            connections.setdefault(key, []).append((src, bytes.fromhex(f[6])))
        for datagrams in connections.values():
            client = datagrams[0][0]
            data = b"".join(record(int(src == client), d) for src, d in datagrams[:8])
            seeds.append(data)
    return seeds


def sealed_seeds():
    pad = bytes(900)
    a, b = CLIENT_HELLO[:100], CLIENT_HELLO[100:]
    server = record(0x02 | 0x10, SERVER_PLAIN)
    return [
        record(0x03 | 0x30, crypto(0, CLIENT_HELLO) + pad) + server,
        record(0x03, crypto(0, a) + pad) + record(0x03, crypto(100, b) + pad) + server,
        record(0x03, crypto(100, b)) + record(0x83, crypto(0, a) + pad) + server,
        record(0x07, crypto(0, CLIENT_HELLO) + pad) + record(0x06, SERVER_PLAIN),
        record(0x03, crypto(0, a) + pad) + record(0x0b, crypto(0, CLIENT_HELLO) + pad)
        + record(0x0a, SERVER_PLAIN),
    ]


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = raw_seeds() + sealed_seeds()
    for i, s in enumerate(seeds):
        with open(os.path.join(OUT, f"seed-{i:03}"), "wb") as f:
            f.write(s)
    print(f"{len(seeds)} seeds in {OUT}")


if __name__ == "__main__":
    main()
