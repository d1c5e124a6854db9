"""Cost of the decision-statistics item bootstrap on the paper-size generated lake.

Used by: `python benchmarks/decisions_bench.py [--root DIR] [--items 2000] [--resamples 1000]
[--repeats 2] [--reuse]`
(BENCHMARKS.md "## Decision statistics"). Generates the lake as benchmarks/warehouse_bench.py does
(2 scales x 9 mixtures x 2 stages x 20 benchmarks x N items x 4 choices), then times, in one run
and alternating so that the load of a shared box hits both alike, full builds
(`xstage build --full-refresh`) with the bootstrap off (`--var decision_bootstrap_resamples=0`,
the baseline: every other model and test as usual) and on (B = --resamples). Only the ratio of
the two is meaningful on a loaded machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from warehouse_bench import TOOLS, XSTAGE, run_timed, runs_rows, write_configs

from warehouse.synthetic import write_runs


def prepare(root: Path, items: int, reuse: bool) -> dict:
    """Generate the lake and its configs under `root`; return the build environment."""
    if not (reuse and (root / "reference_meta.json").exists()):
        generate(root, items)
    meta = json.loads((root / "reference_meta.json").read_text())
    write_runs(root, runs_rows(root / "lake"))
    return {**os.environ, "XSTAGE_DATA_DIR": str(root),
            "XSTAGE_CONFIG_DIR": str(write_configs(root, meta))}  # fmt: skip


def generate(root: Path, items: int) -> None:
    """The paper-size generated lake (../shared/tools/warehouse_baseline/gen_big_lake.py)."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    subprocess.run([sys.executable, str(TOOLS / "gen_big_lake.py"), str(root), "--items",
                    str(items)], check=True, capture_output=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("/tmp/xstage_decisions_bench"))
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--reuse", action="store_true", help="Keep a lake --root already has.")
    args = parser.parse_args()
    env = prepare(args.root.resolve(), args.items, args.reuse)
    # wall and CPU seconds per setting (run_timed exits with the log when a build fails)
    times: dict[str, list[tuple[float, float]]] = {"off": [], f"B={args.resamples}": []}
    for _ in range(args.repeats):
        for name, resamples in zip(times, (0, args.resamples), strict=True):
            command = [str(XSTAGE), "build", "--full-refresh", "--var",
                       f"decision_bootstrap_resamples={resamples}"]  # fmt: skip
            wall, cpu, rss = run_timed(command, env)
            times[name].append((wall, cpu))
            print(f"bootstrap {name:<8} wall {wall:7.1f} s  cpu {cpu:7.1f} s  "
                  f"peak RSS {rss:.2f} GiB", flush=True)  # fmt: skip
    (off_wall, on_wall), (off_cpu, on_cpu) = (
        [statistics.median(t[k] for t in values) for values in times.values()] for k in (0, 1)
    )
    print(f"median full build: off {off_wall:.1f} s wall / {off_cpu:.1f} s cpu, on "
          f"{on_wall:.1f} s / {on_cpu:.1f} s; on / off = {on_wall / off_wall:.3f} wall, "
          f"{on_cpu / off_cpu:.3f} cpu (load average {os.getloadavg()[0]:.1f})")  # fmt: skip
    shutil.rmtree(args.root, ignore_errors=True)


if __name__ == "__main__":
    main()
