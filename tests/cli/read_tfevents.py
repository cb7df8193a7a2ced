#!/usr/bin/env python3
"""An independent reader of TensorBoard event files, written from the record format and the
protobuf definitions (tensorflow/core/util/event.proto, tensorflow/core/framework/summary.proto)
with nothing but the standard library, to check what `yolite train` writes.

  read_tfevents.py RUN_DIR [--images TAG ...]

Checks: every record's length and data CRC-32C (masked), the first event is file_version
"brain.Event:2", every scalar of RUN_DIR/results.csv is in the events under its column name at
step = epoch (to the 5 significant digits results.csv keeps), and each --images TAG is an image
event whose bytes are a JPEG or PNG of the stated size. Exit status 0 when all hold.
"""
import glob
import os
import struct
import sys


def crc32c_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


TABLE = crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def records(path):
    with open(path, "rb") as f:
        buf = f.read()
    pos = 0
    while pos < len(buf):
        if pos + 12 > len(buf):
            raise ValueError(f"{path}: truncated record header at byte {pos}")
        header = buf[pos:pos + 8]
        (n,) = struct.unpack("<Q", header)
        (hcrc,) = struct.unpack("<I", buf[pos + 8:pos + 12])
        if hcrc != masked(header):
            raise ValueError(f"{path}: bad length checksum at byte {pos}")
        data = buf[pos + 12:pos + 12 + n]
        (dcrc,) = struct.unpack("<I", buf[pos + 12 + n:pos + 16 + n])
        if len(data) != n or dcrc != masked(data):
            raise ValueError(f"{path}: bad data checksum at byte {pos}")
        yield data
        pos += 16 + n


def fields(msg):
    """(field number, wire type, value) of one protobuf message."""
    pos = 0

    def varint():
        nonlocal pos
        v, shift = 0, 0
        while True:
            b = msg[pos]
            pos += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return v

    while pos < len(msg):
        key = varint()
        num, wire = key >> 3, key & 7
        if wire == 0:
            yield num, wire, varint()
        elif wire == 1:
            yield num, wire, msg[pos:pos + 8]
            pos += 8
        elif wire == 5:
            yield num, wire, msg[pos:pos + 4]
            pos += 4
        elif wire == 2:
            n = varint()
            yield num, wire, msg[pos:pos + n]
            pos += n
        else:
            raise ValueError(f"unsupported wire type {wire}")


def parse_event(data):
    ev = {"step": 0, "values": []}
    for num, wire, v in fields(data):
        if num == 1 and wire == 1:
            ev["wall_time"] = struct.unpack("<d", v)[0]
        elif num == 2 and wire == 0:
            ev["step"] = v
        elif num == 3 and wire == 2:
            ev["file_version"] = v.decode()
        elif num == 5 and wire == 2:  # Summary
            for snum, _, sv in fields(v):
                if snum != 1:
                    continue
                value = {}
                for vnum, vwire, x in fields(sv):  # Summary.Value
                    if vnum == 1:
                        value["tag"] = x.decode()
                    elif vnum == 2 and vwire == 5:
                        value["simple_value"] = struct.unpack("<f", x)[0]
                    elif vnum == 4:  # Summary.Image
                        img = {}
                        for inum, _, y in fields(x):
                            img[{1: "height", 2: "width", 3: "colorspace", 4: "encoded"}.get(inum, inum)] = y
                        value["image"] = img
                ev["values"].append(value)
    return ev


def main():
    run = sys.argv[1]
    want_images = sys.argv[sys.argv.index("--images") + 1:] if "--images" in sys.argv else []
    files = sorted(glob.glob(os.path.join(run, "events.out.tfevents.*")))
    if not files:
        sys.exit(f"FAIL: no events.out.tfevents.* in {run}")
    scalars, images, n = {}, {}, 0
    for f in files:
        for i, data in enumerate(records(f)):
            ev = parse_event(data)
            n += 1
            if i == 0 and ev.get("file_version") != "brain.Event:2":
                sys.exit(f"FAIL: {f}: the first event is not file_version brain.Event:2")
            for v in ev["values"]:
                if "simple_value" in v:
                    scalars[(v["tag"], ev["step"])] = v["simple_value"]
                if "image" in v:
                    images[v["tag"]] = (ev["step"], v["image"])
    with open(os.path.join(run, "results.csv")) as f:
        lines = [l for l in f.read().splitlines() if l.strip()]
    cols = [c.strip() for c in lines[0].split(",")]
    checked = 0
    for line in lines[1:]:
        vals = [float(x) for x in line.split(",")]
        epoch = int(vals[0])
        for c, v in zip(cols[1:], vals[1:]):
            got = scalars.get((c, epoch))
            if got is None:
                sys.exit(f"FAIL: no scalar '{c}' at step {epoch} in the events")
            if abs(got - v) > 1e-4 * abs(v) + 1e-9:
                sys.exit(f"FAIL: '{c}' at step {epoch}: events {got!r}, results.csv {v!r}")
            checked += 1
    for tag in want_images:
        if tag not in images:
            sys.exit(f"FAIL: no image '{tag}' in the events (have: {sorted(images)})")
        step, img = images[tag]
        enc = img.get("encoded", b"")
        if not (enc.startswith(b"\xff\xd8") or enc.startswith(b"\x89PNG")):
            sys.exit(f"FAIL: image '{tag}' is not a JPEG or PNG")
        if img.get("width", 0) <= 0 or img.get("height", 0) <= 0:
            sys.exit(f"FAIL: image '{tag}' has no size")
    print(f"ok: {len(files)} event file(s), {n} events, all {checked} scalars of results.csv "
          f"({len(lines) - 1} epochs x {len(cols) - 1} columns) found, {len(want_images)} images checked")


if __name__ == "__main__":
    main()
