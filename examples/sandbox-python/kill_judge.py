# Kill or stop the judge (the worker's parent), or its whole process group.
import argparse, json, os, signal
a = argparse.ArgumentParser(); a.add_argument("--results"); a.add_argument("--cache"); a.add_argument("--home")
a.parse_args()
def attempt(tried, f):
    try:
        f()
        outcome = "succeeded"
    except Exception as e:
        outcome = f"refused: {type(e).__name__}: {e}"
    print(json.dumps({"tried": tried, "outcome": outcome}), flush=True)
judge = os.getppid()
attempt("SIGSTOP the judge", lambda: os.kill(judge, signal.SIGSTOP))
attempt("SIGKILL the judge", lambda: os.kill(judge, signal.SIGKILL))
attempt("SIGKILL the judge's process group", lambda: os.killpg(os.getpgid(judge), signal.SIGKILL))
attempt("SIGKILL every process it may signal (kill -1)", lambda: os.kill(-1, signal.SIGKILL))
