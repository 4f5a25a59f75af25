#!/usr/bin/env bash
# Measures user-space bytes copied per DATA byte on the HTTP/2-over-ALTS write path (and heap
# allocations per frame): builds tools/memcpy_count.c as an LD_PRELOAD shim and runs
# demo/benches/write_path.rs under it. Needs gcc.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/memcpy_count.so
mkdir -p target
gcc -O2 -shared -fPIC -o "$out" tools/memcpy_count.c -ldl
cargo bench -p slackwater-demo --bench write_path --no-run >/dev/null 2>&1 || cargo bench -p slackwater-demo --bench write_path --no-run
bin=$(ls -t target/release/deps/write_path-* | grep -v '\.d$' | head -n 1)
LD_PRELOAD="$PWD/$out" "$bin" --bench
