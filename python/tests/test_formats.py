"""Every fixture model format through Python: Keras 3 `.keras`/`.h5`/`.weights.h5`, Keras 2
`.hdf5`, PyTorch `.pt` (zip and legacy) and `.safetensors` state dicts, the canonical layout;
logits against the frameworks' own outputs and relevance against the reference's."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import assert_close, fixture, read_safetensors

import lstm_lrp

KERAS3 = ["a_bilstm_dense", "b_lstm_softmax", "c_embed_bilstmseq_lstm", "d_masking_bilstm_sum_mlp"]


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _keras3(name: str, form: str) -> lstm_lrp.Model:
    path = fixture(f"keras3/{name}.{form}")
    if form == "weights.h5" and name.startswith(("c_", "d_")):
        # Ambiguous from the weights alone (padding settings): the architecture is given.
        return lstm_lrp.load(path, keras_config=fixture(f"keras3/{name}.keras"))
    return lstm_lrp.load(path)


@pytest.mark.parametrize("form", ["keras", "h5", "weights.h5"])
@pytest.mark.parametrize("name", KERAS3)
def test_keras3_models_match_keras(name: str, form: str) -> None:
    model = _keras3(name, form)
    io, _ = read_safetensors(fixture(f"keras3/{name}.io.safetensors"))
    logits = model.forward(io["x"])
    out = _softmax(logits) if name.startswith("b_") else logits
    assert_close(out, io["output"], 1e-5)
    if "seed_lrp.relevance" in io:
        e = model.explain(io["x"], target=io["seed_lrp.target"])
        assert_close(e.logits, io["seed_lrp.logits"], 1e-9)
        assert_close(e.relevance, io["seed_lrp.relevance"], 1e-9)
        assert_close(e.rest, io["seed_lrp.rest"], 1e-9)


@pytest.mark.parametrize("name", KERAS3)
def test_the_three_keras_forms_explain_identically(name: str) -> None:
    io, _ = read_safetensors(fixture(f"keras3/{name}.io.safetensors"))
    results = [_keras3(name, form).explain(io["x"]) for form in ["keras", "h5", "weights.h5"]]
    for r in results[1:]:
        np.testing.assert_array_equal(r.relevance, results[0].relevance)
        np.testing.assert_array_equal(r.logits, results[0].logits)


def test_keras_config_as_a_dict_or_json_text() -> None:
    import json
    import zipfile

    with zipfile.ZipFile(fixture("keras3/c_embed_bilstmseq_lstm.keras")) as z:
        text = z.read("config.json").decode()
    weights = fixture("keras3/c_embed_bilstmseq_lstm.weights.h5")
    a = lstm_lrp.load(weights, keras_config=json.loads(text))
    b = lstm_lrp.load(weights, keras_config=text)
    io, _ = read_safetensors(fixture("keras3/c_embed_bilstmseq_lstm.io.safetensors"))
    np.testing.assert_array_equal(a.forward(io["x"]), b.forward(io["x"]))
    assert a.mask_zero and a.reads_tokens


@pytest.mark.parametrize("form", ["h5", "weights.h5"])
def test_keras3_regression(form: str) -> None:
    model = lstm_lrp.load(fixture(f"keras3/o_lstm_regression.{form}"))
    io, _ = read_safetensors(fixture("keras3/o_lstm_regression.io.safetensors"))
    assert model.num_classes == 1
    assert_close(model.forward(io["x"]), io["output"], 1e-5)


def test_keras2_hdf5_reproduces_the_golden_cases() -> None:
    model = lstm_lrp.load(fixture("keras2/keras2_sentiment_bilstm.hdf5"))
    for case in ["real_keras2_sentiment_eps0_bf1", "real_keras2_sentiment_eps1e-3_bf0"]:
        t, meta = read_safetensors(fixture(f"golden/{case}.safetensors"))
        e = model.explain(t["x"], eps=float(meta["eps"]), bias_factor=float(meta["bias_factor"]))
        assert_close(e.logits, t["logits"], 1e-9)
        assert_close(e.relevance, t["relevance"], 1e-9)
        assert_close(e.rest, t["rest"], 1e-9)


@pytest.mark.parametrize(
    ("name", "forms", "time_major"),
    [
        ("p1_bilstm_linear", ["state_dict.pt", "legacy.pt", "safetensors"], False),
        ("p3_lstm_timemajor", ["state_dict.pt", "safetensors"], True),
    ],
)
def test_pytorch_models_match_pytorch_and_the_reference(
    name: str, forms: list[str], time_major: bool
) -> None:
    io, _ = read_safetensors(fixture(f"pytorch/{name}.io.safetensors"))
    x = io["x"].transpose(1, 0, 2) if time_major else io["x"]  # a non-contiguous view
    for form in forms:
        model = lstm_lrp.load(fixture(f"pytorch/{name}.{form}"))
        assert_close(model.forward(x), io["logits"], 1e-5)
        e = model.explain(x, target=io["seed_lrp.target"])
        assert_close(e.logits, io["seed_lrp.logits"], 1e-9)
        assert_close(e.relevance, io["seed_lrp.relevance"], 1e-9)
        assert_close(e.rest, io["seed_lrp.rest"], 1e-9)


@pytest.mark.parametrize("form", ["state_dict.pt", "safetensors"])
def test_pytorch_packed_two_layer_model(form: str) -> None:
    model = lstm_lrp.load(fixture(f"pytorch/p2_embed_2layer_bilstm_packed.{form}"))
    io, _ = read_safetensors(fixture("pytorch/p2_embed_2layer_bilstm_packed.io.safetensors"))
    assert model.reads_tokens and len(model.hidden_sizes) == 2
    logits = model.forward(io["x"], lengths=io["lengths"])
    assert_close(logits, io["logits_f64"], 1e-9)


@pytest.mark.parametrize("form", ["state_dict.pt", "safetensors"])
def test_pytorch_regression(form: str) -> None:
    model = lstm_lrp.load(fixture(f"pytorch/p11_lstm_regression.{form}"))
    io, _ = read_safetensors(fixture("pytorch/p11_lstm_regression.io.safetensors"))
    assert_close(model.forward(io["x"]), io["logits_f64"], 1e-9)


def test_pytorch_training_checkpoint_without_its_optimizer_state() -> None:
    # A training loop's checkpoint: the model's and Adam's state dicts side by side.
    model = lstm_lrp.load(fixture("pytorch/round3/c1_checkpoint_adam.pt"), readout="final")
    io, _ = read_safetensors(fixture("pytorch/round3/c1_checkpoint_adam.io.safetensors"))
    assert_close(model.forward(io["x"], lengths=io["lengths"]), io["logits"], 1e-5)
    assert "optimizer state `optimizer_state_dict` (30 tensors) not read" in model.report


def test_pytorch_checkpoint_values_weight_norm_and_a_21_character_stem() -> None:
    # Numpy scalars and a torch.device beside the state dict are skipped and named; a state
    # dict saved under a 21-character file stem (which zip's start detection refuses) is read;
    # weight-normalised weights are folded.
    for stem, note in [
        ("round3/c10_numpy_scalars_device_set", "`device` (torch.device)"),
        ("round3/c11_21_character_stem", None),
        ("round4/w1_weight_norm_parametrizations", "weight norm folded into `fc.weight`"),
    ]:
        model = lstm_lrp.load(fixture(f"pytorch/{stem}.pt"), readout="final")
        io, _ = read_safetensors(fixture(f"pytorch/{stem}.io.safetensors"))
        assert_close(model.forward(io["x"]), io["logits"], 1e-5)
        if note is not None:
            assert note in model.report


def test_pytorch_modules_named_explicitly() -> None:
    # p10 stacks a GRU under an LSTM: found by their keys, or named bottom first.
    path = fixture("pytorch/p10_gru_lstm_stack.state_dict.pt")
    io, _ = read_safetensors(fixture("pytorch/p10_gru_lstm_stack.io.safetensors"))
    with pytest.warns(lstm_lrp.ModelAssumptionWarning, match="assumed readout `final`"):
        found = lstm_lrp.load(path)
    with pytest.warns(lstm_lrp.ModelAssumptionWarning, match="assumed readout `final`"):
        named = lstm_lrp.load(path, rnn="gru,lstm")
    assert found.cells == named.cells == ["GRU", "LSTM"]
    assert_close(found.forward(io["x"]), io["logits_f64"], 1e-9)
    np.testing.assert_array_equal(named.forward(io["x"]), found.forward(io["x"]))
    assert any("assumed readout `final`" in w for w in found.warnings)
    model = lstm_lrp.load(fixture("pytorch/p1_bilstm_linear.state_dict.pt"), lstm="lstm", head="fc")
    same = lstm_lrp.load(
        fixture("pytorch/p1_bilstm_linear.state_dict.pt"), rnn=["lstm"], head=[("fc", "linear")]
    )
    io, _ = read_safetensors(fixture("pytorch/p1_bilstm_linear.io.safetensors"))
    np.testing.assert_array_equal(model.forward(io["x"]), same.forward(io["x"]))


@pytest.mark.parametrize(
    ("name", "readout"),
    [("p6_bilstm_last", "last"), ("p7_bilstm_meanpool", "mean"), ("p8_lstm_maxpool", "max")],
)
def test_pytorch_readouts(name: str, readout: str) -> None:
    for form in ["state_dict.pt", "safetensors"]:
        model = lstm_lrp.load(fixture(f"pytorch/{name}.{form}"), readout=readout)
        io, _ = read_safetensors(fixture(f"pytorch/{name}.io.safetensors"))
        assert model.readout == readout and not model.warnings
        assert_close(model.forward(io["x"]), io["logits_f64"], 1e-9)
        e = model.explain(io["x"], eps=0.0, bias_factor=1.0)
        assert_close(e.relevance.sum(axis=(1, 2)) + e.rest, e.explained_logit, 1e-9)


def test_pytorch_per_step_model_at_a_step() -> None:
    model = lstm_lrp.load(fixture("pytorch/p9_lstm_per_step.safetensors"), readout="per-step")
    io, _ = read_safetensors(fixture("pytorch/p9_lstm_per_step.io.safetensors"))
    steps = io["x"].shape[1]
    for k in (0, steps - 1):
        assert_close(model.forward(io["x"], step=k), io["logits_f64"][:, k], 1e-9)
        e = model.explain(io["x"], step=k)
        assert np.all(e.relevance[:, k + 1 :] == 0.0), "later steps cannot matter"
    np.testing.assert_array_equal(
        model.forward(io["x"], step="last"), model.forward(io["x"], step=steps - 1)
    )


def test_every_step_equals_each_step_explained_alone() -> None:
    model = lstm_lrp.load(fixture("pytorch/p9_lstm_per_step.safetensors"), readout="per-step")
    io, _ = read_safetensors(fixture("pytorch/p9_lstm_per_step.io.safetensors"))
    b, t, e = io["x"].shape
    every = model.explain_every_step(io["x"], batch_size=2)
    assert every.relevance.shape == (b, t, t, e) and every.valid.all()
    assert_close(every.logits, io["logits_f64"], 1e-9)
    for k in range(t):
        one = model.explain(io["x"], step=k)
        # Batches of 2 against one batch of all: a product's rounding may depend on its number
        # of rows, so equal up to f64 rounding rather than bit for bit.
        assert_close(every.relevance[:, k], one.relevance, 1e-13, f"step {k}")
        np.testing.assert_array_equal(every.target[:, k], one.target)
        assert_close(every.rest[:, k], one.rest, 1e-13, f"rest at step {k}")
    with pytest.raises(ValueError, match="explain_every_step"):
        model.explain(io["x"], step="all")  # type: ignore[arg-type]


def test_every_step_of_a_padded_batch_marks_the_padding() -> None:
    # Keras Masking -> LSTM(seq) -> TimeDistributed(Dense): one sequence pre-padded.
    model = lstm_lrp.load(fixture("keras3/p_masking_lstm_seq_timedistributed.keras"))
    io, _ = read_safetensors(fixture("keras3/p_masking_lstm_seq_timedistributed.io.safetensors"))
    every = model.explain_every_step(io["x"])
    real = io["mask"].astype(bool)
    np.testing.assert_array_equal(every.valid, real)
    assert np.all(every.target[~real] == -1)
    assert np.all(every.relevance[~real] == 0.0)
    # A unidirectional LSTM: inputs after the explained position get exactly nothing.
    for s, k in zip(*np.nonzero(real)):
        assert np.all(every.relevance[s, k, k + 1 :] == 0.0)
    with pytest.raises(ValueError, match="one output per sequence"):
        lstm_lrp.load(fixture("keras3/a_bilstm_dense.keras")).explain_every_step(
            np.zeros((1, 3, 4))
        )


@pytest.mark.parametrize(
    "name",
    ["e_lstm_go_backwards", "h_embed_mask_bigru_reset_before", "j_bilstm_seq_maxpool"],
)
def test_keras3_gru_go_backwards_and_pooling(name: str) -> None:
    model = lstm_lrp.load(fixture(f"keras3/{name}.keras"))
    io, _ = read_safetensors(fixture(f"keras3/{name}.io.safetensors"))
    assert_close(model.forward(io["x"]), io["output"], 1e-5)
    assert model.explain(io["x"]).relevance.shape[:2] == io["x"].shape[:2]


def test_a_masked_max_pooled_keras_model_warns_that_keras_pools_the_padding() -> None:
    with pytest.warns(lstm_lrp.ModelAssumptionWarning, match="GlobalMaxPooling1D") as caught:
        model = lstm_lrp.load(fixture("keras3/l_embed_mask_bilstm_seq_maxpool.keras"))
    assert [str(w.message) for w in caught] == model.warnings and len(model.warnings) == 1
    # Max pooling without a mask: nothing to warn about.
    with warnings.catch_warnings():
        warnings.simplefilter("error", lstm_lrp.ModelAssumptionWarning)
        assert not lstm_lrp.load(fixture("keras3/j_bilstm_seq_maxpool.keras")).warnings


def test_format_can_be_forced() -> None:
    path = fixture("keras3/a_bilstm_dense.h5")
    assert lstm_lrp.load(path, format="keras-h5").num_classes == 3
    with pytest.raises(ValueError, match="zip archive"):
        lstm_lrp.load(path, format="keras")  # an HDF5 file is not a zip archive
    with pytest.raises(ValueError, match="unknown model format"):
        lstm_lrp.load(path, format="onnx")


def test_repr_names_format_layers_and_conversions() -> None:
    model = lstm_lrp.load(fixture("pytorch/p2_embed_2layer_bilstm_packed.state_dict.pt"))
    text = repr(model)
    assert text.startswith("lstm_lrp.Model(")
    assert "PyTorch state dict" in text
    assert "embedding: 50 token ids → 8 dimensions" in text
    assert "bidirectional LSTM (concat), 8 → 10 units" in text
    assert "gate order i, f, g, o" in text  # the conversion applied
    assert model.vocab_size == 50 and model.input_size == 8 and model.num_classes == 4
    assert model.hidden_sizes == [10, 10] and model.bidirectional == [True, True]
    assert model.cells == ["LSTM", "LSTM"] and model.readout == "final"


def test_float32_precision_is_close_to_float64() -> None:
    t, _ = read_safetensors(fixture("golden/larger.safetensors"))
    model = lstm_lrp.load(fixture("golden/larger.safetensors"))
    e64 = model.explain(t["x"])
    e32 = model.explain(t["x"].astype(np.float32), precision="f32")
    np.testing.assert_allclose(e32.relevance, e64.relevance, atol=1e-4, rtol=1e-3)
    np.testing.assert_array_equal(e32.target, e64.target)
