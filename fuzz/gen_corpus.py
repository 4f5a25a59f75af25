#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into fuzz/corpus/<target>/.

Built from the test data the repository carries, read as it is: gRPC-Go's ALTS vectors
(alts/tests/data/alts.json) and the http2jp frame cases (h2frame/tests/data/h2-frame-cases/;
origins and licences in each tests/data/README.md). Each seed is laid out the way its target
decodes its input (see the module docs in fuzz/src/). Python 3 standard library only.
Deterministic: the same vectors give the same files, so re-running it is harmless; files
libFuzzer added to a corpus are kept.

usage: python3 fuzz/gen_corpus.py [--out DIR]
"""

import argparse
import glob
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


ALTS_JSON = os.path.join(REPO, "alts", "tests", "data", "alts.json")
H2_CASES = os.path.join(REPO, "h2frame", "tests", "data", "h2-frame-cases")


def check_data():
    if not os.path.isfile(ALTS_JSON):
        sys.exit(f"gen_corpus.py: missing {os.path.relpath(ALTS_JSON)} (the repository's ALTS vectors)")
    if not os.path.isdir(H2_CASES):
        sys.exit(f"gen_corpus.py: missing {os.path.relpath(H2_CASES)} (the repository's HTTP/2 cases)")


def u16(v):
    return struct.pack("<H", v)


def u24(v):
    return struct.pack("<I", v)[:3]


def chunks(sizes):
    """Input::chunk_sizes: count byte then one byte per size (b < 128: b + 1 bytes)."""
    out = bytes([len(sizes)])
    for s in sizes:
        out += bytes([s - 1 if s <= 128 else 127 + s // 256])
    return out


def ops(codes):
    return bytes([len(codes)]) + bytes(codes)


def alts_frame(body):
    """len (LE, counts type + body) · type 6 · body (ciphertext ‖ tag)."""
    return struct.pack("<I", 4 + len(body)) + struct.pack("<I", 6) + body


# Read methods (alts_util::drive): 0 read_on_ready, 1 try_read_ready, 2 io::Read into a
# (op >> 2) * 37 + 1 byte slice, 3/7 (try_)append into a held buffer.
ALTS_OPS = [b"\x00", bytes([0, 1, 2, 3]), bytes([2]), bytes([0x83, 0x07, 0x11, 0x05])]
DELIVERIES = [  # (flag bits, chunking)
    (0, []),
    (0x08, [1]),  # 1-byte chunks, WouldBlock before every other one
    (0x88, [3, 17, 256]),  # plus Interrupted
]


def alts_raw_seeds(alts):
    seeds = {}
    groups = {g["name"].split(" ")[0]: g for g in alts["groups"]}
    rec = groups["aes128gcm_record_crypto"]
    rekey = groups["rekey_aead"]
    neg = next(g for g in alts["groups"] if g["name"].startswith("framed-record"))
    ctr = next(g for g in alts["groups"] if g["name"].startswith("counter"))

    def seed(name, proto_rekey, reader_server, key, counter, stream, leftover=None):
        for di, (dflags, sizes) in enumerate(DELIVERIES):
            for oi, o in enumerate(ALTS_OPS[:2] if di else ALTS_OPS):
                flags = dflags | (1 if proto_rekey else 0) | (2 if reader_server else 0)
                head = b""
                if key is not None:
                    flags |= 4
                    head += key + counter
                if leftover is not None:
                    flags |= 0x10
                    head += u16(leftover)
                seeds[f"{name}-d{di}-o{oi}"] = bytes([flags]) + head + chunks(sizes) + ops(o) + stream

    # Record vectors: a frame the reading conn can open (key and counter from the vector; the
    # reader is the peer of the side the counter names).
    for v in rec["vectors"]:
        if v["expect_fail"] or v["aad_hex"]:
            continue
        key = bytes.fromhex(v["key_hex"])
        counter = bytes.fromhex(v["counter_hex"])
        body = bytes.fromhex(v["ciphertext_and_tag_hex"])
        sender_server = counter[11] & 0x80 != 0
        seed(f"aes128gcm-{v['id']}", False, not sender_server, key, counter, alts_frame(body))
    for v in rekey["vectors"]:
        if v["expect_fail"] or v["aad_hex"]:
            continue
        key = bytes.fromhex(v["key_hex"])
        counter = bytes.fromhex(v["nonce_hex"])
        body = bytes.fromhex(v["ciphertext_and_tag_hex"])
        sender_server = counter[11] & 0x80 != 0
        seed(f"rekey-{v['id']}", True, not sender_server, key, counter, alts_frame(body))
    # gRPC-Go's negative frames, as transport bytes and as handshake leftover.
    test_key = bytes.fromhex(neg["test_key_hex"])
    for f in neg["frames"]:
        wire = bytes.fromhex(f.get("frame_hex") or f["frame_header_hex"])
        if "frame_header_hex" in f:
            wire += bytes(64)  # the body that never gets read
        seed(f"neg-{f['id']}", False, True, test_key, bytes(11) + b"\x80", wire)
        seed(f"neg-{f['id']}-leftover", False, True, test_key, bytes(11) + b"\x80", wire, len(wire))
    # Counters about to roll over (the record after fails with CounterExhausted, if it opens).
    for i, v in enumerate(ctr["rollover_vectors"]):
        value = bytes.fromhex(v["value_hex"])
        rk = v["overflowLen_in_table"] == 8
        seed(f"rollover-{i}", rk, True, bytes(44 if rk else 16), value, alts_frame(bytes(40)) * 2)
    return seeds


def sealed_msgs(msgs):
    """alts_sealed messages: h < 128 literal h bytes; else ((h & 127) << 8 | next) * 8 bytes
    of a pattern seeded by the byte after."""
    out = b""
    for m in msgs:
        if isinstance(m, int):  # a pattern message of m bytes (rounded to 8)
            n = max(1, m // 8)
            out += bytes([0x80 | (n >> 8), n & 0xFF, 0x5A])
        else:
            for i in range(0, max(len(m), 1), 127):
                part = m[i : i + 127]
                out += bytes([len(part)]) + part
    return out


def alts_sealed_seeds(alts):
    seeds = {}
    groups = {g["name"].split(" ")[0]: g for g in alts["groups"]}
    plains = [bytes.fromhex(v["plaintext_hex"]) for v in groups["aes128gcm_record_crypto"]["vectors"]]
    plains += [bytes.fromhex(v["plaintext_hex"]) for v in groups["rekey_aead"]["vectors"][:8]]
    plains = [p for p in plains if p]
    ctr = next(g for g in alts["groups"] if g["name"].startswith("counter"))

    def seed(name, flags, cfg, msgs, head=b"", damage=None, sizes=(), o=b"\x00"):
        if damage is not None:
            flags |= 0x40
            head += bytes([len(damage)]) + b"".join(bytes([k]) + u24(off) + bytes([v]) for k, off, v in damage)
        seeds[name] = bytes([flags, cfg]) + head + chunks(list(sizes)) + ops(o) + sealed_msgs(msgs)

    for proto in (0, 1):
        for side in (0, 2):
            base = f"p{proto}s{side >> 1}"
            seed(f"{base}-vectors", proto | side, 0, plains)
            seed(f"{base}-empty-and-small", proto | side, 0, [b"", b"x", b"", plains[0]])
            seed(f"{base}-frame-edges", proto | side, 0, [4072, 4073, 16 * 1024])
            seed(f"{base}-16k-frames", proto | side, 1, [16 * 1024, 40 * 1024])
            seed(f"{base}-big-frame", proto | side, 3, [64 * 1024, 100])
    seed("dribble-wouldblock", 0x08, 0, plains[:3], sizes=[1], o=bytes([1, 0]))
    seed("interrupts-mixed", 0x88, 1, [5000, b"", 300], sizes=[7, 256, 1], o=bytes([0, 1, 2, 3, 0x87]))
    seed("read-limit", 0x20, 1, [100, 9000, 100], head=u24(4096))
    seed("leftover", 0x10, 0, plains[:3], head=u16(30))
    seed("flip-tag", 0, 0, plains[:3], damage=[(0, 40, 1)])
    seed("flip-type", 0, 0, plains[:3], damage=[(0, 5, 0x10)])
    seed("truncate-mid", 0, 0, plains[:3], damage=[(1, 30, 0)])
    seed("delete-insert", 0, 0, plains[:3], damage=[(2, 12, 0), (3, 50, 0x42)])
    # Starting counters from the increment and rollover tables (rollover: the writer runs out,
    # the rest of the input follows as raw bytes the reader must refuse).
    for i, v in enumerate(ctr["increment_vectors"]):
        c = bytes.fromhex(v["counter_hex"])
        proto = 1 if v["overflow_len"] == 8 else 0
        seed(f"counter-inc-{i}", 0x04 | proto, 0, plains[:2], head=c)
    for i, v in enumerate(ctr["rollover_vectors"]):
        c = bytes.fromhex(v["value_hex"])
        proto = 1 if v["overflowLen_in_table"] == 8 else 0
        seeds[f"rollover-{i}"] = (bytes([0x04 | proto, 0]) + c + chunks([]) + ops([0])
                                  + sealed_msgs([b"one", b"two", b"three"]) + alts_frame(bytes(24)))
    return seeds


def h2_cases():
    cases = {}
    for f in sorted(glob.glob(os.path.join(H2_CASES, "*", "*.json"))):
        name = os.path.relpath(f, H2_CASES)[:-5].replace(os.sep, "-")
        d = json.load(open(f))
        cases[name] = (bytes.fromhex(d["wire"]), d["error"] is None)
    return cases


def field_block(cases):
    """HEADERS without END_HEADERS, then the two CONTINUATION cases moved to its stream, the
    last one ending the block."""
    h = bytearray(cases["headers-normal"][0])
    h[4] &= ~0x04
    out = bytes(h)
    for name, end in (("continuation-header", False), ("continuation-normal", True)):
        c = bytearray(cases[name][0])
        c[5:9] = b"\x00\x00\x00\x01"
        c[4] = 0x04 if end else 0
        out += bytes(c)
    return out


def h2_decode_seeds(cases):
    seeds = {}
    for name, (wire, valid) in cases.items():
        seeds[f"{name}"] = b"\x00" + wire
        seeds[f"{name}-max16m-strict"] = b"\x07" + wire
    valid = b"".join(w for w, ok in cases.values() if ok)
    seeds["all-valid"] = b"\x01" + valid
    seeds["field-block"] = b"\x00" + field_block(cases)
    return seeds


def h2_reader_seeds(cases):
    seeds = {}
    valid = [w for w, ok in cases.values() if ok]
    stream = b"".join(w for w in valid if w[3] != 9)  # no stray CONTINUATION
    block = field_block(cases)
    # a: bit 0 server, bit 1 surface unknown, bit 2 strict padding, bits 3-4 max frame size,
    #    bits 5-7 read buffer size (0: 64 B, 2: 256 B, 6: 32 KiB).
    # b: bits 0-1 continuation limits, bits 2-3 copy-out ratio, bit 4 WouldBlock, bit 5 EINTR.
    def seed(name, a, b, data, sizes=(), o=(0,)):
        seeds[name] = bytes([a, b]) + chunks(list(sizes)) + ops(list(o)) + data

    for side in (0, 1):
        pre = PREFACE if side else b""
        tag = "server" if side else "client"
        for name, (wire, _) in cases.items():
            seed(f"{tag}-{name}", side | 6 << 5, 0, pre + wire)
        seed(f"{tag}-all-valid", side | 6 << 5, 0, pre + stream + block)
        seed(f"{tag}-all-valid-dribble", side | 0 << 5, 0x10, pre + stream + block, sizes=[1], o=(1, 0))
        seed(f"{tag}-all-valid-mixed", side | 2 << 5 | 2, 0x14, pre + stream + block, sizes=[5, 300, 2], o=(1, 1, 0))
        seed(f"{tag}-block-limits", side | 2 << 5, 0x12, pre + block + block, sizes=[9])
    # A frame larger than half the read buffer, then the start of another large one.
    data = cases["data-normal"][0]
    big = b"\x00\x03\xe8\x00\x00\x00\x00\x00\x01" + (data[9:] * 60)[:1000]
    seed("large-then-partial", 2 << 5, 0x10, big + big[:30], sizes=[1009, 20], o=(1,))
    seed("bad-preface-http1", 1 | 6 << 5, 0, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    seed("bad-preface-pri11", 1 | 6 << 5, 0, b"PRI * HTTP/1.1\r\n\r\n", sizes=[4])
    return seeds


def pool_ops_seeds():
    """pool_ops: config byte, per class u16 size + retention byte, then op bytes."""
    def cfg(classes, zeroing=False):
        return bytes([len(classes) | (0x80 if zeroing else 0)]) + b"".join(u16(s) + bytes([r]) for s, r in classes)

    def get(i, n):  # bit 7 of the op byte: n × 4
        return bytes([0x80, i]) + u16(n // 4) if n > 0xFFFF else bytes([0, i]) + u16(n)

    ext = lambda i, n: bytes([3, i, n])
    adv = lambda i, n: bytes([5, i]) + u16(n)
    trunc = lambda i, n: bytes([6, i]) + u16(n)
    compact = lambda i: bytes([7, i])
    clear = lambda i: bytes([8, i])
    write = lambda i, n: bytes([9, i]) + u16(n)
    freeze = lambda i: bytes([10, i])
    slc = lambda kind, i, a, e: bytes([11 | kind << 5, i]) + u16(a) + u16(e)
    split = lambda i, at: bytes([13, i]) + u16(at)
    vadv = lambda i, n: bytes([14, i]) + u16(n)
    vdrop = lambda i: bytes([15, i])
    drop = lambda i: bytes([2, i])
    trim = bytes([16, 0])
    huge = bytes([17, 0])
    drop_pool = bytes([17, 1])
    grpc = cfg([(256, 2), (4096, 2), (16384, 1), (32768, 1)])
    life = (get(0, 100) + ext(0, 50) + adv(0, 10) + compact(0) + trunc(0, 20) + write(0, 300)
            + get(0, 5000) + ext(1, 200) + freeze(1) + slc(0, 0, 5, 40) + slc(6, 0, 0, 0)
            + split(1, 7) + vadv(0, 3) + vdrop(0) + vdrop(0) + clear(0) + drop(0) + trim)
    return {
        "grpc-classes-lifecycle": grpc + life,
        "zeroing-lifecycle": cfg([(64, 1), (1000, 3)], zeroing=True) + life,
        "unpooled-and-huge": cfg([(512, 0)]) + get(0, 40000) + ext(0, 255) + freeze(0) + huge + trim,
        "retention-overflow": grpc + get(0, 10) * 6 + drop(0) * 6 + trim,
        "drop-pool-early": grpc + get(0, 300) + ext(0, 9) + get(0, 70000) + freeze(0) + slc(5, 0, 0, 0) + drop_pool + vdrop(0) + drop(0),
        "bad-configs": cfg([(4096, 1), (256, 1)]) + get(0, 1),
        "no-classes": cfg([]) + get(0, 1),
        "too-many-classes": cfg([(i * 100 + 1, 1) for i in range(9)]) + get(0, 1),
        "retention-too-large": cfg([(256, 255)]) + get(0, 1),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(HERE, "corpus"))
    args = ap.parse_args()
    check_data()
    alts = json.load(open(ALTS_JSON))
    cases = h2_cases()
    targets = {
        "alts_raw": alts_raw_seeds(alts),
        "alts_sealed": alts_sealed_seeds(alts),
        "h2_decode": h2_decode_seeds(cases),
        "h2_reader": h2_reader_seeds(cases),
        "pool_ops": pool_ops_seeds(),
    }
    for t, seeds in targets.items():
        d = os.path.join(args.out, t)
        os.makedirs(d, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(d, f"seed-{name}"), "wb") as f:
                f.write(data)
        print(f"{t}: {len(seeds)} seeds in {os.path.relpath(d)}")


if __name__ == "__main__":
    main()
