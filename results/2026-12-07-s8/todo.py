"""The staged archive kernels no earlier run judged, copied into a directory of their own.

``todo.py STAGED_DIR OUT_DIR JOURNAL.jsonl...``: every ``*.cu`` of STAGED_DIR whose file name is
the ``name`` of no record in the journals. A review's key names sadoku's commit, so a new binary's
``--resume`` skips nothing an older one judged; a batch over OUT_DIR judges only what is left.
"""

import json
import shutil
import sys
from pathlib import Path

staged, out, journals = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
judged = {json.loads(line)["name"] for j in journals for line in open(j) if line.strip()}
shutil.rmtree(out, ignore_errors=True)
out.mkdir(parents=True)
left = [p for p in sorted(staged.glob("*.cu")) if p.name not in judged]
for p in left:
    shutil.copy(p, out)
print(f"{len(judged)} judged, {len(left)} copied into {out}")
