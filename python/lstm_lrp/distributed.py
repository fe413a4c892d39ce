"""Explaining large datasets as partitions on an existing distributed engine (Dask, Ray Data,
Spark): each worker process loads the model once and explains the partitions it is given.

The pieces, all plain functions of numpy arrays so that any engine can call them:

- :func:`cached_model` — the model of a path, loaded once per process (and again only when the
  file changes);
- :func:`explain_block` — one partition ``(n, T, E)`` or ``(n, T)`` → one output array, for
  ``dask.array.map_blocks``;
- :func:`explain_batch` — one partition → a dict of arrays (relevance, step_relevance, rest,
  logits, target), for ``dask.bag``/``delayed``, Ray Data's ``map_batches`` and Spark's
  ``mapInPandas`` (see ``docs/scaling.md``);
- :func:`explain_array` — a whole ``dask.array`` → a lazy ``dask.array`` of one output;
- :class:`NpyRows` — a ``.npy`` file as a lazily read array, so that each worker reads only
  its own rows (memory-mapped) instead of the file travelling through the scheduler.

Nothing here starts a cluster or opens a socket; the engine does.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from . import Model, load

if TYPE_CHECKING:
    from collections.abc import Mapping

    from numpy.typing import NDArray

__all__ = [
    "NpyRows",
    "cached_model",
    "explain_array",
    "explain_batch",
    "explain_block",
    "explain_npy_rows",
    "load_count",
    "worker_stats",
]

OUTPUTS = ("relevance", "step_relevance", "rest", "logits", "target")

_lock = threading.Lock()
_models: dict[tuple[Any, ...], Model] = {}
_loads: dict[str, int] = {}
_stats = {"partitions": 0, "sequences": 0, "seconds": 0.0}


def _key(path: str, options: Mapping[str, Any]) -> tuple[Any, ...]:
    st = os.stat(path)
    frozen = tuple(sorted((k, repr(v)) for k, v in options.items()))
    return (os.path.abspath(path), st.st_size, st.st_mtime_ns, frozen)


def cached_model(path: str, **load_options: Any) -> Model:
    """The model at ``path`` (read with :func:`lstm_lrp.load` and ``load_options``), loaded
    once per process and shared by its threads; loaded again when the file's size or
    modification time changes."""
    path = os.fspath(path)
    key = _key(path, load_options)
    with _lock:
        model = _models.get(key)
        if model is None:
            model = load(path, **load_options)
            _models[key] = model
            _loads[os.path.abspath(path)] = _loads.get(os.path.abspath(path), 0) + 1
        return model


def load_count() -> dict[str, int]:
    """How often this process has read each model file (by absolute path)."""
    with _lock:
        return dict(_loads)


def worker_stats(reset: bool = False) -> dict[str, Any]:
    """This process's work so far: ``partitions`` and ``sequences`` explained by
    :func:`explain_batch`, the ``seconds`` spent in it, and ``loads`` (:func:`load_count`).
    Call it on every worker with ``client.run(worker_stats)`` for per-worker throughput."""
    with _lock:
        out: dict[str, Any] = {**_stats, "loads": dict(_loads)}
        if reset:
            _stats.update(partitions=0, sequences=0, seconds=0.0)
        return out


def explain_batch(
    x: NDArray[Any],
    model_path: str,
    *,
    load_options: Optional[Mapping[str, Any]] = None,
    **explain_options: Any,
) -> dict[str, NDArray[Any]]:
    """Explain one partition ``x`` (``(n, T, E)`` floats or ``(n, T)`` token ids) with the
    process's cached model: ``relevance (n, T, E)``, ``step_relevance (n, T)``, ``rest (n,)``,
    ``logits (n, C)``, ``target (n,)``. ``explain_options`` are :meth:`Model.explain`'s
    (``lengths``/``mask``/``target`` arrays must be this partition's)."""
    model = cached_model(model_path, **dict(load_options or {}))
    start = time.perf_counter()
    e = model.explain(x, **explain_options)
    elapsed = time.perf_counter() - start
    with _lock:
        _stats["partitions"] += 1
        _stats["sequences"] += len(e)
        _stats["seconds"] += elapsed
    return {name: getattr(e, name) for name in OUTPUTS}


def explain_npy_rows(
    path: str,
    start: int,
    stop: int,
    model_path: str,
    *,
    load_options: Optional[Mapping[str, Any]] = None,
    **explain_options: Any,
) -> dict[str, NDArray[Any]]:
    """:func:`explain_batch` of rows ``start:stop`` of a ``.npy`` file, read (memory-mapped)
    by the process that runs it: a task for ``dask.delayed``/``client.submit`` that carries
    only a path and two numbers."""
    rows = np.load(os.fspath(path), mmap_mode="r")[start:stop]
    return explain_batch(
        np.ascontiguousarray(rows), model_path, load_options=load_options, **explain_options
    )


def explain_block(
    block: NDArray[Any],
    model_path: str,
    *,
    which: str = "relevance",
    load_options: Optional[Mapping[str, Any]] = None,
    **explain_options: Any,
) -> NDArray[Any]:
    """One output (``which``) of :func:`explain_batch` for one block: what
    ``dask.array.map_blocks`` calls (see :func:`explain_array`)."""
    if which not in OUTPUTS:
        raise ValueError(f"which={which!r}: one of {', '.join(OUTPUTS)}")
    if block.shape[0] == 0:  # an empty block, as dask may probe with
        return _empty(block, which)
    return explain_batch(block, model_path, load_options=load_options, **explain_options)[which]


def _empty(block: NDArray[Any], output: str) -> NDArray[Any]:
    t = block.shape[1] if block.ndim > 1 else 0
    shapes = {
        "relevance": (0, t, block.shape[2] if block.ndim == 3 else 0),
        "step_relevance": (0, t),
        "rest": (0,),
        "logits": (0, 0),
        "target": (0,),
    }
    return np.zeros(shapes[output], dtype=np.int64 if output == "target" else np.float64)


def explain_array(
    x: Any,
    model_path: str,
    *,
    output: str = "relevance",
    load_options: Optional[Mapping[str, Any]] = None,
    **explain_options: Any,
) -> Any:
    """A lazy ``dask.array`` of one output for a ``dask.array`` ``x`` chunked along the batch
    axis only (``x.rechunk({1: -1, 2: -1})`` otherwise): one task per block, each worker
    reading the model once. ``explain_options`` must not hold per-sample arrays (use
    :func:`explain_batch` on matching partitions for ``lengths``, ``mask`` or ``target``)."""
    import dask.array as da

    if any(len(c) != 1 for c in x.chunks[1:]):
        raise ValueError("chunk x along the batch axis only: x.rechunk({1: -1, 2: -1})")
    if output not in OUTPUTS:
        raise ValueError(f"output={output!r}: one of {', '.join(OUTPUTS)}")
    options = dict(load_options or {})
    kwargs: dict[str, Any] = {
        "model_path": os.fspath(model_path),
        "which": output,
        "load_options": options,
        **explain_options,
    }
    rows, steps = x.chunks[0], x.shape[1]
    dtype = np.int64 if output == "target" else np.float64
    if output == "relevance" and x.ndim == 3:
        chunks: tuple[Any, ...] = x.chunks
    elif output == "relevance":
        # Token ids (n, T) → relevance (n, T, E): E is the model's (read here once).
        chunks = (rows, (steps,), (cached_model(model_path, **options).input_size,))
    elif output == "step_relevance":
        chunks = (rows, (steps,))
    elif output == "logits":
        chunks = (rows, (cached_model(model_path, **options).num_classes,))
    else:
        chunks = (rows,)
    out_ndim = len(chunks)
    new_axis = list(range(x.ndim, out_ndim)) if out_ndim > x.ndim else None
    drop_axis = list(range(out_ndim, x.ndim)) if out_ndim < x.ndim else []
    return da.map_blocks(  # type: ignore[no-untyped-call]
        explain_block,
        x,
        dtype=dtype,
        chunks=chunks,
        new_axis=new_axis,
        drop_axis=drop_axis,
        # Given, so that dask does not call the function on an empty block to find out.
        meta=np.empty((0,) * out_ndim, dtype=dtype),
        **kwargs,
    )


class NpyRows:
    """A ``.npy`` file as an array-like that ``dask.array.from_array`` can chunk: only the
    path travels to the workers, each of which memory-maps the file and reads its own rows.

    >>> import dask.array as da  # doctest: +SKIP
    >>> x = da.from_array(NpyRows("x.npy"), chunks=(1000, -1, -1))  # doctest: +SKIP
    """

    def __init__(self, path: str) -> None:
        self.path = os.fspath(path)
        header = np.load(self.path, mmap_mode="r")
        self.shape: tuple[int, ...] = header.shape
        self.dtype: np.dtype[Any] = header.dtype
        self.ndim: int = header.ndim
        self._mmap: Optional[np.memmap[Any, Any]] = None

    def __getitem__(self, index: Any) -> NDArray[Any]:
        if self._mmap is None:
            self._mmap = np.load(self.path, mmap_mode="r")
        return np.ascontiguousarray(self._mmap[index])

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "shape": self.shape, "dtype": self.dtype, "ndim": self.ndim}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._mmap = None

    def __len__(self) -> int:
        return self.shape[0]
