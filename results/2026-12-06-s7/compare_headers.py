"""Compare builds with the lean <torch/extension.h> and with PyTorch's own (session 7, lean.sh).

``compare_headers.py LEAN.jsonl FULL.jsonl EXTENSION_ROOT``: per kernel judged both ways, the two
verdicts (and reasons, speedups); per build record held in both of EXTENSION_ROOT's stores, whether
the two libraries have the same device code (``cuobjdump -sass``, blank lines aside) and the same
exported symbols (``nm -D --defined-only``); and how many lean builds fell back to PyTorch's own.
"""

import json
import pathlib
import subprocess
import sys


def rows(path):
    out = {}
    for line in open(path):
        r = json.loads(line)
        speedup = (r.get("timing") or {}).get("speedup")
        out[r["name"]] = (r["verdict"], (r.get("reason") or "")[:70], speedup)
    return out


def run(*args):
    """The command's non-blank output lines (but the source file's name, which holds the build
    directory's), or None where it fails."""
    try:
        done = subprocess.run(args, capture_output=True, text=True)
    except OSError:
        return None
    if done.returncode != 0:
        return None
    return [line for line in done.stdout.splitlines() if line.strip() and "identifier" not in line]


def main():
    lean, full, root = rows(sys.argv[1]), rows(sys.argv[2]), pathlib.Path(sys.argv[3])
    both = sorted(set(lean) & set(full))
    same = [n for n in both if lean[n][:2] == full[n][:2]]
    print(f"kernels judged both ways: {len(both)}; same verdict and reason: {len(same)}")
    for n in both:
        mark = "same" if n in same else "DIFFERENT"
        print(f"  {mark} {n}: lean {lean[n]} | full {full[n]}")
    stores = {}
    for store in root.glob("store-*"):
        for entry in store.iterdir():
            said = entry / ".sadoku-build.json"
            if said.is_file():
                stores.setdefault(entry.name, []).append((json.loads(said.read_text()), entry))
    lean_built = [s for entries in stores.values() for s, _ in entries if s.get("torch_headers") == "lean"]
    fell = [s for entries in stores.values() for s, _ in entries if "lean_failed" in s]
    print(f"entries built with the lean header: {len(lean_built)}; fell back to PyTorch's own: {len(fell)}")
    for s in fell:
        print(f"  fell back: {s['lean_failed']}")
    pairs = [v for v in stores.values() if len(v) == 2]
    sass_same = symbols_same = 0
    for (a, da), (b, db) in pairs:
        libs = [next(d.glob("*.so"), None) for d in (da, db)]
        if None in libs:
            print(f"  {da.name}: no library in one of the stores")
            continue
        sass = [run("cuobjdump", "-sass", str(lib)) for lib in libs]
        syms = [run("nm", "-D", "--defined-only", str(lib)) for lib in libs]
        ok_sass = sass[0] is not None and sass[0] == sass[1]
        ok_syms = syms[0] is not None and sorted(syms[0]) == sorted(syms[1])
        sass_same += ok_sass
        symbols_same += ok_syms
        lines = len(sass[0] or [])
        how = f"{a.get('torch_headers')} vs {b.get('torch_headers')}"
        print(f"  {da.name} ({how}): sass {'same' if ok_sass else 'DIFFERENT'} ({lines} lines), ", end="")
        print(f"symbols {'same' if ok_syms else 'DIFFERENT'}")
        if not ok_sass and sass[0] and sass[1]:
            first = next((x for x in zip(sass[0], sass[1]) if x[0] != x[1]), None)
            print(f"    first difference: {first}")
    print(f"records built both ways: {len(pairs)}; same device code: {sass_same}; ", end="")
    print(f"same exported symbols: {symbols_same}")


main()
