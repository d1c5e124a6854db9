"""Time the embedded demo from a clean data dir and list which pretrained models beat chance.

Used by: .venv/bin/python benchmarks/demo_bench.py [--study configs/studies/demo.yaml]
         [--data-dir /tmp/xstage-demo-bench] [--keep]
Runs `xstage run STUDY` in a subprocess (what `make demo` runs) against an empty data dir,
then reads the step log (wall and CPU seconds per step kind) and the warehouse marts
(one-sided binomial test of each pretrained model against chance, via the report's query).
Prints markdown for benchmarks/BENCHMARKS.md. The machine's load average is recorded because
the 2 cores may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_demo(study: str, data_dir: Path) -> float:
    env = os.environ | {"XSTAGE_DATA_DIR": str(data_dir), "COLUMNS": "150"}
    env.setdefault("XSTAGE_HF_MIRROR", str(REPO.parent / "shared" / "hf_mirror"))
    env |= {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    xstage = str(Path(sys.executable).with_name("xstage"))
    started = time.perf_counter()
    with (data_dir.parent / f"{data_dir.name}.log").open("wb") as log:
        subprocess.run([xstage, "run", study], env=env, check=True, stdout=log, stderr=log)
    return time.perf_counter() - started


def step_table(data_dir: Path, study_id: str) -> list[str]:
    events = [
        json.loads(line)
        for line in (data_dir / "studies" / study_id / "steps.jsonl").read_text().splitlines()
    ]
    wall: dict[str, float] = defaultdict(float)
    cpu: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for event in events:
        if event["event"] == "done":
            wall[event["kind"]] += event["seconds"]
            cpu[event["kind"]] += event.get("cpu_seconds", 0.0)
            count[event["kind"]] += 1
    lines = ["| step | n | wall s | CPU s |", "|---|---:|---:|---:|"]
    for kind in wall:
        lines.append(f"| {kind} | {count[kind]} | {wall[kind]:.1f} | {cpu[kind]:.1f} |")
    return lines


def chance_table(data_dir: Path) -> list[str]:
    os.environ["XSTAGE_DATA_DIR"] = str(data_dir)
    from warehouse import report_data

    with report_data.connect(data_dir / "warehouse.duckdb") as con:
        per_run = report_data.above_chance(con)
        summary = report_data.above_chance_by_benchmark(per_run)
        majority = report_data.majority_baseline(con)
    summary = summary.join(majority, on="benchmark", how="left")
    lines = [
        "| scale | benchmark | models above chance | mean acc | best acc | chance | majority |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in summary.iter_rows(named=True):
        lines.append(
            f"| {row['scale']} | {row['benchmark']} | {row['n_above_chance']}/{row['n_models']} "
            f"| {row['mean_accuracy']:.3f} | {row['best_accuracy']:.3f} "
            f"| {row['chance_accuracy']:.3f} | {row['majority_baseline']:.3f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--study", default=str(REPO / "configs" / "studies" / "demo.yaml"))
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/xstage-demo-bench"))
    parser.add_argument("--keep", action="store_true", help="Reuse an existing data dir.")
    args = parser.parse_args()
    if args.data_dir.exists() and not args.keep:
        shutil.rmtree(args.data_dir)
    load_before = os.getloadavg()
    seconds = run_demo(args.study, args.data_dir)
    load_after = os.getloadavg()
    study_id = Path(args.study).stem
    print(f"xstage run {args.study}: {seconds:.0f} s wall ({seconds / 60:.1f} min)")
    print(f"load average before {load_before[0]:.2f}, after (1/5/15 min) {load_after}")
    print("\n".join(step_table(args.data_dir, study_id)))
    print()
    print("\n".join(chance_table(args.data_dir)))


if __name__ == "__main__":
    main()
