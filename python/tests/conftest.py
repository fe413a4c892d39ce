"""Shared helpers: the repository's fixtures, and a minimal safetensors reader (the format is
an 8-byte header length, a JSON header, then the raw little-endian tensors), so that the tests
need numpy only."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import lstm_lrp

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"

_DTYPES = {"F64": "<f8", "F32": "<f4", "I64": "<i8", "I32": "<i4", "U8": "u1", "BOOL": "?"}


def read_safetensors(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """All tensors of a safetensors file, and its metadata."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header: dict[str, Any] = json.loads(raw[8 : 8 + n])
    meta = header.pop("__metadata__", {}) or {}
    data = raw[8 + n :]
    tensors = {}
    for name, t in header.items():
        start, end = t["data_offsets"]
        a = np.frombuffer(data[start:end], dtype=_DTYPES[t["dtype"]]).reshape(t["shape"])
        tensors[name] = a.astype(a.dtype.newbyteorder("="))
    return tensors, meta


def fixture(rel: str) -> Path:
    return FIXTURES / rel


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "panics: the test panics inside the guard on purpose")


@pytest.fixture(autouse=True)
def no_panics_reach_the_boundary(request: pytest.FixtureRequest) -> Any:
    """Every test but the one marked `panics`: the boundary guard catches no panic, i.e. every
    bad input is a typed error decided before or inside the library, never a crash."""
    before = lstm_lrp._native._panics_caught()
    yield
    if request.node.get_closest_marker("panics") is None:
        assert lstm_lrp._native._panics_caught() == before, "a panic reached the boundary guard"


def assert_close(actual: np.ndarray, expected: np.ndarray, tol: float, what: str = "") -> None:
    """The Rust conformance suite's comparison: the scaled error `|a - e| / max(1, |e|)` of
    every element is at most `tol` (NaN fails)."""
    a, e = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert a.shape == e.shape, (what, a.shape, e.shape)
    scaled = np.abs(a - e) / np.maximum(1.0, np.abs(e))
    worst = int(np.argmax(np.where(np.isnan(scaled), np.inf, scaled))) if a.size else 0
    ok = a.size == 0 or (not np.isnan(scaled).any() and scaled.flat[worst] <= tol)
    assert ok, (
        f"{what}: element {np.unravel_index(worst, a.shape)} is {a.flat[worst]!r}, expected "
        f"{e.flat[worst]!r} (scaled error {scaled.flat[worst]:.3e} > {tol:.1e})"
    )
