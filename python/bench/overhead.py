"""Overhead of the Python package over the Rust library, side by side in one process.

The benchmark configuration of `benches/explain.rs`: a bidirectional LSTM, T = 25, H = 300,
E = 200, C = 2, float64, batch B = 100, eps = 1e-3, predicted class. Two timings alternate,
round after round, on the same model file and the same data:

- **python**: `model.explain(x)` — numpy in, argument checks, the GIL released, the library's
  batched explain over a borrowed view of `x`, numpy arrays out;
- **rust**: the library alone, timed inside Rust with no Python in the loop
  (`NativeModel._time_rust_explain`): `Tensor::from_data` of a `Vec` of the same values,
  `LstmModel::explain`, `to_host` — what a Rust program holding the data would run — in the
  same build, with the same allocator and the same model on the same device.

Build the extension in release first (`maturin build --release` or `pip install ./python`).

    python python/bench/overhead.py [--rounds 15] [--batch 100]
"""

from __future__ import annotations

import argparse
import json
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import lstm_lrp

T, H, E, C = 25, 300, 200, 2


def write_canonical(path: Path, rng: np.random.Generator) -> None:
    """A random bidirectional model in the canonical safetensors layout."""
    tensors = {}
    for suffix in ("", "_bw"):
        tensors["w_x" + suffix] = rng.normal(0, 1 / np.sqrt(E), (E, 4 * H))
        tensors["w_h" + suffix] = rng.normal(0, 1 / np.sqrt(H), (H, 4 * H))
        tensors["b" + suffix] = rng.normal(0, 0.5, 4 * H)
    tensors["w_dense"] = rng.normal(0, 1 / np.sqrt(2 * H), (2 * H, C))
    tensors["b_dense"] = np.zeros(C)
    header, offset, blobs = {}, 0, []
    for name, a in tensors.items():
        raw = np.ascontiguousarray(a, dtype="<f8").tobytes()
        header[name] = {
            "dtype": "F64",
            "shape": list(a.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        offset += len(raw)
        blobs.append(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="f64")
    args = parser.parse_args()

    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.safetensors"
        write_canonical(path, rng)
        model = lstm_lrp.load(path)
    x = rng.normal(0, 1, (args.batch, T, E))
    opts = {"device": args.device, "precision": args.precision}

    def python_run() -> float:
        start = time.perf_counter()
        model.explain(x, batch_size=args.batch, **opts)
        return time.perf_counter() - start

    def rust_run() -> float:
        return model._native._time_rust_explain(x, batch_size=args.batch, repeats=1, **opts)[0]

    python_run(), rust_run()  # warm: the model on the device, the allocator's pages
    py_times, rs_times = [], []
    for k in range(args.rounds):
        # Alternate which goes first, so that drift on a shared machine hits both alike.
        if k % 2 == 0:
            rs_times.append(rust_run())
            py_times.append(python_run())
        else:
            py_times.append(python_run())
            rs_times.append(rust_run())

    def row(name: str, times: list[float]) -> str:
        med, best = statistics.median(times), min(times)
        return f"| {name} | {med * 1e3:.1f} | {best * 1e3:.1f} | {med * 1e3 / args.batch:.3f} |"

    print(
        f"bidirectional LSTM T={T} H={H} E={E} C={C}, {args.precision}, B={args.batch}, "
        f"device {args.device}, {args.rounds} alternating rounds; lstm_lrp {lstm_lrp.__version__}"
    )
    print("| path | median ms/batch | best ms/batch | median ms/sample |")
    print("|---|---|---|---|")
    print(row("rust (library alone)", rs_times))
    print(row("python (model.explain)", py_times))
    ratio_median = statistics.median(py_times) / statistics.median(rs_times)
    ratio_best = min(py_times) / min(rs_times)
    paired = statistics.median(p / r for p, r in zip(py_times, rs_times))
    print(
        f"python / rust: median {ratio_median:.3f}, best {ratio_best:.3f}, "
        f"median of paired rounds {paired:.3f}"
    )
    sys.exit(0)


if __name__ == "__main__":
    main()
