# Read the judging user's SSH keys and home directory.
import argparse, json, os
a = argparse.ArgumentParser(); a.add_argument("--results"); a.add_argument("--cache"); a.add_argument("--home")
args = a.parse_args()
def attempt(tried, f):
    try:
        f()
        outcome = "succeeded"
    except Exception as e:
        outcome = f"refused: {type(e).__name__}: {e}"
    print(json.dumps({"tried": tried, "outcome": outcome}), flush=True)
attempt(f"list {args.home}", lambda: os.listdir(args.home))
attempt(f"read {args.home}/.ssh/id_ed25519", lambda: open(os.path.join(args.home, ".ssh", "id_ed25519")).read())
attempt("read /etc/passwd", lambda: open("/etc/passwd").read())
attempt("read the judge's command line", lambda: open(f"/proc/{os.getppid()}/cmdline").read())
