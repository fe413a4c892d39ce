"""The heatmap in a notebook (`_repr_html_`) and as a page, with and without tokens."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fixture, read_safetensors

import lstm_lrp

P2 = "pytorch/p2_embed_2layer_bilstm_packed"


@pytest.fixture(scope="module")
def tokens_explanation() -> lstm_lrp.Explanation:
    io, _ = read_safetensors(fixture(f"{P2}.io.safetensors"))
    return lstm_lrp.load(fixture(f"{P2}.safetensors")).explain(io["x"], lengths=io["lengths"])


def test_notebook_fragment_is_scoped_and_labelled_by_ids(
    tokens_explanation: lstm_lrp.Explanation,
) -> None:
    e = tokens_explanation
    cell = e._repr_html_()
    assert cell.startswith('<div class="lstm-lrp">')
    assert "<body" not in cell and "body{" not in cell, "must not restyle the notebook"
    assert cell.count('class="row"') == len(e)
    # Only the real steps are shown: one span per real token.
    assert cell.count('class="w"') == int(e.real.sum())  # type: ignore[union-attr]
    first_id = str(e.token_ids[0, 0])  # type: ignore[index]
    assert f">{first_id}</span>" in cell
    assert f"explained {e.target[0]}" in cell


def test_tokens_are_escaped_and_may_cover_every_step(
    tokens_explanation: lstm_lrp.Explanation,
) -> None:
    e = tokens_explanation
    steps = e.relevance.shape[1]
    words = [[f"<w{k}&>" for k in range(steps)] for _ in range(len(e))]
    cell = e.with_tokens(words)._repr_html_()
    assert "&lt;w0&amp;&gt;" in cell and "<w0&>" not in cell
    real = [[f"r{k}" for k in range(int(n))] for n in e.real.sum(axis=1)]  # type: ignore[union-attr]
    assert ">r0</span>" in e.html(real)
    with pytest.raises(ValueError, match="tokens\\[0\\] has 1 words"):
        e.html([["x"]] * len(e))
    with pytest.raises(ValueError, match="tokens has 1 sequences"):
        e.with_tokens([["x"]])


def test_page_and_rows(tokens_explanation: lstm_lrp.Explanation) -> None:
    e = tokens_explanation
    page = e.html(title="p2 <demo>")
    assert page.startswith("<!DOCTYPE html>") and "<title>p2 &lt;demo&gt;</title>" in page
    rows = e.rows()
    assert len(rows) == len(e)
    assert rows[0]["target"] == int(e.target[0])
    assert len(rows[0]["relevance"]) == len(rows[0]["tokens"])
    np.testing.assert_allclose(sum(rows[1]["relevance"]), e.step_relevance[1].sum(), atol=1e-12)


def test_feature_input_is_labelled_by_step_and_long_outputs_are_cut() -> None:
    path = fixture("golden/tiny.safetensors")
    x = read_safetensors(path)[0]["x"]
    e = lstm_lrp.load(path).explain(np.concatenate([x] * 40))  # 80 sequences
    cell = e._repr_html_()
    assert ">t0</span>" in cell and ">t4</span>" in cell
    assert cell.count('class="row"') == e.max_rows_shown
    assert "30 more sequences" in cell
    assert e.html().count('class="row"') == 80
    assert "Explanation(B=80, T=5, E=4, C=2" in repr(e)
