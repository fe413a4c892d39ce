"""Every class of bad input is a ValueError, TypeError or OSError carrying a one-line message,
decided before or inside the library: never a panic (the autouse fixture in conftest.py checks
that the boundary guard caught nothing), never an abort."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from conftest import fixture, read_safetensors

import lstm_lrp

GOLDEN = fixture("golden/tiny.safetensors")  # E = 4, C = 2, feature input
TOKENS = fixture("pytorch/p2_embed_2layer_bilstm_packed.safetensors")  # vocabulary 50


@pytest.fixture(scope="module")
def model() -> lstm_lrp.Model:
    return lstm_lrp.load(GOLDEN)


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    return read_safetensors(GOLDEN)[0]["x"]


def _one_line(err: BaseException) -> None:
    text = str(err)
    assert text and "\n" not in text, repr(text)
    assert "panicked" not in text and "internal error" not in text


def _raises(kind: type[BaseException], match: str, f: Callable[[], Any]) -> None:
    with pytest.raises(kind, match=match) as info:
        f()
    _one_line(info.value)


# --- wrong shape ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((5,), "x has shape \\(5,\\), expected 3 dimensions"),
        ((2, 3, 4, 1), "expected 3 dimensions"),
        ((2, 3, 5), "5 features per time step, but the model expects 4"),
        ((0, 3, 4), "empty"),
        ((2, 0, 4), "empty"),
    ],
)
def test_wrong_shapes(model: lstm_lrp.Model, shape: tuple[int, ...], match: str) -> None:
    _raises(ValueError, match, lambda: model.explain(np.zeros(shape)))


def test_token_ids_for_a_feature_model_and_back(model: lstm_lrp.Model) -> None:
    _raises(ValueError, "holds token ids", lambda: model.explain(np.zeros((2, 3), dtype=np.int64)))
    tokens = lstm_lrp.load(TOKENS)
    _raises(ValueError, "reads token ids", lambda: tokens.explain(np.zeros((2, 3, 8))))
    _raises(ValueError, "token id 50 in sample 1", lambda: tokens.explain(np.array([[1], [50]])))
    _raises(ValueError, "token id -1", lambda: tokens.explain(np.array([[1, -1]])))


def test_padding_that_does_not_fit(model: lstm_lrp.Model, x: np.ndarray) -> None:
    _raises(ValueError, "lengths has 1 values for 2", lambda: model.explain(x, lengths=[5]))
    _raises(ValueError, "longer than", lambda: model.explain(x, lengths=[5, 6]))
    _raises(ValueError, "lengths must be >= 1|empty", lambda: model.explain(x, lengths=[5, 0]))
    _raises(ValueError, "lengths\\[1\\] is -2", lambda: model.explain(x, lengths=[5, -2]))
    _raises(
        ValueError, "mask has shape", lambda: model.explain(x, mask=np.ones((2, 4), dtype=bool))
    )
    _raises(ValueError, "empty", lambda: model.explain(x, mask=np.zeros((2, 5), dtype=bool)))
    _raises(TypeError, "lengths has dtype float", lambda: model.explain(x, lengths=[5.0, 5.0]))
    _raises(ValueError, "lengths has shape", lambda: model.explain(x, lengths=[[5, 5]]))


# --- NaN -------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_name_the_sample(
    model: lstm_lrp.Model, x: np.ndarray, bad: float
) -> None:
    y = np.concatenate([x, x, x])  # 6 samples; batches of 4: the bad one is in the second
    y[5, 2, 1] = bad
    _raises(ValueError, "non-finite value .* in sample 5", lambda: model.explain(y, batch_size=4))
    _raises(ValueError, "non-finite", lambda: model.forward(y))
    _raises(ValueError, "non-finite", lambda: model.attribute(y, "gradient"))


# --- bad file --------------------------------------------------------------------------------


def test_missing_file() -> None:
    _raises(
        FileNotFoundError,
        "cannot read .*no-such-model.keras",
        lambda: lstm_lrp.load("no-such-model.keras"),
    )


def test_a_directory_is_an_os_error(tmp_path: Path) -> None:
    _raises(OSError, str(tmp_path), lambda: lstm_lrp.load(tmp_path))


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "unrecognised model file"),
        (b"not a model at all\n" * 10, "unrecognised model file"),
        (b"\x89HDF\r\n\x1a\n" + b"\0" * 64, "HDF5|hdf5|superblock|truncated"),
        (b"PK\x03\x04" + b"\0" * 40, "zip|archive"),
        (b'\x10\0\0\0\0\0\0\0{"a": 1}      ', "safetensors"),
    ],
)
def test_malformed_files(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match) as info:
        lstm_lrp.load(path)
    _one_line(info.value)
    assert str(path) in str(info.value)


def test_truncated_real_files(tmp_path: Path) -> None:
    for rel in [
        "keras3/a_bilstm_dense.keras",
        "keras3/a_bilstm_dense.h5",
        "pytorch/p1_bilstm_linear.state_dict.pt",
        "pytorch/p1_bilstm_linear.safetensors",
    ]:
        data = fixture(rel).read_bytes()
        cuts = [len(data) // 3, 2 * len(data) // 3]
        if not rel.endswith(".h5"):  # an HDF5 file's last bytes may be unused space
            cuts.append(len(data) - 7)
        for cut in cuts:
            path = tmp_path / f"cut{cut}_{Path(rel).name}"
            path.write_bytes(data[:cut])
            with pytest.raises(ValueError) as info:
                lstm_lrp.load(path)
            _one_line(info.value)


def test_refused_models_say_what_to_do() -> None:
    _raises(
        ValueError,
        "pickled",
        lambda: lstm_lrp.load(fixture("pytorch/p1_bilstm_linear.full_module.pt")),
    )
    _raises(
        ValueError,
        "TorchScript module",
        lambda: lstm_lrp.load(fixture("pytorch/round3/c4_torchscript.pt")),
    )
    _raises(
        ValueError,
        "ambiguous",
        lambda: lstm_lrp.load(fixture("keras3/c_embed_bilstmseq_lstm.weights.h5")),
    )
    _raises(
        FileNotFoundError,
        "no-config.json",
        lambda: lstm_lrp.load(
            fixture("keras3/c_embed_bilstmseq_lstm.weights.h5"), keras_config="no-config.json"
        ),
    )


# --- unknown option --------------------------------------------------------------------------


def test_unknown_keyword_arguments_are_type_errors(model: lstm_lrp.Model, x: np.ndarray) -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'epsilon'"):
        model.explain(x, epsilon=0.1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        lstm_lrp.load(GOLDEN, vocab="v.txt")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"gate_rule": "most"}, 'gate_rule="most": unknown gate rule'),
        ({"device": "gpu"}, 'device="gpu": unknown device `gpu`'),
        ({"device": "wgpu", "precision": "f64"}, "does not support f64|needs lstm-lrp built"),
        ({"device": "tch-cuda:0"}, "needs lstm-lrp built with `--features tch`|not available"),
        ({"precision": "f16"}, "unknown precision `f16`"),
        ({"eps": -1.0}, "invalid setting `eps`"),
        ({"eps": float("nan")}, "invalid setting `eps`"),
        ({"bias_factor": float("inf")}, "invalid setting `bias_factor`"),
        ({"batch_size": 0}, "batch_size=0"),
        ({"target": 2}, "target class 2 for sample 0 is out of range: the model has 2"),
        ({"target": -1}, "negative"),
        ({"target": [0, 1, 1]}, "3 target classes were given for a batch of 2"),
        ({"target": [0, 5]}, "target class 5 for sample 1"),
    ],
)
def test_bad_option_values(
    model: lstm_lrp.Model, x: np.ndarray, kwargs: dict[str, Any], match: str
) -> None:
    _raises(ValueError, match, lambda: model.explain(x, **kwargs))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"eps": "small"},
        {"gate_rule": 1},
        {"target": 1.5},
        {"target": True},
        {"target": ["a", "b"]},
        {"batch_size": 2.0},
        {"device": None},
    ],
)
def test_option_types(model: lstm_lrp.Model, x: np.ndarray, kwargs: dict[str, Any]) -> None:
    with pytest.raises(TypeError) as info:
        model.explain(x, **kwargs)
    _one_line(info.value)


def test_load_option_values() -> None:
    _raises(
        ValueError,
        "readout= is for PyTorch state dicts",
        lambda: lstm_lrp.load(GOLDEN, readout="mean"),
    )
    _raises(
        ValueError,
        'readout="median"',
        lambda: lstm_lrp.load(fixture("pytorch/p7_bilstm_meanpool.safetensors"), readout="median"),
    )
    _raises(
        ValueError,
        "unknown activation `gelu`",
        lambda: lstm_lrp.load(fixture("pytorch/p1_bilstm_linear.safetensors"), head="fc:gelu"),
    )
    _raises(
        ValueError,
        "decoder",
        lambda: lstm_lrp.load(fixture("pytorch/p1_bilstm_linear.safetensors"), rnn="decoder"),
    )
    with pytest.raises(TypeError):
        lstm_lrp.load(GOLDEN, format=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not both"):
        lstm_lrp.load(GOLDEN, lstm="a", rnn="b")


def test_step_only_for_per_step_models(model: lstm_lrp.Model, x: np.ndarray) -> None:
    _raises(ValueError, "per-step|step", lambda: model.explain(x, step="last"))
    per_step = lstm_lrp.load(fixture("pytorch/p9_lstm_per_step.safetensors"), readout="per-step")
    io, _ = read_safetensors(fixture("pytorch/p9_lstm_per_step.io.safetensors"))
    _raises(ValueError, "one output per time step", lambda: per_step.explain(io["x"]))
    _raises(ValueError, "step=-1", lambda: per_step.explain(io["x"], step=-1))
    with pytest.raises(TypeError):
        per_step.explain(io["x"], step=1.5)  # type: ignore[arg-type]


def test_attribution_options(model: lstm_lrp.Model, x: np.ndarray) -> None:
    _raises(
        ValueError, 'method="shap": unknown attribution method', lambda: model.attribute(x, "shap")
    )
    _raises(
        ValueError, "at least one interpolation point", lambda: model.attribute(x, "ig", steps=0)
    )
    _raises(ValueError, "baseline", lambda: model.attribute(x, "ig", baseline=np.zeros((2, 5, 3))))
    _raises(
        TypeError,
        "baseline",
        lambda: model.attribute(x, "ig", baseline=np.zeros((2, 5), dtype=np.int64)),
    )


# --- wrong types -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((2, 5, 4), dtype=bool),
        np.zeros((2, 5, 4), dtype=complex),
        np.array([["a", "b"]]),
        np.array([[object()]]),
        {"x": 1},
        "x.npy",
        None,
    ],
)
def test_inputs_of_the_wrong_type(model: lstm_lrp.Model, bad: Any) -> None:
    with pytest.raises(TypeError) as info:
        model.explain(bad)
    _one_line(info.value)


def test_ragged_lists_and_other_dtypes(model: lstm_lrp.Model, x: np.ndarray) -> None:
    _raises(
        ValueError, "cannot be read as an array", lambda: model.explain([[[0.0]], [[0.0, 1.0]]])
    )
    # Convertible dtypes are converted: float16, big-endian float64, nested lists.
    base = model.explain(x).relevance
    np.testing.assert_array_equal(model.explain(x.astype(">f8")).relevance, base)
    np.testing.assert_array_equal(model.explain(x.tolist()).relevance, base)
    assert model.explain(x.astype(np.float16)).relevance.shape == base.shape


# --- the guard itself ------------------------------------------------------------------------


@pytest.mark.panics
def test_a_panic_becomes_a_runtime_error() -> None:
    before = lstm_lrp._native._panics_caught()
    with pytest.raises(RuntimeError, match="internal error in lstm-lrp .*deliberate panic"):
        lstm_lrp._native._panic_inside_guard()
    assert lstm_lrp._native._panics_caught() == before + 1
    # The interpreter and the library go on working.
    t, _ = read_safetensors(GOLDEN)
    assert lstm_lrp.load(GOLDEN).explain(t["x"]).relevance.shape == (2, 5, 4)


def test_errors_are_not_runtime_errors_or_base_exceptions(model: lstm_lrp.Model) -> None:
    # A panic would surface as RuntimeError (guard) or pyo3's PanicException (a BaseException,
    # not an Exception): every bad input above is one of the three documented classes instead.
    for f in (
        lambda: model.explain(np.full((1, 2, 4), np.nan)),
        lambda: model.explain(np.zeros((1, 2, 4)), lengths=[9]),
        lambda: lstm_lrp.load(fixture("pytorch/p1_bilstm_linear.full_module.pt")),
    ):
        try:
            f()
        except (ValueError, TypeError, OSError) as e:
            assert not isinstance(e, RuntimeError)
            _one_line(e)
        else:
            raise AssertionError("no error")
