"""Time `xstage build` against the pandas + scipy baseline on a generated lake of any size.

Used by: `python benchmarks/warehouse_bench.py [--root DIR] [--items 2000] [--no-pandas]
[--full-all] [--quick] [--clean]` (BENCHMARKS.md "## Warehouse"; `--items 30` is the demo's size, 2000 the
paper's, 20000 / 60000 10x / 30x). Generates the lake with
../shared/tools/warehouse_baseline/gen_big_lake.py (2 scales x 9 mixtures x 2 stages x 20
benchmarks x N items x 4 choices), adds lake/runs rows and benchmark/mixture configs, holds one
run (both stages) out, then times in one go, with each step's peak RSS:
  1. the pandas baseline on the full lake (unless --no-pandas: it holds the lake in memory),
  2. `xstage build --full-refresh` on the lake without the held-out run,
  3. `xstage build` after the held-out run arrives (one-run incremental),
  4. `xstage build` with nothing new (returns without dbt), and `--force` (dbt's fixed cost),
  5. one run removed and put back with `--skip-tests` (models only; 4's --force and 5 not
     with --quick),
  6. with --full-all, `xstage build --full-refresh` of every run (the demo's one build),
and checks the warehouse against the baseline's accuracy and cross-stage Pearson r. DuckDB's
memory limit, spill dir and threads come from configs/warehouse or XSTAGE_DUCKDB_* variables.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
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
FULL = "full build (35 of 36 runs)"


def run_timed(command: list[str], env: dict) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS in GiB) of one command, from its own rusage."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            out.seek(0)
            sys.exit(f"{' '.join(command)} failed:\n{out.read().decode()[-4000:]}")
    result = wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 2**20
    # as it happens: a long run that is stopped still tells what it measured
    print(f"step done: {' '.join(command[1:]) or command[0]}: wall {result[0]:.1f} s, cpu "
          f"{result[1]:.1f} s, peak RSS {result[2]:.2f} GiB", flush=True)  # fmt: skip
    return result


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


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("/tmp/xstage_warehouse_bench"))
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--no-pandas", action="store_true", help="skip the in-memory baseline")
    parser.add_argument("--full-all", action="store_true", help="also a full build of all runs")
    parser.add_argument("--clean", action="store_true", help="delete the root at the end")
    parser.add_argument(
        "--quick", action="store_true", help="no --force build, no run removed and put back"
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    root, lake = args.root.resolve(), args.root.resolve() / "lake"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, str(TOOLS / "gen_big_lake.py"), str(root), "--items",
                    str(args.items)], check=True, capture_output=True)  # fmt: skip
    print(f"lake generated in {time.perf_counter() - started:.0f} s", flush=True)
    meta = json.loads((root / "reference_meta.json").read_text())
    env = {**os.environ, "XSTAGE_DATA_DIR": str(root),
           "XSTAGE_CONFIG_DIR": str(write_configs(root, meta))}  # fmt: skip
    all_runs = runs_rows(lake)
    timings, slowest = {}, {}
    if not args.no_pandas:
        timings["pandas"] = run_timed(
            [sys.executable, str(TOOLS / "pandas_baseline.py"), str(root)], env
        )
    parked = root / "held_out"
    shutil.move(held_out_dir(lake), parked)
    held = [r for r in all_runs if (r["scale"], r["mixture"], r["seed"]) == HELD_OUT]
    write_runs(root, [r for r in all_runs if r not in held])
    timings[FULL] = run_timed([str(XSTAGE), "build", "--full-refresh"], env)
    slowest["full"] = slowest_nodes(root)
    sizes = {"lake": du(lake), "warehouse, 35 runs": du(root / "warehouse.duckdb")}
    shutil.move(parked, held_out_dir(lake))
    write_runs(root, held)
    timings["one-run incremental"] = run_timed([str(XSTAGE), "build"], env)
    slowest["incremental"] = slowest_nodes(root)
    sizes["copy of the warehouse file, s"] = copy_seconds(root / "warehouse.duckdb")
    timings["no change (up to date)"] = run_timed([str(XSTAGE), "build"], env)
    if not args.quick:
        timings["no change, --force (dbt floor)"] = run_timed(
            [str(XSTAGE), "build", "--force"], env
        )
    checks = {} if args.no_pandas else compare_with_baseline(root)
    if not args.quick:
        removed_and_restored(root, lake, env, timings)
    if args.full_all:
        timings["full build, all 36 runs"] = run_timed(
            [str(XSTAGE), "build", "--full-refresh"], env
        )
    sizes["warehouse, 36 runs"] = du(root / "warehouse.duckdb")
    report(timings, checks, meta, slowest, sizes)
    if args.clean:
        shutil.rmtree(root, ignore_errors=True)


def removed_and_restored(root: Path, lake: Path, env: dict, timings: dict) -> None:
    """One run removed, then put back, each followed by `xstage build --skip-tests`."""
    parked = root / "held_out"
    shutil.move(held_out_dir(lake, SECOND), parked)
    timings["run removed, --skip-tests"] = run_timed([str(XSTAGE), "build", "--skip-tests"], env)
    shutil.move(parked, held_out_dir(lake, SECOND))
    timings["one-run incremental, --skip-tests"] = run_timed(
        [str(XSTAGE), "build", "--skip-tests"], env
    )


def copy_seconds(path: Path) -> float:
    """Seconds to copy `path` beside itself: what every incremental build pays first."""
    copy = path.with_name(".bench-copy")
    started = time.perf_counter()
    shutil.copyfile(path, copy)
    seconds = time.perf_counter() - started
    copy.unlink()
    return seconds


def du(path: Path) -> float:
    """Size of a file or directory tree in GiB."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**30


def report(timings: dict, checks: dict, meta: dict, slowest: dict, sizes: dict) -> None:
    rows = meta["rows"]["predictions"]
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=False).stdout.strip()  # fmt: skip
    limit = os.environ.get("XSTAGE_DUCKDB_MEMORY_LIMIT", "from configs/warehouse")
    print(f"lake: {rows:,} prediction rows; commit {commit}; {os.cpu_count()} CPUs; load average "
          f"{os.getloadavg()[0]:.1f} at the end; DuckDB memory_limit {limit}")  # fmt: skip
    print(f"{'step':<36}{'wall s':>9}{'cpu s':>9}{'peak RSS GiB':>14}")
    for name, (wall, cpu, rss) in timings.items():
        print(f"{name:<36}{wall:>9.1f}{cpu:>9.1f}{rss:>14.2f}")
    if "pandas" in timings:
        pandas, full = timings["pandas"], timings[FULL]
        print(
            f"pandas / full build: wall {pandas[0] / full[0]:.2f}x, cpu {pandas[1] / full[1]:.2f}x"
        )
    print("sizes (GiB) and copy time:", {name: round(value, 3) for name, value in sizes.items()})
    for name, nodes in slowest.items():
        print(f"slowest nodes of the {name} build (s):", nodes)
    print(f"checks against pandas_out: {checks}")


if __name__ == "__main__":
    main()
