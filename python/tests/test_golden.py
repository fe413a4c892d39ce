"""The golden cases of the reference implementations, through Python: every case's logits,
relevance and rest within 1e-9 in f64 (scaled error, as the Rust conformance suite), with the
settings the reference ran with."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import FIXTURES, assert_close, read_safetensors

import lstm_lrp

CASES = sorted(p.stem for p in (FIXTURES / "golden").glob("*.safetensors"))


def test_every_golden_case_is_found() -> None:
    assert len(CASES) >= 12, CASES


@pytest.mark.parametrize("case", CASES)
def test_golden_case(case: str) -> None:
    path = FIXTURES / "golden" / f"{case}.safetensors"
    t, meta = read_safetensors(path)
    model = lstm_lrp.load(path)  # a canonical model file that also holds the case's arrays
    explicit = meta.get("target_mode") == "explicit"
    e = model.explain(
        t["x"],
        eps=float(meta["eps"]),
        bias_factor=float(meta["bias_factor"]),
        target=t["target"] if explicit else None,
    )
    np.testing.assert_array_equal(e.target, t["target"])
    assert_close(e.logits, t["logits"], 1e-9)
    assert_close(e.relevance, t["relevance"], 1e-9)
    assert_close(e.rest, t["rest"], 1e-9)
    np.testing.assert_allclose(e.step_relevance, t["relevance"].sum(axis=2), atol=1e-12)
    assert e.relevance.dtype == np.float64 and e.target.dtype == np.int64


def test_conservation_at_eps0_bf1() -> None:
    path = FIXTURES / "golden" / "conservation.safetensors"
    t, _ = read_safetensors(path)
    e = lstm_lrp.load(path).explain(t["x"], eps=0.0, bias_factor=1.0)
    total = e.relevance.sum(axis=(1, 2)) + e.rest
    assert_close(total, e.explained_logit, 1e-9)


def test_forward_equals_the_explained_logits() -> None:
    path = FIXTURES / "golden" / "larger.safetensors"
    t, _ = read_safetensors(path)
    model = lstm_lrp.load(path)
    np.testing.assert_allclose(model.forward(t["x"]), model.explain(t["x"]).logits, atol=1e-12)
