#!/usr/bin/env python3
"""Seeds fuzz/corpus/ from ../shared/pcaps (run from fuzz/). The corpus is git-ignored:
never commit it, the captures belong to others.

- capture_file: b"\\0" (delivery mode: whole reads) + the first 16 KiB of every capture;
- decode_frame: from classic pcaps, one frame per (link type, length // 64, bytes 12..14
  for Ethernet or the first two otherwise), prefixed with its original length and link
  type as little-endian u32s, frame cut at 2 KiB;
- config_parse: probe.toml.example and docker/probe.toml;
- export_round_trip: two files of random bytes (the input is only a source of choices).
"""
import hashlib
import os
import shutil
import struct

ROOT = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "pcaps"))
if not os.path.isdir(ROOT):
    ROOT = os.path.realpath("../../shared/pcaps")
for t in ("capture_file", "decode_frame", "export_round_trip", "config_parse"):
    os.makedirs(f"corpus/{t}", exist_ok=True)


def put(target, data):
    with open(f"corpus/{target}/{hashlib.sha1(data).hexdigest()}", "wb") as f:
        f.write(data)


files = sorted(
    os.path.join(d, f)
    for d, _, fs in os.walk(ROOT)
    for f in fs
    if not f.endswith((".tsv", ".md"))
)
frames = {}
for path in files:
    data = open(path, "rb").read()
    put("capture_file", b"\0" + data[:16384])
    if len(data) < 24:
        continue
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        continue
    lt = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    off, k = 24, 0
    while off + 16 <= len(data) and k < 20:
        _, _, incl, orig = struct.unpack(e + "IIII", data[off : off + 16])
        fr = data[off + 16 : off + 16 + incl]
        if len(fr) < incl:
            break
        key = (lt, len(fr) // 64, fr[12:14] if lt == 1 else fr[:2])
        frames.setdefault(key, struct.pack("<II", orig, lt) + fr[:2048])
        off += 16 + incl
        k += 1
for v in frames.values():
    put("decode_frame", v)
for cfg in ("../probe.toml.example", "../docker/probe.toml"):
    if os.path.exists(cfg):
        shutil.copy(cfg, f"corpus/config_parse/{os.path.basename(cfg)}")
put("export_round_trip", os.urandom(4096))
put("export_round_trip", os.urandom(512))
print(f"{len(files)} captures, {len(frames)} frames")
