"""Ariadne against Strawberry: the same service, uncached, side by side in one run.

Bakes the template twice (cache_backend=none, so every request runs the schema
library), seeds both databases alike, starts both under their computed gunicorn
config, and alternates wrk runs of the same queries against the two, so that
whatever else the machine does hits both alike. It reuses each bake's own
bench/harness.py to start the service and to run wrk. Needs wrk.
A benchmark, not a test: it prints, it asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.parse
from contextlib import ExitStack
from pathlib import Path
from types import ModuleType

from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
LIBRARIES = ("ariadne", "strawberry")
QUERIES = {
    "one user": '{ user(id: "7") { id name email } }',
    "100 users": "{ users { id name } }",
    "nested": "{ users(limit: 10) { id posts { title author { name } } } }",
}


def baked(library: str, into: Path) -> tuple[Path, ModuleType]:
    """A seeded bake for `library`, and its own bench/harness.py loaded as a module."""
    answers = {"schema_library": library, "cache_backend": "none", "cpu_cores": "2"}
    project = Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(into / library), extra_context=answers))
    env = {**os.environ, "PYTHONPATH": "src"}
    for step in (["alembic", "upgrade", "head"], ["-m", "graphql_service", "seed"]):
        command = [sys.executable, "-m", *step] if step[0] == "alembic" else [sys.executable, *step]
        subprocess.run(command, cwd=project, env=env, check=True, capture_output=True)
    spec = importlib.util.spec_from_file_location(f"harness_{library}", project / "bench" / "harness.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return project, module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the two services per query")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt install wrk (or your system's package), then run again")

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as services:
        bases = {}
        for library in LIBRARIES:
            project, bench = baked(library, Path(tmp))
            os.environ["PYTHONPATH"] = str(project / "src")  # read when the service starts
            bases[library] = (services.enter_context(bench.service()).base, bench)
        print(f"{'query':>10} {'library':>10} {'req/s':>9} {'p99 ms':>8} errors")
        medians: dict[str, dict[str, float]] = {}
        for name, query in QUERIES.items():
            path = "/graphql?" + urllib.parse.urlencode({"query": query})
            for base, bench in bases.values():
                bench.wrk(base + path, 2, args.connections)  # warm-up
            rates: dict[str, list[float]] = {library: [] for library in LIBRARIES}
            for _ in range(args.rounds):
                for library, (base, bench) in bases.items():
                    run = bench.wrk(base + path, args.seconds, args.connections)
                    rates[library].append(run.rate)
                    print(f"{name:>10} {library:>10} {run.rate:9.1f} {run.p99_ms:8.1f} {run.errors}")
            medians[name] = {library: statistics.median(found) for library, found in rates.items()}

    print("\nmedians (req/s)          ariadne  strawberry  strawberry/ariadne")
    for name, by_library in medians.items():
        first, second = by_library["ariadne"], by_library["strawberry"]
        print(f"{name:>22} {first:10.1f} {second:11.1f} {second / first:18.2f}x")


if __name__ == "__main__":
    main()
