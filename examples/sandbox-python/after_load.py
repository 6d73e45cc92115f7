# What a candidate could do once loaded, when its calls are being timed: start a helper process or
# a program (a compiler, a shell). The bridge installs the worker's strict filter once the
# candidate is loaded (here: as it does), after which neither is possible.
import argparse, json, os, subprocess, sys
import sadoku_confine
a = argparse.ArgumentParser(); a.add_argument("--results"); a.add_argument("--cache"); a.add_argument("--home")
a.parse_args()
def attempt(tried, f):
    try:
        f()
        outcome = "succeeded"
    except Exception as e:
        outcome = f"refused: {type(e).__name__}: {e}"
    print(json.dumps({"tried": tried, "outcome": outcome}), flush=True)
sadoku_confine.install(os.path.join(os.environ["TMPDIR"], "seccomp.bpf"))
def fork():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
attempt("fork once loaded", fork)
attempt("run a program once loaded", lambda: subprocess.run(["/bin/true"], check=True))
