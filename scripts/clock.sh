# Clock helpers for the device scripts under results/ (sourced; the device has no `bc`):
#   now            seconds since the epoch, to the millisecond
#   since T0       seconds since T0, to a tenth
#   cmd | stamp T0 each line prefixed with the seconds since T0 when it came
now() { python3 -c 'import time; print(f"{time.time():.3f}")'; }
since() { python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$1"; }
stamp() { python3 -u -c '
import sys, time
t0 = float(sys.argv[1])
for line in sys.stdin:
    print(f"{time.time() - t0:8.1f} {line}", end="", flush=True)' "$1"; }
