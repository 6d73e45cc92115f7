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
attempt("fork a child that outlives the worker", child)
attempt("leave the process group (setsid)", os.setsid)
attempt("double-fork a daemon", daemon)
