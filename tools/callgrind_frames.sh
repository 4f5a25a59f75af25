#!/usr/bin/env bash
# Instructions per frame read or written, counted by valgrind's callgrind (a measure this
# machine's noise does not move): h2frame's `FrameReader` and the bare `BufReader` loop reading
# the frame benchmark's streams, and `FrameWriter` encoding their frames into a warm
# `Vec<u8>`. Each runs with 20 and 40 passes; the difference is divided by 20 passes' frames,
# so that building the stream and the process's setup cancel out.
#
#   bash tools/callgrind_frames.sh        (from the repository root; needs valgrind)
set -euo pipefail
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
cargo build -q --release -p slackwater-h2frame --example frame_loop
bin=target/release/examples/frame_loop
instructions() { # stream reader passes
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$@" 2>&1 >/dev/null |
        awk '/Collected :/ { print $NF }'
}
printf '%-8s %-11s %s\n' stream reader "instructions per frame"
for stream in control data16k; do
    frames=$("$bin" "$stream" bare 1)
    for reader in slackwater bare write; do
        lo=$(instructions "$stream" "$reader" 20)
        hi=$(instructions "$stream" "$reader" 40)
        printf '%-8s %-11s %s\n' "$stream" "$reader" \
            "$(awk -v a="$lo" -v b="$hi" -v f="$frames" 'BEGIN { printf "%.1f", (b - a) / (20 * f) }')"
    done
done
