#!/usr/bin/env python3
"""Prints the pool benchmark tables in pool/README.md from criterion's own results.

Run `cargo bench -p slackwater-pool` first; this reads each contender's median
(target/criterion/<group>/<contender>/<size>/new/estimates.json, `median.point_estimate`,
nanoseconds per get+put) and prints one Markdown table per group, with the global pool's
speed-up over the fastest peer in the last column.
"""
import json
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "criterion")
CONTENDERS = [
    ("slackwater-static", "slackwater-static"),
    ("slackwater-owned", "slackwater-owned"),
    ("system-alloc", "system-alloc"),
    ("arrayqueue-pool", "arrayqueue"),
    ("epoch-treiber-pool", "epoch-treiber"),
    ("mutex-vec-pool", "mutex-vec"),
    ("spin-mutex-vec-pool", "spin-mutex-vec"),
]
PEERS = [c for c in CONTENDERS if not c[0].startswith("slackwater")]
SIZES = [(256, "256 B"), (4096, "4 KiB"), (16384, "16 KiB"), (32768, "32 KiB"), (1048576, "1 MiB")]
GROUPS = [("get_put_1thread", "one thread"), ("get_put_2threads", "two threads contending (per operation, per thread)")]


def median(group, contender, size):
    p = os.path.join(ROOT, group, contender, str(size), "new", "estimates.json")
    with open(p) as f:
        return json.load(f)["median"]["point_estimate"]


def main():
    missing = []
    for group, title in GROUPS:
        print(f"**{title}** — median ns per get+put; last column: fastest peer ÷ slackwater-static")
        print()
        print("| class | " + " | ".join(label for _, label in CONTENDERS) + " | fastest peer ÷ static |")
        print("|---|" + "---:|" * len(CONTENDERS) + "---:|")
        for size, label in SIZES:
            try:
                v = {c: median(group, c, size) for c, _ in CONTENDERS}
            except FileNotFoundError as e:
                missing.append(e.filename)
                continue
            best = min(PEERS, key=lambda c: v[c[0]])
            cells = [f"**{v[c]:.1f}**" if c == "slackwater-static" else f"{v[c]:.1f}" for c, _ in CONTENDERS]
            ratio = v[best[0]] / v["slackwater-static"]
            print(f"| {label} | " + " | ".join(cells) + f" | {ratio:.2f}× ({best[1]}) |")
        print()
    if missing:
        print(f"missing results (run `cargo bench -p slackwater-pool`): {missing[0]} …", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
