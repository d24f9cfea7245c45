"""CPU time of the test suite per module: a pytest plugin, and a summary of what it wrote (docs/reliability.md).

    rm -rf /tmp/suite-cpu && SUITE_CPU_DIR=/tmp/suite-cpu PYTHONPATH=scripts \
        .venv/bin/python -m pytest -n 3 --dist loadfile --no-loadscope-reorder -p suite_cpu
    .venv/bin/python scripts/suite_cpu.py /tmp/suite-cpu [--write-order tests/module_seconds.json]

Per test: CPU of the test process (all its threads) and of the child processes it reaped, and wall time. Children
still running when a test ends (a local stack's workers) are counted when reaped, if ever.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import time
from pathlib import Path

import pytest


def _cpu() -> tuple[float, float]:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    out = Path(os.environ["SUITE_CPU_DIR"])
    out.mkdir(parents=True, exist_ok=True)
    (own, children), started = _cpu(), time.monotonic()
    yield
    own_after, children_after = _cpu()
    record = {"id": item.nodeid, "self": own_after - own, "children": children_after - children,
              "wall": time.monotonic() - started}
    with open(out / f"cpu-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")


def main(directory: str, order_file: str | None = None) -> None:
    paths = list(Path(directory).glob("*.jsonl"))
    rows = [json.loads(line) for path in paths for line in path.open()]
    modules: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0.0, 0])
    for r in rows:
        m = modules[r["id"].split("::")[0]]
        m[0] += r["self"]; m[1] += r["children"]; m[2] += r["wall"]; m[3] += 1  # noqa: E702
    print(f"{len(rows)} tests: CPU {sum(m[0] for m in modules.values()):.0f} s own, "
          f"{sum(m[1] for m in modules.values()):.0f} s reaped children")
    print("| module | CPU own s | CPU children s | wall s | tests |\n|---|---|---|---|---|")
    for name, (own, children, wall, n) in sorted(modules.items(), key=lambda kv: -(kv[1][0] + kv[1][1])):
        print(f"| {name} | {own:.0f} | {children:.0f} | {wall:.0f} | {n} |")
    if order_file:  # what tests/conftest.py sorts the modules by, longest first
        walls = {name: round(m[2], 1) for name, m in sorted(modules.items())}
        ran = max(path.stat().st_mtime for path in paths)
        Path(order_file).write_text(json.dumps({"measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ran)),
                                                "wall_seconds": walls}, indent=1) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", help="SUITE_CPU_DIR of the run")
    parser.add_argument("--write-order", metavar="JSON", help="write each module's wall seconds here "
                        "(tests/module_seconds.json: the order tests/conftest.py gives the test processes)")
    args = parser.parse_args()
    main(args.directory, args.write_order)
