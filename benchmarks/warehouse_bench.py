"""Time `xstage build` against the pandas + scipy baseline on the paper-size generated lake.

Used by: `python benchmarks/warehouse_bench.py [--root DIR] [--items 2000]` (BENCHMARKS.md
"## Warehouse"). Generates the lake with ../shared/tools/warehouse_baseline/gen_big_lake.py
(2 scales x 9 mixtures x 2 stages x 20 benchmarks x N items x 4 choices), adds lake/runs rows and
benchmark/mixture configs, holds one run (both stages) out, then times in one go:
  1. the pandas baseline on the full lake,
  2. `xstage build --full-refresh` on the lake without the held-out run,
  3. `xstage build` after the held-out run arrives (one-run incremental),
  4. `xstage build` with nothing new (returns without dbt), and `--force` (dbt's fixed cost),
  5. one run removed and put back with `--skip-tests` (models only),
and checks the warehouse against the baseline's accuracy and cross-stage Pearson r.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from warehouse.synthetic import benchmark_config, mixture_config, write_runs
from xstage.ids import run_id

REPO = Path(__file__).resolve().parents[1]
TOOLS = REPO.parent / "shared" / "tools" / "warehouse_baseline"
XSTAGE = Path(sys.executable).with_name("xstage")
WEB = ("refinedweb", "fineweb_edu", "dclm")
GRID = ((0.65, 0.25, 0.10), (0.45, 0.35, 0.20), (0.25, 0.45, 0.30))
HELD_OUT = ("small", "mix8", 0)
SECOND = ("small", "mix7", 0)


def run_timed(command: list[str], env: dict) -> tuple[float, float, str]:
    """(wall seconds, child CPU seconds, stdout tail) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return wall, cpu, done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def write_configs(root: Path, meta: dict) -> Path:
    """Benchmark and mixture configs for the generated ids (mixture i: web source i // 3)."""
    config_dir = root / "configs"
    shutil.rmtree(config_dir, ignore_errors=True)
    for directory in ("benchmarks", "mixtures"):
        (config_dir / directory).mkdir(parents=True)
    for benchmark, category in meta["benchmarks"].items():
        data = benchmark_config(benchmark, category, meta["n_choices"], "per_char")
        (config_dir / "benchmarks" / f"{benchmark}.yaml").write_text(json.dumps(data))
    for index, mixture in enumerate(meta["mixtures"]):
        data = mixture_config(mixture, WEB[index // 3], GRID[index % 3])
        (config_dir / "mixtures" / f"{mixture}.yaml").write_text(json.dumps(data))
    return config_dir


def runs_rows(lake: Path) -> list[dict]:
    """One lake/runs row per run x stage of the generated predictions."""
    rows = []
    for stage_dir in sorted(lake.glob("predictions/scale=*/mixture=*/seed=*/stage=*")):
        parts = dict(
            part.split("=", 1) for part in stage_dir.relative_to(lake / "predictions").parts
        )
        first = next(stage_dir.glob("benchmark=*/*.parquet"))
        step = int(pq.read_table(first, columns=["checkpoint_step"])["checkpoint_step"][0].as_py())
        scale, mixture, seed, stage = (
            parts["scale"],
            parts["mixture"],
            int(parts["seed"]),
            parts["stage"],
        )
        rows.append({
            "run_id": run_id(scale, mixture, seed), "scale": scale,
            "n_params_nominal": 240_000_000 if scale == "tiny" else 1_000_000_000,
            "n_params": None, "mixture": mixture, "seed": seed, "stage": stage,
            "origin": "train" if stage == "pretrain" else "sft", "checkpoint_step": step,
            "created_at": dt.datetime.now(dt.UTC),
        })  # fmt: skip
    return rows


def held_out_dir(lake: Path, run: tuple = HELD_OUT) -> Path:
    scale, mixture, seed = run
    return lake / "predictions" / f"scale={scale}" / f"mixture={mixture}" / f"seed={seed}"


def slowest_nodes(root: Path, n: int = 8) -> list[tuple[str, float]]:
    """The slowest dbt nodes of the last build (run_results.json)."""
    results = json.loads((root / "cache" / "dbt" / "target" / "run_results.json").read_text())
    rows = sorted(((r["execution_time"], r["unique_id"]) for r in results["results"]), reverse=True)
    return [(unique_id.split(".")[2][:60], seconds) for seconds, unique_id in rows[:n]]


def compare_with_baseline(root: Path) -> dict:
    """Max |difference| of accuracy and cross-stage Pearson r against pandas_out/."""
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    out = root / "pandas_out"
    accuracy = con.execute(f"""
        select max(abs(w.accuracy - p.accuracy)), count(*)
        from marts.fct_benchmark_scores as w
        join read_parquet('{out}/run_benchmark_metrics.parquet') as p
          on w.scale = p.scale and w.mixture = p.mixture and w.seed = cast(p.seed as bigint)
          and w.stage = p.stage and w.benchmark = p.benchmark
          and w.length_normalization = p.normalization""").fetchone()  # fmt: skip
    transfer = con.execute(f"""
        select max(abs(w.r - p.pearson_r)), count(*)
        from marts.fct_cross_stage_transfer as w
        join read_parquet('{out}/cross_stage_transfer.parquet') as p
          on w.scale = p.scale and w.benchmark = p.benchmark and w.metric = p.metric
          and w.length_normalization = p.normalization
        where w.method = 'pearson'""").fetchone()  # fmt: skip
    return {"accuracy_max_abs_diff": accuracy[0], "accuracy_rows": accuracy[1],
            "pearson_r_max_abs_diff": transfer[0], "pearson_rows": transfer[1]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("/tmp/xstage_warehouse_bench"))
    parser.add_argument("--items", type=int, default=2000)
    args = parser.parse_args()
    root, lake = args.root.resolve(), args.root.resolve() / "lake"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    subprocess.run([sys.executable, str(TOOLS / "gen_big_lake.py"), str(root), "--items",
                    str(args.items)], check=True, capture_output=True)  # fmt: skip
    meta = json.loads((root / "reference_meta.json").read_text())
    env = {**os.environ, "XSTAGE_DATA_DIR": str(root),
           "XSTAGE_CONFIG_DIR": str(write_configs(root, meta))}  # fmt: skip
    all_runs = runs_rows(lake)
    timings = {}
    timings["pandas"] = run_timed(
        [sys.executable, str(TOOLS / "pandas_baseline.py"), str(root)], env
    )
    parked = root / "held_out"
    shutil.move(held_out_dir(lake), parked)
    held = [r for r in all_runs if (r["scale"], r["mixture"], r["seed"]) == HELD_OUT]
    write_runs(root, [r for r in all_runs if r not in held])
    timings["full build (35 of 36 runs)"] = run_timed([str(XSTAGE), "build", "--full-refresh"], env)
    slowest = slowest_nodes(root)
    shutil.move(parked, held_out_dir(lake))
    write_runs(root, held)
    timings["one-run incremental"] = run_timed([str(XSTAGE), "build"], env)
    timings["no change (up to date)"] = run_timed([str(XSTAGE), "build"], env)
    timings["no change, --force (dbt floor)"] = run_timed([str(XSTAGE), "build", "--force"], env)
    checks = compare_with_baseline(root)
    shutil.move(held_out_dir(lake, SECOND), parked)
    timings["run removed, --skip-tests"] = run_timed([str(XSTAGE), "build", "--skip-tests"], env)
    shutil.move(parked, held_out_dir(lake, SECOND))
    timings["one-run incremental, --skip-tests"] = run_timed(
        [str(XSTAGE), "build", "--skip-tests"], env
    )
    report(timings, checks, meta, slowest)


def report(timings: dict, checks: dict, meta: dict, slowest: list) -> None:
    rows = meta["rows"]["predictions"]
    print(f"lake: {rows:,} prediction rows; load average {os.getloadavg()[0]:.1f} at the end; "
          f"{os.cpu_count()} CPUs, dbt threads {os.environ.get('XSTAGE_DBT_THREADS', '4')}")  # fmt: skip
    print(f"{'step':<34}{'wall s':>9}{'cpu s':>9}")
    for name, (wall, cpu, _) in timings.items():
        print(f"{name:<34}{wall:>9.1f}{cpu:>9.1f}")
    pandas, full = timings["pandas"], timings["full build (35 of 36 runs)"]
    print(f"pandas / full build: wall {pandas[0] / full[0]:.2f}x, cpu {pandas[1] / full[1]:.2f}x")
    print("slowest nodes of the full build (s):", slowest)
    print(f"checks against pandas_out: {checks}")


if __name__ == "__main__":
    main()
