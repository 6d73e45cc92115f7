#!/usr/bin/env bash
# Issue 13, second part, on a lent H200: what the sandbox engages, the attacks, the bombs, the
# judge's sealed module cache, and the seed job with and without the sandbox (speedups within 1 %).
# Run from the repository root with the binary at target/release/sadoku; logs go to $OUT.
set -u
bin=target/release/sadoku
out=${OUT:?}
export SADOKU_CACHE_DIR=/tmp/sadoku-run3-cache
rm -rf "$SADOKU_CACHE_DIR"
{ date -u; nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader; uname -r; id; git rev-parse HEAD 2>/dev/null; } >"$out/run3-card.txt" 2>&1
"$bin" sandbox >"$out/run3-sandbox.txt" 2>&1; echo "exit $?" >>"$out/run3-sandbox.txt"
for i in 1 2; do
    for m in off require; do
        "$bin" review --json --sandbox "$m" >"$out/run3-seed-$m-$i.json" 2>"$out/run3-seed-$m-$i.log"
    done
done
"$bin" review --sandbox require >"$out/run3-seed-table.txt" 2>&1
"$bin" review --sandbox require examples/sandbox >"$out/run3-attacks.txt" 2>&1; echo "exit $?" >>"$out/run3-attacks.txt"
/usr/bin/time -v "$bin" review --sandbox require --compile-timeout 10 --compile-memory 1 examples/bombs examples/seed/tiled_smem.cu \
    >"$out/run3-bombs.txt" 2>"$out/run3-bombs.log"; echo "exit $?" >>"$out/run3-bombs.txt"
# The judge keeps the modules: a second review is served from its cache; a doctored entry is not.
c=/tmp/sadoku-run3-modules; rm -rf "$c"
for i in 1 2; do SADOKU_CACHE_DIR=$c "$bin" review --json examples/seed/tiled_smem.cu >"$out/run3-cache-$i.json" 2>"$out/run3-cache-$i.log"; done
ls -la "$c" "$c/modules" >"$out/run3-cache-files.txt" 2>&1
python3 - "$c" <<'PY' >>"$out/run3-cache-files.txt" 2>&1
import glob, json, sys
path = glob.glob(sys.argv[1] + "/modules/*.module")[0]
raw = open(path, "rb").read()
seal, body = raw.split(b"\n", 1)
m = json.loads(body)
m["ptx"] = m["ptx"] + "\n// planted\n"
open(path, "wb").write(seal + b"\n" + json.dumps(m).encode())
print("doctored", path)
PY
SADOKU_CACHE_DIR=$c "$bin" review --json examples/seed/tiled_smem.cu >"$out/run3-cache-3.json" 2>"$out/run3-cache-3.log"
python3 - "$out" <<'PY' >"$out/run3-summary.txt" 2>&1
import json, sys, statistics
out = sys.argv[1]
def load(p): return json.load(open(p))
for name in ["seed-off-1", "seed-require-1", "seed-off-2", "seed-require-2"]:
    r = load(f"{out}/run3-{name}.json")
    row = []
    for c in r["candidates"]:
        t = c.get("timing") or {}
        row.append(f'{c["name"]} {c["verdict"]} {t.get("speedup", "-")} sandbox={c.get("sandbox")}')
    print(name, "wall", round(r["wall_s"], 2), "s;", r["environment"][0].get("sandbox"))
    for x in row: print("   ", x)
for i in (1, 2, 3):
    r = load(f"{out}/run3-cache-{i}.json")
    c = r["candidates"][0]
    print("cache run", i, c["verdict"], "compile", c["compile"])
PY
