"""How long one archive kernel's torch extension takes to build on the lent machine, alone and
beside others, and where nvcc spends it.

python results/2026-12-06-s5/probe_build.py ARCHIVE_DIR OUT_DIR: builds the first archive .cu
alone (PyTorch's own JIT, as sadoku's builder calls it), then the same file's nvcc command with
`--time` (nvcc's per-phase table), then 16 different files at once, each in its own
process; prints one line per build and the phase table.
"""

import os
import subprocess
import sys
import tempfile
import time

BUILD = r"""
import sys, time, torch
from torch.utils import cpp_extension
t = time.time()
cpp_extension._import_module_from_library = lambda *a, **k: None
cpp_extension.load(sys.argv[1], [sys.argv[2]], build_directory=sys.argv[3], verbose=len(sys.argv) > 4)
print(f"{time.time() - t:.1f}")
"""


def build(files, out, verbose=False):
    procs = []
    t0 = time.time()
    for i, f in enumerate(files):
        d = tempfile.mkdtemp(prefix="b", dir=out)
        args = [sys.executable, "-c", BUILD, f"k{i}_{len(files)}", f, d] + (["v"] if verbose else [])
        procs.append((f, d, subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
    result = []
    for f, d, p in procs:
        text, _ = p.communicate()
        result.append((os.path.basename(f), d, text))
    return time.time() - t0, result


def main():
    archive, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    files = sorted(os.path.join(archive, f) for f in os.listdir(archive) if f.endswith(".cu"))
    wall, [(name, d, text)] = build(files[:1], out, verbose=True)
    print(f"alone: {name} {wall:.1f} s", flush=True)
    with open(os.path.join(out, "verbose.txt"), "w") as f:
        f.write(text)
    # nvcc's own phase times for the same compile, from the ninja file's command.
    ninja = open(os.path.join(d, "build.ninja")).read()
    flags = next(line.split("=", 1)[1] for line in ninja.splitlines() if line.startswith("cuda_cflags ="))
    post = next((line.split("=", 1)[1] for line in ninja.splitlines() if line.startswith("cuda_post_cflags =")), "")
    # The rule's command starts with `$nvcc`, a variable of the ninja file.
    nvcc = next(line.split("=", 1)[1].strip() for line in ninja.splitlines() if line.startswith("nvcc ="))
    cmd = f"{nvcc} --time {out}/nvcc-time.csv {flags} -c {files[0]} -o {out}/probe.o {post}"
    t = time.time()
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    print(f"nvcc --time: {time.time() - t:.1f} s, exit {r.returncode} {r.stderr[-500:]}", flush=True)
    try:
        print(open(f"{out}/nvcc-time.csv").read(), flush=True)
    except OSError as e:
        print(f"no phase table: {e}")
    for n in (16,) if os.environ.get("PROBE_MANY", "1") == "1" else ():
        wall, results = build(files[1 : 1 + n], out)
        each = [float(text.strip().splitlines()[-1]) if text.strip() else -1 for _, _, text in results]
        print(f"{n} at once: wall {wall:.1f} s, each {min(each):.1f}-{max(each):.1f} s", flush=True)


main()
