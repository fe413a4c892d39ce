"""Dask throughput: 1 → 2 worker processes on this machine, per-worker rates.

The benchmark model (bidirectional LSTM, T = 25, H = 300, E = 200, C = 2, f64) on N random
sequences in a `.npy` file, explained as partitions with `lstm_lrp.distributed.explain_array`
(`dask.array.map_blocks` over `NpyRows`), on a `LocalCluster` on 127.0.0.1 with 1 and then 2
worker processes (one thread each). Each cluster first explains one partition per worker (the
model is read once per worker, not timed); then the whole set is timed, `--repeats` times.

`--rayon-threads K` sets RAYON_NUM_THREADS in the workers: the library's matrix products run on
K threads per worker (default: one per core, so that one worker alone uses every core).

    python python/bench/dask_scaling.py [--rows 800] [--chunk 100] [--rayon-threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from overhead import E, T, write_canonical  # noqa: E402

from lstm_lrp import distributed as dist  # noqa: E402


def run(workers: int, x_path: str, model: str, chunk: int, repeats: int, env: dict) -> dict:
    import dask.array as da
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            env=env,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(workers)
        x = da.from_array(dist.NpyRows(x_path), chunks=(chunk, -1, -1))
        warm = dist.explain_array(x[: chunk * workers], model, batch_size=chunk)
        warm.compute()
        client.run(dist.worker_stats, reset=True)
        walls = []
        for _ in range(repeats):
            start = time.perf_counter()
            dist.explain_array(x, model, batch_size=chunk).compute()
            walls.append(time.perf_counter() - start)
        stats = client.run(dist.worker_stats)
    return {"walls": walls, "stats": stats}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=800)
    p.add_argument("--chunk", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--rayon-threads", type=int)
    args = p.parse_args()
    env = {} if args.rayon_threads is None else {"RAYON_NUM_THREADS": str(args.rayon_threads)}
    rng = np.random.default_rng(2)
    with tempfile.TemporaryDirectory() as tmp:
        model = str(Path(tmp) / "bench.safetensors")
        write_canonical(Path(model), rng)
        x_path = str(Path(tmp) / "x.npy")
        np.save(x_path, rng.normal(0, 1, (args.rows, T, E)))
        print(f"N={args.rows} chunk={args.chunk} env={env or 'default'}; benchmark model, f64")
        print("| workers | median wall s | sequences/s | per worker: sequences/s inside explain |")
        print("|---|---|---|---|")
        base = None
        for workers in (1, 2):
            r = run(workers, x_path, model, args.chunk, args.repeats, env)
            wall = statistics.median(r["walls"])
            base = base or wall
            per = ", ".join(
                f"{s['sequences'] / s['seconds']:.0f}" for s in r["stats"].values() if s["seconds"]
            )
            print(f"| {workers} | {wall:.2f} | {args.rows / wall:.0f} | {per} |")
            if workers == 2:
                print(f"speed-up 1 → 2 workers: {base / wall:.2f}×")


if __name__ == "__main__":
    main()
