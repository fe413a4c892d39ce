"""Sharded explanations on a local Dask cluster of two worker processes: the partitions' results
equal one in-process call exactly, each worker reads the model once, and nothing listens on or
connects to any address but 127.0.0.1."""

from __future__ import annotations

import importlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import fixture, read_safetensors

import lstm_lrp
from lstm_lrp import distributed as dist


def _dependency(name: str) -> Any:
    """The module, or a skip where it is not installed; `.ci/run` sets LSTM_LRP_REQUIRE_DASK=1,
    and there a missing module fails the run instead of skipping the test."""
    if os.environ.get("LSTM_LRP_REQUIRE_DASK") == "1":
        return importlib.import_module(name)
    return pytest.importorskip(name, reason=f"{name} is not installed: the Dask test is skipped")


distributed = _dependency("distributed")
da = _dependency("dask.array")
psutil = _dependency("psutil")

LIMIT_S = 240
MODEL = fixture("golden/real_arras_sst.safetensors")  # BiLSTM, E = 60, H = 60, C = 5


@pytest.fixture
def time_limit() -> Iterator[None]:
    """Fails the test (instead of hanging CI) when the cluster takes longer than LIMIT_S."""

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"the Dask test took longer than {LIMIT_S}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(LIMIT_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    x = read_safetensors(MODEL)[0]["x"]  # (3, 12, 60)
    rng = np.random.default_rng(3)
    data = np.concatenate([x + rng.normal(0, 0.2, x.shape) for _ in range(80)])  # 240 rows
    path = tmp_path / "x.npy"
    np.save(path, data)
    return path


def _sockets(pids: list[int]) -> list[tuple[int, Any]]:
    found = []
    for pid in pids:
        for conn in psutil.Process(pid).net_connections(kind="inet"):
            found.append((pid, conn))
    return found


def test_sharded_results_equal_one_call_exactly(time_limit: None, dataset: Path) -> None:
    from distributed import Client, LocalCluster

    x_all = np.load(dataset)
    # Chunks of 50 rows (5 partitions, the last one shorter), explained in batches of 16.
    # Exactly equal: each sequence's arithmetic does not depend on its batch-mates.
    one_call = lstm_lrp.load(MODEL).explain(x_all, batch_size=16)

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster, timeout=60) as client,
    ):
        client.wait_for_workers(2, timeout=60)
        x = da.from_array(dist.NpyRows(str(dataset)), chunks=(50, -1, -1))
        assert x.numblocks == (5, 1, 1)
        relevance = dist.explain_array(x, str(MODEL), batch_size=16)  # map_blocks
        rel = client.compute(relevance, sync=False).result(timeout=120)

        # The dict-per-partition form (what Ray Data and Spark call), on the same workers.
        parts = [
            client.submit(
                dist.explain_npy_rows,
                str(dataset),
                start,
                min(start + 50, len(x_all)),
                str(MODEL),
                batch_size=16,
                pure=False,
            )
            for start in range(0, len(x_all), 50)
        ]
        batches = client.gather(parts)

        # While the cluster runs: every socket of this process (client and scheduler) and of
        # every nanny and worker process is on 127.0.0.1, listening or connected.
        pids = [os.getpid()] + [p.pid for p in psutil.Process().children(recursive=True)]
        sockets = _sockets(pids)
        worker_pids = client.run(os.getpid)
        stats = client.run(dist.worker_stats)

    np.testing.assert_array_equal(rel, one_call.relevance)
    for name in dist.OUTPUTS:
        joined = np.concatenate([b[name] for b in batches])
        np.testing.assert_array_equal(joined, getattr(one_call, name), err_msg=name)

    assert len(worker_pids) == 2 and len(set(worker_pids.values())) == 2
    assert all(p in pids for p in worker_pids.values()), "the workers are separate processes"
    model_key = os.path.abspath(str(MODEL))
    busy = [w for w, s in stats.items() if s["partitions"] > 0]
    assert len(busy) == 2, f"both workers explained partitions: {stats}"
    assert sum(s["sequences"] for s in stats.values()) == 2 * len(x_all)  # two passes
    for w in busy:
        assert stats[w]["loads"] == {model_key: 1}, f"worker {w}: {stats[w]['loads']}"

    assert sockets, "the cluster's sockets were found"
    listening = [c for _, c in sockets if c.status == psutil.CONN_LISTEN]
    assert len(listening) >= 3, "scheduler and workers listen (nothing else: no dashboard)"
    for pid, c in sockets:
        assert c.laddr and c.laddr.ip == "127.0.0.1", (pid, c)
        assert not c.raddr or c.raddr.ip == "127.0.0.1", (pid, c)
