# Leave processes behind: a child, a double-forked daemon in a new session, each sleeping for
# minutes (to read later inputs, or to hold the GPU).
import argparse, json, os, time
a = argparse.ArgumentParser(); a.add_argument("--results"); a.add_argument("--cache"); a.add_argument("--home")
a.parse_args()
def attempt(tried, f):
    try:
        f()
        outcome = "succeeded"
    except Exception as e:
        outcome = f"refused: {type(e).__name__}: {e}"
    print(json.dumps({"tried": tried, "outcome": outcome}), flush=True)
def child():
    if os.fork() == 0:
        time.sleep(600)
        os._exit(0)
def daemon():
    if os.fork() == 0:
        try:
            os.setsid()
        finally:
            if os.fork() == 0:
                time.sleep(600)
            os._exit(0)
def own_group():
    # A child that makes itself a process group of its own (as ninja does for each job), to
    # escape the kill of the worker's group. setpgid answers success and does nothing.
    pid = os.fork()
    if pid == 0:
        try:
            os.setpgid(0, 0)
            time.sleep(600)
        finally:
            os._exit(0)
    time.sleep(0.5)
    # Reported as an attempt of its own: a child outside the group is not killed with it.
    left = os.getpgid(pid) != os.getpgid(0)
    outcome = f"succeeded: the child is in group {os.getpgid(pid)}" if left else "refused: the child is still in the worker's group"
    print(json.dumps({"tried": "keep a child outside the worker's group", "outcome": outcome}), flush=True)
def build_job():
    # What building a torch extension needs while the candidate loads: ninja starts each job
    # with posix_spawn in a process group of its own.
    pid = os.posix_spawn("/bin/sh", ["sh", "-c", "exit 0"], {}, setpgroup=0)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        raise RuntimeError(f"the job ended with status {status}")
attempt("needed: run a build job as ninja does (posix_spawn, a group of its own)", build_job)
attempt("fork a child that outlives the worker", child)
attempt("fork a child that leaves the process group (setpgid)", own_group)
attempt("leave the process group (setsid)", os.setsid)
attempt("double-fork a daemon", daemon)
