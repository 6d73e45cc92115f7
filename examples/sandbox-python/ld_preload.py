# Get code into later workers: a preload for every process, or a library where later workers
# look for theirs.
import argparse, json, os
a = argparse.ArgumentParser(); a.add_argument("--results"); a.add_argument("--cache"); a.add_argument("--home")
a.parse_args()
def attempt(tried, f):
    try:
        f()
        outcome = "succeeded"
    except Exception as e:
        outcome = f"refused: {type(e).__name__}: {e}"
    print(json.dumps({"tried": tried, "outcome": outcome}), flush=True)
attempt("write /etc/ld.so.preload", lambda: open("/etc/ld.so.preload", "a").write("/tmp/evil.so\n"))
for d in [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(":") if p] + ["/usr/lib", "/usr/local/lib"]:
    attempt(f"drop a library into {d}", lambda d=d: open(os.path.join(d, "libevil.so"), "w").write("x"))
