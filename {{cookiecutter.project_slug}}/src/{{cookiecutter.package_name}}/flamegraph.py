"""`make profile`: a flame graph of the workers, recorded by py-spy while locust drives them.

    make profile                                   # 20 s, 20 users: profiles/flame-<time>.svg
    make profile PROFILE_ARGS="--seconds 60 --users 50"

The service starts under gunicorn.conf.py, on a free port and the configured
database (seed it first: `make migrate seed`), as the child of `py-spy record
--subprocesses`, so every worker is sampled, recycled ones included. Linux lets a
process trace its own descendants, so this needs neither root nor
`kernel.yama.ptrace_scope=0`; in a container, ptrace must be allowed
(`--cap-add SYS_PTRACE`). locustfile.py then drives it for a bounded run; when the
service stops, py-spy writes the SVG. Open it in a browser: the widest frames are
where the CPU went; click one to zoom, search (Ctrl-F) for a function. The workers'
start-up (imports) appears as a narrow `<module>` tower beside the requests.
"""

from __future__ import annotations

import bisect
import html
import itertools
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from .perf_check import gunicorn

FRAME = re.compile(
    r"<title>(?P<name>[^<]+?) \((?P<path>[^<]+?):\d+\) \([\d,]+ samples?, [\d.]+%\)</title>"
    r'<rect [^>]*?y="(?P<y>\d+)"[^>]*?fg:x="(?P<x>\d+)" fg:w="(?P<w>\d+)"'
)
"""One frame of py-spy's SVG (inferno's): function (file:line), its row, its first sample and samples."""
ALL = re.compile(r'<title>all \((?P<samples>[\d,]+) samples?, 100%\)</title><rect [^>]*?y="(?P<y>\d+)"')
"""The SVG's root frame: every sample."""
RATE = 200
"""Samples per second per process: twice py-spy's default, for short runs."""
SHOWN_FUNCTIONS = 8


def record(project: Path, output: Path, seconds: int, users: int) -> int:
    """Record the flame graph into `output`; locust's exit status (1 when some requests failed)."""
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if py_spy is None:
        raise SystemExit("py-spy is not installed: `make install` installs it with the development tools")
    output.parent.mkdir(parents=True, exist_ok=True)
    py_spy_record = [py_spy, "record", "--subprocesses", "--function", f"--rate={RATE}", "--format=flamegraph"]
    with tempfile.TemporaryFile("w+") as log:
        with gunicorn(project, wrap=[*py_spy_record, "-o", str(output), "--"], log=log) as served:
            load = subprocess.run(
                [
                    *(sys.executable, "-m", "locust", "-f", "locustfile.py", "--headless", "--only-summary"),
                    *("--host", served.base, "--users", str(users), "--spawn-rate", str(users)),
                    *("--run-time", f"{seconds}s", "--stop-timeout", "5"),
                ],
                cwd=project,
                check=False,
            )
        if not output.is_file():  # py-spy says why, among the service's lines
            log.seek(0)
            raise SystemExit(f"py-spy wrote no flame graph:\n{log.read()[-3000:]}")
    return load.returncode


def hottest(svg: str) -> list[tuple[str, int]]:
    """The functions with the most samples of their own, their callees' not counted: where the
    CPU went, whichever frames called them. In the SVG a frame's callees are the frames of the
    next row away from the root whose samples lie within its own."""
    rows: dict[int, list[tuple[int, int]]] = defaultdict(list)
    frames = []
    for match in FRAME.finditer(svg):
        y, x, w = int(match["y"]), int(match["x"]), int(match["w"])
        frames.append((html.unescape(f"{match['name']} ({match['path']})"), y, x, w))
        rows[y].append((x, w))
    root = ALL.search(svg)
    if not frames or root is None:
        return []
    for row in rows.values():
        row.sort()
    heights = sorted({int(root["y"]), *rows})
    step = min(b - a for a, b in itertools.pairwise(heights))
    if int(root["y"]) != heights[0]:  # the root at the bottom: callees above, at smaller y
        step = -step
    own: Counter[str] = Counter()
    for function, y, x, w in frames:
        row = rows.get(y + step, [])
        callees = row[bisect.bisect_left(row, (x, 0)) : bisect.bisect_left(row, (x + w, 0))]
        own[function] += w - sum(callee_w for _, callee_w in callees)
    return own.most_common(SHOWN_FUNCTIONS)


def run(seconds: int, users: int, output: Path | None) -> int:
    project = Path.cwd()
    if not (project / "gunicorn.conf.py").is_file():
        print(f"no gunicorn.conf.py in {project}: run `make profile` in the project", file=sys.stderr)
        return 1
    output = output or project / "profiles" / f"flame-{time.strftime('%Y%m%d-%H%M%S')}.svg"
    status = record(project, output, seconds, users)
    svg = output.read_text()
    root = ALL.search(svg)
    total = int(root["samples"].replace(",", "")) if root else 0
    print(f"\nflame graph: {output} ({total:,} samples); open it in a browser")
    print("the functions with the most samples of their own (callees not counted):")
    for function, count in hottest(svg):
        print(f"  {count / max(total, 1):6.1%}  {function}")
    if status:
        print("locust saw failed requests: see its summary above", file=sys.stderr)
    return status
