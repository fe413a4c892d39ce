"""The gradient baselines through Python."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fixture, read_safetensors

import lstm_lrp


@pytest.fixture(scope="module")
def case() -> tuple[lstm_lrp.Model, np.ndarray]:
    path = fixture("golden/larger.safetensors")
    return lstm_lrp.load(path), read_safetensors(path)[0]["x"]


@pytest.mark.parametrize("method", ["gradient", "gxi", "ig", "occlusion", "lrp"])
def test_every_method_has_the_shapes_of_lrp(
    case: tuple[lstm_lrp.Model, np.ndarray], method: str
) -> None:
    model, x = case
    a = model.attribute(x, method, target=1, batch_size=2)
    assert a.scores.shape == x.shape and a.step_scores.shape == x.shape[:2]
    np.testing.assert_array_equal(a.target, np.ones(len(x), dtype=np.int64))
    np.testing.assert_allclose(a.logits, model.forward(x), atol=1e-12)
    assert (a.completeness_error is not None) == (method == "ig")


def test_gradient_times_input_and_lrp_equal_explain(
    case: tuple[lstm_lrp.Model, np.ndarray],
) -> None:
    model, x = case
    g = model.attribute(x, "gradient")
    gxi = model.attribute(x, "gxi")
    np.testing.assert_allclose(gxi.scores, g.scores * x, atol=1e-12)
    np.testing.assert_allclose(
        model.attribute(x, "lrp").scores, model.explain(x).relevance, atol=1e-12
    )


def test_integrated_gradients_completeness_and_baseline(
    case: tuple[lstm_lrp.Model, np.ndarray],
) -> None:
    model, x = case
    ig = model.attribute(x, "ig", steps=256, target=0)
    assert ig.completeness_error is not None and np.all(ig.completeness_error < 1e-3)
    same = model.attribute(x, "ig", steps=256, target=0, baseline=np.zeros_like(x))
    np.testing.assert_allclose(same.scores, ig.scores, atol=1e-12)
