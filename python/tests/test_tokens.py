"""Token input: ids with lengths or masks, int32 and int64, padding with zero relevance."""

from __future__ import annotations

import numpy as np
from conftest import fixture, read_safetensors

import lstm_lrp

P2 = "pytorch/p2_embed_2layer_bilstm_packed"
C = "keras3/c_embed_bilstmseq_lstm"


def test_tokens_with_lengths() -> None:
    model = lstm_lrp.load(fixture(f"{P2}.safetensors"))
    io, _ = read_safetensors(fixture(f"{P2}.io.safetensors"))
    ids, lengths = io["x"], io["lengths"]
    e = model.explain(ids, lengths=lengths)
    b, t = ids.shape
    assert e.relevance.shape == (b, t, model.input_size) and e.step_relevance.shape == (b, t)
    for s in range(b):
        assert np.all(e.relevance[s, lengths[s] :] == 0.0), "padding gets exactly 0"
        assert np.any(e.relevance[s, : lengths[s]] != 0.0)
    np.testing.assert_allclose(e.logits, io["logits_f64"], atol=1e-9)
    assert e.real is not None and e.real.sum() == lengths.sum()
    # Each sequence scores as if it had been given alone, unpadded.
    for s in range(b):
        alone = model.explain(ids[s : s + 1, : lengths[s]])
        np.testing.assert_allclose(alone.logits[0], e.logits[s], atol=1e-12)
        np.testing.assert_allclose(alone.relevance[0], e.relevance[s, : lengths[s]], atol=1e-12)


def test_lengths_and_mask_agree_and_int32_equals_int64() -> None:
    model = lstm_lrp.load(fixture(f"{P2}.safetensors"))
    io, _ = read_safetensors(fixture(f"{P2}.io.safetensors"))
    ids, lengths, mask = io["x"], io["lengths"], io["mask"]
    by_lengths = model.explain(ids, lengths=lengths)
    by_mask = model.explain(ids, mask=mask)  # uint8, nonzero = real
    by_bool_mask = model.explain(ids.astype(np.int32), mask=mask.astype(bool))
    for other in (by_mask, by_bool_mask):
        np.testing.assert_array_equal(other.relevance, by_lengths.relevance)
        np.testing.assert_array_equal(other.logits, by_lengths.logits)


def test_keras_mask_zero_is_derived_and_an_explicit_mask_matches() -> None:
    model = lstm_lrp.load(fixture(f"{C}.keras"))
    io, _ = read_safetensors(fixture(f"{C}.io.safetensors"))
    assert model.mask_zero and io["x"].dtype == np.int32
    own = model.explain(io["x"])
    given = model.explain(io["x"], mask=io["mask"])  # some sequences are pre-padded
    np.testing.assert_allclose(own.relevance, given.relevance, atol=1e-12)
    np.testing.assert_allclose(model.forward(io["x"]), io["output"], atol=1e-5)
    assert own.real is not None
    np.testing.assert_array_equal(own.real, io["x"] != 0)


def test_batches_give_the_same_result_as_one_call() -> None:
    model = lstm_lrp.load(fixture(f"{P2}.safetensors"))
    io, _ = read_safetensors(fixture(f"{P2}.io.safetensors"))
    whole = model.explain(io["x"], lengths=io["lengths"])
    parts = model.explain(io["x"], lengths=io["lengths"], batch_size=2)
    np.testing.assert_allclose(parts.relevance, whole.relevance, atol=1e-12)
    np.testing.assert_array_equal(parts.target, whole.target)


def test_per_sample_targets_across_batches() -> None:
    model = lstm_lrp.load(fixture(f"{P2}.safetensors"))
    io, _ = read_safetensors(fixture(f"{P2}.io.safetensors"))
    target = np.array([3, 2, 1, 0, 3])
    e = model.explain(io["x"], lengths=io["lengths"], target=target, batch_size=2)
    np.testing.assert_array_equal(e.target, target)
    e1 = model.explain(io["x"], lengths=io["lengths"], target=1)
    np.testing.assert_array_equal(e1.target, np.ones(5, dtype=np.int64))
