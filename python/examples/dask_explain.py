"""Explain a large `.npy` dataset as partitions on Dask, one `.npz` file per partition.

    python python/examples/dask_explain.py --model MODEL --input X.npy --out OUT_DIR \
        [--workers 2] [--rows-per-partition 1000] [--batch-size 256] [--scheduler ADDRESS]

`X.npy` holds feature vectors `(N, T, E)` (float32/float64) or token ids `(N, T)`. Without
`--scheduler` a local cluster of `--workers` processes is started on 127.0.0.1 (no dashboard);
with it, the script connects to an existing cluster (every worker must see MODEL, X.npy and
OUT_DIR at the same paths, e.g. on a shared file system). Each worker loads the model once.

Output: `OUT_DIR/part-00000.npz` … with `relevance`, `step_relevance`, `rest`, `logits`,
`target` for rows `[start, stop)` (also stored, as `rows`). A partition's file is written to a
temporary name and renamed into place, so it appears whole or not at all; a partition that
fails and is retried rewrites the same file: no duplicates, no partial files. A rerun skips
the partitions whose files exist (`--overwrite` redoes them).

Without `--input` a random demo dataset for `fixtures/golden/real_arras_sst.safetensors` is
written first (`--demo-rows`).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from lstm_lrp import distributed as dist


def explain_partition(
    index: int, x_path: str, start: int, stop: int, model: str, out_dir: str, batch_size: int
) -> str:
    """Explain rows [start, stop) and write them as one file, atomically (idempotent)."""
    out = dist.explain_npy_rows(x_path, start, stop, model, batch_size=batch_size)
    final = Path(out_dir) / f"part-{index:05d}.npz"
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.savez(f, rows=np.array([start, stop]), **out)
    os.replace(tmp, final)
    return str(final)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="fixtures/golden/real_arras_sst.safetensors")
    p.add_argument("--input")
    p.add_argument("--out", required=True)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--rows-per-partition", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--scheduler", help="address of an existing Dask scheduler")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--demo-rows", type=int, default=20_000)
    args = p.parse_args()

    from distributed import Client, LocalCluster

    out_dir = Path(args.out).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.input is None:
        args.input = str(out_dir / "demo-x.npy")
        rng = np.random.default_rng(0)
        np.save(args.input, rng.normal(0, 1, (args.demo_rows, 12, 60)))
        print(f"wrote a demo dataset {args.input} ({args.demo_rows} sequences)")
    x_path, model = str(Path(args.input).resolve()), str(Path(args.model).resolve())
    n = np.load(x_path, mmap_mode="r").shape[0]
    step = args.rows_per_partition
    todo = [
        (i, start, min(start + step, n))
        for i, start in enumerate(range(0, n, step))
        if args.overwrite or not (out_dir / f"part-{i:05d}.npz").exists()
    ]

    if args.scheduler:
        cluster = None
        client = Client(args.scheduler)
    else:
        cluster = LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
        client = Client(cluster)
    try:
        began = time.perf_counter()
        futures = [
            client.submit(
                explain_partition,
                i,
                x_path,
                start,
                stop,
                model,
                str(out_dir),
                args.batch_size,
                key=f"explain-part-{i:05d}",
                retries=2,
            )
            for i, start, stop in todo
        ]
        for f in futures:
            f.result()
        wall = time.perf_counter() - began
        rows = sum(stop - start for _, start, stop in todo)
        rate = rows / max(wall, 1e-9)
        print(f"{len(todo)} partitions, {rows} sequences in {wall:.1f}s ({rate:.0f}/s)")
        for worker, s in sorted(client.run(dist.worker_stats).items()):
            rate = s["sequences"] / s["seconds"] if s["seconds"] else 0.0
            print(
                f"  {worker}: {s['partitions']} partitions, {s['sequences']} sequences, "
                f"{rate:.0f}/s inside explain, model loads {s['loads']}"
            )
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


if __name__ == "__main__":
    main()
