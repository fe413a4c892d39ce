"""Explain LSTM classifiers with Layer-wise Relevance Propagation (LRP).

A Rust core (the ``lstm-lrp`` library on burn) with numpy arrays in and out::

    import numpy as np
    import lstm_lrp

    model = lstm_lrp.load("model.keras")            # Keras, PyTorch state dicts, canonical
    e = model.explain(x)                              # x: (B, T, E) floats or (B, T) token ids
    e.relevance                                       # (B, T, E), in the units of the logit
    e.step_relevance                                  # (B, T): per time step / token
    e                                                 # in a notebook: the heatmap

Every computation runs with the GIL released, so several Python threads may explain at once
(with one model or several). Bad input raises ``ValueError``, ``TypeError`` or ``OSError``
with a one-line message; an internal error of the library raises ``RuntimeError`` (it never
aborts the interpreter).

Shapes: ``B`` sequences (batch), ``T`` time steps, ``E`` features per step (for token input:
the embedding's dimensions), ``C`` classes (the model's outputs).
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar, Optional, Union

import numpy as np

from . import _native

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from numpy.typing import ArrayLike, NDArray

__all__ = [
    "Attribution",
    "Explanation",
    "StepExplanation",
    "Model",
    "ModelAssumptionWarning",
    "available_devices",
    "load",
    "__version__",
]

__version__: str = _native.__version__

PathLike = Union[str, "os.PathLike[str]"]
#: A PyTorch head entry: ``"fc1"``, ``"fc1:relu"`` or ``("fc1", "relu")``.
HeadEntry = Union[str, "tuple[str, str]"]


class ModelAssumptionWarning(UserWarning):
    """Issued by :func:`load` for each of :attr:`Model.warnings`: an assumption the file could
    not settle (a PyTorch head's readout) or a known departure from the framework's own output
    (Keras' ``GlobalMaxPooling1D`` on a masked model). The CLI prints the same lines."""


def available_devices() -> list[str]:
    """The device names this build accepts (``cpu`` always; ``tch-cuda:N`` stands for N)."""
    return list(_native.available_devices())


def load(
    path: PathLike,
    *,
    format: Optional[str] = None,
    keras_config: Union[PathLike, Mapping[str, Any], None] = None,
    lstm: Union[str, Sequence[str], None] = None,
    head: Union[str, Sequence[HeadEntry], None] = None,
    embedding: Optional[str] = None,
    readout: Optional[str] = None,
    rnn: Union[str, Sequence[str], None] = None,
) -> Model:
    """Read a model file; the format is detected from the content.

    Args:
        path: Keras 3 ``.keras``, Keras 2/3 ``.h5``/``.hdf5``, Keras 3 ``.weights.h5``, a
            PyTorch ``nn.LSTM`` state dict (``.pt``/``.pth`` from ``torch.save``, or
            ``.safetensors``; a training checkpoint, Lightning's ``.ckpt`` too, is read without
            its optimizer state, metrics and configuration values), or the canonical
            safetensors layout. A pickled whole module, a pickled call or a TorchScript file is
            refused (pickled code is never executed).
        format: force a format instead of detecting it: ``canonical``, ``keras``,
            ``keras-h5``, ``keras-weights``, ``torch``, ``torch-safetensors``.
        keras_config: the architecture for a ``.weights.h5`` file: its ``.keras`` file or
            ``config.json`` (a path), or the configuration itself (a dict, or JSON text
            starting with ``{``). Needed when the weights alone are ambiguous.
        lstm: PyTorch: the ``nn.LSTM``/``nn.GRU`` modules' names in the state dict, bottom
            first (``"encoder.lstm"``, ``"gru,lstm"`` or a list); found by name and size when
            not given. ``rnn=`` is the same option under the CLI's name (``--rnn``).
        head: PyTorch: the head's ``nn.Linear`` modules in order, each optionally with the
            activation after it: ``"fc1:relu,fc2"``, ``["fc1:relu", "fc2"]`` or
            ``[("fc1", "relu"), ("fc2", "linear")]`` (linear, relu, tanh; the last layer's
            activation is not applied: the explained score is the logit).
        embedding: PyTorch: the ``nn.Embedding`` module's name.
        readout: PyTorch: how the head reads the last recurrent module: ``final`` (``h_n``,
            the default, reported as assumed), ``last`` (``output[:, -1]``), ``mean``, ``max``,
            or ``per-step``. Keras files say it themselves (giving it is a ``ValueError``).

    Returns:
        The model, ready to explain on any device (placed on one at first use).

    Warns:
        ModelAssumptionWarning: once per line of the model's ``warnings`` (what the file
            leaves open, or where the explanation knowingly departs from the framework).

    Raises:
        FileNotFoundError, PermissionError, OSError: the file cannot be read.
        ValueError: a malformed file, an unsupported architecture (a Conv1D or
            LayerNormalization layer, a projected LSTM, …; the message names the layer; the
            CLI's ``lstm-lrp inspect --help`` lists what is read), an unknown option value.
        TypeError: an argument of the wrong type.
    """
    if lstm is not None and rnn is not None:
        raise TypeError("give lstm= or rnn= (the same option), not both")
    config_path: Optional[str] = None
    config_json: Optional[str] = None
    if isinstance(keras_config, (dict, list)):
        config_json = json.dumps(keras_config)
    elif isinstance(keras_config, str) and keras_config.lstrip().startswith("{"):
        config_json = keras_config
    elif keras_config is not None:
        config_path = os.fspath(keras_config)  # type: ignore[arg-type]
    native = _native.load(
        os.fspath(path),
        format=_optional_str("format", format),
        keras_config=config_path,
        keras_config_json=config_json,
        rnn=_names("rnn", rnn if rnn is not None else lstm),
        head=_head_entries(head),
        embedding=_optional_str("embedding", embedding),
        readout=_optional_str("readout", readout),
    )
    model = Model(native)
    for line in model.warnings:
        warnings.warn(line, ModelAssumptionWarning, stacklevel=2)
    return model


class Model:
    """An LSTM classifier read by :func:`load`.

    Attributes:
        path: the file it was read from.
        report: what was read: format, layers, the conversions applied (gate order,
            transposes, bias sums) and notes, one per line.
        num_classes: ``C``, the number of outputs.
        reads_tokens: whether the model starts with an embedding (input: token ids ``(B, T)``).
        input_size: ``E``: features per step, or the embedding's dimensions.
        vocab_size: the embedding's rows (``None`` for feature input).
        mask_zero: token id 0 is padding (Keras ``Embedding(mask_zero=True)``).
        mask_value: Keras ``Masking(mask_value)``: a step whose features all equal it is padding.
        cells, hidden_sizes, bidirectional: per recurrent layer, bottom first: ``LSTM``/``GRU``,
            units per direction, whether it reads both ways.
        readout: how the head reads the last recurrent layer (``final``, ``last``, ``mean``,
            ``max``, ``per-step``).
        warnings: assumptions the file could not settle (a PyTorch head's readout) and known
            departures from the framework's own output (Keras' ``GlobalMaxPooling1D`` on a
            masked model), one line each.
    """

    def __init__(self, native: _native.NativeModel) -> None:
        self._native = native
        info = native.info()
        self.path: str = native.path
        self.report: str = native.report
        self.format: str = info["format"]
        self.layers: list[str] = list(info["layers"])
        self.conversions: list[str] = list(info["conversions"])
        self.num_classes: int = info["num_classes"]
        self.num_parameters: int = info["num_parameters"]
        self.reads_tokens: bool = info["reads_tokens"]
        self.input_size: int = info["input_size"]
        self.vocab_size: Optional[int] = info["vocab_size"]
        self.mask_zero: bool = info["mask_zero"]
        self.mask_value: Optional[float] = info["mask_value"]
        self.cells: list[str] = list(info["cells"])
        self.hidden_sizes: list[int] = list(info["hidden_sizes"])
        self.bidirectional: list[bool] = list(info["bidirectional"])
        self.readout: str = info["readout"]
        self.warnings: list[str] = list(info["warnings"])

    def __repr__(self) -> str:
        body = "\n".join("  " + line for line in self.report.rstrip().splitlines())
        return f"lstm_lrp.Model({self.path!r})\n{body}"

    def explain(
        self,
        x: ArrayLike,
        *,
        eps: float = 1e-3,
        bias_factor: float = 0.0,
        gate_rule: str = "all",
        target: Union[int, ArrayLike, None] = None,
        lengths: Optional[ArrayLike] = None,
        mask: Optional[ArrayLike] = None,
        batch_size: int = 256,
        device: str = "cpu",
        precision: str = "f64",
        step: Union[int, str, None] = None,
    ) -> Explanation:
        """Explain the target class of every sequence with LRP.

        Args:
            x: feature vectors, a float array ``(B, T, E)`` (float32 or float64 are read in
                place when C-contiguous; other float types are converted), or token ids, an
                integer array ``(B, T)`` for a model with an embedding.
            eps: stabiliser ε ≥ 0 of the ε-rule.
            bias_factor: share of bias and stabiliser redistributed to the inputs (with
                ``eps=0``, ``bias_factor=1`` the relevance is conserved: ``relevance.sum() +
                rest`` equals the explained logit).
            gate_rule: ``all`` (signal takes all, the references'), ``prop``, ``abs`` or
                ``half`` (Arras et al. 2019).
            target: ``None`` (the predicted class), a class index for every sequence, or an
                integer array ``(B,)`` with one class per sequence.
            lengths: ``(B,)`` real length of each sequence (post-padding); overrides the
                padding the model derives itself (``mask_zero``, ``Masking``).
            mask: ``(B, T)``, nonzero/True at real steps (any padding pattern); overrides
                ``lengths``.
            batch_size: sequences explained at once (bounds memory).
            device: ``cpu`` (the default CPU backend) or another name of
                :func:`available_devices`.
            precision: ``f64`` or ``f32``.
            step: for a per-step model (``readout == "per-step"``: one output per time step),
                the output explained: ``"last"`` (each sequence's last real step) or a
                position; required for such models, refused for the others.

        Returns:
            The :class:`Explanation`: ``relevance (B, T, E)``, ``step_relevance (B, T)``,
            ``rest (B,)``, ``logits (B, C)``, ``target (B,)``.

        Raises:
            ValueError: a wrong shape, NaN or infinite values, token ids outside the
                vocabulary, padding that does not fit, a target out of range, an unknown
                option value.
            TypeError: an unsupported dtype or argument type.
        """
        xa = _as_input(x)
        lengths_a = _as_lengths(lengths)
        mask_a = _as_mask(mask)
        out = self._native.explain(
            xa,
            eps=_float("eps", eps),
            bias_factor=_float("bias_factor", bias_factor),
            gate_rule=_str("gate_rule", gate_rule),
            target=_as_target(target),
            lengths=lengths_a,
            mask=mask_a,
            batch_size=_batch_size(batch_size),
            device=_str("device", device),
            precision=_str("precision", precision),
            step=_step(step),
        )
        return Explanation(
            relevance=out["relevance"],
            step_relevance=out["step_relevance"],
            rest=out["rest"],
            logits=out["logits"],
            target=out["target"],
            real=self._real_steps(xa, lengths_a, mask_a),
            token_ids=xa if self.reads_tokens else None,
        )

    def explain_every_step(
        self,
        x: ArrayLike,
        *,
        eps: float = 1e-3,
        bias_factor: float = 0.0,
        gate_rule: str = "all",
        target: Union[int, ArrayLike, None] = None,
        lengths: Optional[ArrayLike] = None,
        mask: Optional[ArrayLike] = None,
        batch_size: int = 32,
        device: str = "cpu",
        precision: str = "f64",
    ) -> StepExplanation:
        """Explain every output position of a per-step model (``readout == "per-step"``):
        what :meth:`explain` with ``step=k`` gives, for every ``k`` and every sequence for
        which position ``k`` is real (the CLI's ``--step all``).

        Arguments as for :meth:`explain`; ``target`` is resolved per position (``None``: each
        position's largest output; an int: that class everywhere; an array ``(B,)``: each
        sequence's class at all its positions). The result holds ``B · T² · E`` values:
        ``batch_size`` bounds the memory of one pass.

        Returns:
            The :class:`StepExplanation`: ``relevance (B, T_out, T, E)``, ``step_relevance
            (B, T_out, T)``, ``rest (B, T_out)``, ``logits (B, T_out, C)``, ``target (B,
            T_out)`` (−1 at padding) and ``valid (B, T_out)``.

        Raises:
            ValueError: a model with one output per sequence, and the errors of
                :meth:`explain`.
        """
        xa = _as_input(x)
        out = self._native.explain_every_step(
            xa,
            eps=_float("eps", eps),
            bias_factor=_float("bias_factor", bias_factor),
            gate_rule=_str("gate_rule", gate_rule),
            target=_as_target(target),
            lengths=_as_lengths(lengths),
            mask=_as_mask(mask),
            batch_size=_batch_size(batch_size),
            device=_str("device", device),
            precision=_str("precision", precision),
        )
        return StepExplanation(
            relevance=out["relevance"],
            step_relevance=out["step_relevance"],
            rest=out["rest"],
            logits=out["logits"],
            target=out["target"],
            valid=out["valid"],
        )

    def forward(
        self,
        x: ArrayLike,
        *,
        lengths: Optional[ArrayLike] = None,
        mask: Optional[ArrayLike] = None,
        batch_size: int = 256,
        device: str = "cpu",
        precision: str = "f64",
        step: Union[int, str, None] = None,
    ) -> NDArray[np.float64]:
        """The logits ``(B, C)``: the scores before the last layer's softmax/sigmoid.

        Arguments as in :meth:`explain`.
        """
        return self._native.forward(
            _as_input(x),
            lengths=_as_lengths(lengths),
            mask=_as_mask(mask),
            batch_size=_batch_size(batch_size),
            device=_str("device", device),
            precision=_str("precision", precision),
            step=_step(step),
        )

    def attribute(
        self,
        x: ArrayLike,
        method: str = "gradient",
        *,
        target: Union[int, ArrayLike, None] = None,
        lengths: Optional[ArrayLike] = None,
        mask: Optional[ArrayLike] = None,
        steps: int = 64,
        baseline: Optional[ArrayLike] = None,
        eps: float = 1e-3,
        bias_factor: float = 0.0,
        gate_rule: str = "all",
        batch_size: int = 256,
        device: str = "cpu",
        precision: str = "f64",
        step: Union[int, str, None] = None,
    ) -> Attribution:
        """A baseline attribution on the same vectors as LRP, for comparison.

        Args:
            method: ``gradient`` (sensitivity ∂f_c/∂x), ``gxi`` (gradient × input), ``ig``
                (integrated gradients, ``steps`` midpoint-rule points from ``baseline``,
                zeros by default), ``occlusion`` (f_c(x) − f_c(x without step t), spread
                over the step's E values) or ``lrp`` (as :meth:`explain`, with ``eps``,
                ``bias_factor``, ``gate_rule``).
            baseline: integrated gradients' starting point ``(B, T, E)`` on the model's
                input vectors (for token models: the embedding vectors).
            Other arguments as in :meth:`explain`.

        Returns:
            The :class:`Attribution`: ``scores (B, T, E)``, ``step_scores (B, T)``,
            ``logits (B, C)``, ``target (B,)``, and for ``ig`` the ``completeness_error (B,)``.
        """
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
            raise ValueError(f"steps={steps!r}: give a number of interpolation points >= 1")
        out = self._native.attribute(
            _as_input(x),
            _str("method", method),
            target=_as_target(target),
            lengths=_as_lengths(lengths),
            mask=_as_mask(mask),
            steps=int(steps),
            baseline=None if baseline is None else _as_input(baseline, name="baseline"),
            eps=_float("eps", eps),
            bias_factor=_float("bias_factor", bias_factor),
            gate_rule=_str("gate_rule", gate_rule),
            batch_size=_batch_size(batch_size),
            device=_str("device", device),
            precision=_str("precision", precision),
            step=_step(step),
        )
        return Attribution(
            method=method,
            scores=out["scores"],
            step_scores=out["step_scores"],
            logits=out["logits"],
            target=out["target"],
            completeness_error=out["completeness_error"],
        )

    def _real_steps(
        self,
        x: NDArray[Any],
        lengths: Optional[NDArray[np.int64]],
        mask: Optional[NDArray[np.bool_]],
    ) -> Optional[NDArray[np.bool_]]:
        """``(B, T)`` True at the steps the model read as real; ``None`` when all are."""
        steps = x.shape[1]
        if mask is not None:
            return mask
        if lengths is not None:
            real: NDArray[np.bool_] = np.arange(steps)[None, :] < lengths[:, None]
            return real
        if self.reads_tokens and self.mask_zero:
            return np.asarray(x != 0)
        if not self.reads_tokens and self.mask_value is not None:
            return np.asarray(~np.all(x == self.mask_value, axis=2))
        return None


@dataclass(frozen=True)
class StepExplanation:
    """The LRP explanation of every output position of ``B`` sequences through a per-step
    model (:meth:`Model.explain_every_step`; float64 unless stated). Positions are in the
    order the model returns its outputs.

    Attributes:
        relevance: ``(B, T_out, T, E)``: the relevance of input value ``(t, e)`` for the
            output at position ``k``; 0 where the position is not valid.
        step_relevance: ``(B, T_out, T)`` the sum over the feature/embedding axis.
        rest: ``(B, T_out)`` relevance left on the initial states.
        logits: ``(B, T_out, C)`` the outputs at each position (0 where not valid).
        target: ``(B, T_out)`` int64, the explained class, −1 where not valid.
        valid: ``(B, T_out)`` bool, the real output positions (their input step is real).
    """

    relevance: NDArray[np.float64]
    step_relevance: NDArray[np.float64]
    rest: NDArray[np.float64]
    logits: NDArray[np.float64]
    target: NDArray[np.int64]
    valid: NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.relevance.shape[0])

    def __repr__(self) -> str:
        b, t, _, e = self.relevance.shape
        return (
            f"StepExplanation(B={b}, T_out={t}, E={e}, C={self.logits.shape[2]}, "
            f"valid positions={int(self.valid.sum())})"
        )


@dataclass(frozen=True)
class Explanation:
    """The LRP explanation of ``B`` sequences (all arrays numpy, float64 unless stated).

    Attributes:
        relevance: ``(B, T, E)`` relevance of every input value, in the units of the logit;
            padding steps hold exactly 0.
        step_relevance: ``(B, T)`` the sum over the feature/embedding axis: per token.
        rest: ``(B,)`` relevance left on the initial LSTM states (with ``eps=0``,
            ``bias_factor=1``: ``relevance.sum((1, 2)) + rest`` = the explained logit).
        logits: ``(B, C)`` the model's scores before a final softmax/sigmoid.
        target: ``(B,)`` int64, the explained class.
        real: ``(B, T)`` bool, the steps the model read as real (from ``mask``/``lengths``
            or the model's own masking); ``None`` when every step is real.
        token_ids: ``(B, T)`` the input ids, for token input (labels the heatmap).
        tokens: optional words per sequence for the heatmap (see :meth:`with_tokens`).
    """

    relevance: NDArray[np.float64]
    step_relevance: NDArray[np.float64]
    rest: NDArray[np.float64]
    logits: NDArray[np.float64]
    target: NDArray[np.int64]
    real: Optional[NDArray[np.bool_]] = None
    token_ids: Optional[NDArray[Any]] = None
    tokens: Optional[Sequence[Sequence[str]]] = None

    #: Sequences shown by the notebook view (``_repr_html_``); :meth:`html` shows all.
    max_rows_shown: ClassVar[int] = 50

    def __len__(self) -> int:
        return int(self.relevance.shape[0])

    def __repr__(self) -> str:
        b, t, e = self.relevance.shape
        return (
            f"Explanation(B={b}, T={t}, E={e}, C={self.logits.shape[1]}, "
            f"target={_short(self.target)}, rest={_short(self.rest)})"
        )

    @property
    def predicted(self) -> NDArray[np.int64]:
        """``(B,)`` the class with the largest logit (ties: the lowest index)."""
        predicted: NDArray[np.int64] = np.argmax(self.logits, axis=1).astype(np.int64)
        return predicted

    @property
    def explained_logit(self) -> NDArray[np.float64]:
        """``(B,)`` ``logits[b, target[b]]``."""
        return self.logits[np.arange(len(self)), self.target]

    def with_tokens(self, tokens: Sequence[Sequence[str]]) -> Explanation:
        """A copy that labels the heatmap with ``tokens``: per sequence, one word per real
        step or one per step ``T``."""
        if len(tokens) != len(self):
            raise ValueError(f"tokens has {len(tokens)} sequences, the explanation {len(self)}")
        return replace(self, tokens=tokens)

    def rows(self, tokens: Optional[Sequence[Sequence[str]]] = None) -> list[dict[str, Any]]:
        """One dict per sequence over its real steps: ``tokens``, ``relevance`` (per step),
        ``target``, ``predicted``, ``logit``, ``rest`` — the CLI's JSON-lines objects."""
        return [
            {
                "tokens": words,
                "relevance": relevance,
                "target": target,
                "predicted": predicted,
                "logit": logit,
                "rest": rest,
            }
            for words, relevance, target, predicted, logit, rest in self._rows(
                range(len(self)), tokens
            )
        ]

    def html(
        self, tokens: Optional[Sequence[Sequence[str]]] = None, *, title: Optional[str] = None
    ) -> str:
        """The heatmap of every sequence: red for the explained class, blue against it, each
        row scaled to its largest |relevance|. A notebook fragment, or with ``title`` a
        self-contained page (what the CLI's ``--html`` writes)."""
        return _native.render_html(self._rows(range(len(self)), tokens), title=title)

    def _repr_html_(self) -> str:
        shown = min(len(self), self.max_rows_shown)
        fragment = _native.render_html(self._rows(range(shown), None), title=None)
        if shown < len(self):
            fragment += (
                f"<div style='font-size:0.8em;color:#555'>… {len(self) - shown} more "
                "sequences (Explanation.html() renders all)</div>"
            )
        return fragment

    def _rows(
        self, samples: range, tokens: Optional[Sequence[Sequence[str]]]
    ) -> list[tuple[list[str], list[float], int, int, float, float]]:
        tokens = tokens if tokens is not None else self.tokens
        if tokens is not None and len(tokens) != len(self):
            raise ValueError(f"tokens has {len(tokens)} sequences, the explanation {len(self)}")
        steps = self.relevance.shape[1]
        predicted = self.predicted
        explained = self.explained_logit
        rows = []
        for b in samples:
            real = (
                np.arange(steps) if self.real is None else np.flatnonzero(self.real[b])
            ).tolist()
            if tokens is not None:
                given = list(tokens[b])
                if len(given) == len(real):
                    words = [str(w) for w in given]
                elif len(given) == steps:
                    words = [str(given[k]) for k in real]
                else:
                    raise ValueError(
                        f"tokens[{b}] has {len(given)} words; sequence {b} has {len(real)} "
                        f"real steps of {steps}"
                    )
            elif self.token_ids is not None:
                words = [str(self.token_ids[b, k]) for k in real]
            else:
                words = [f"t{k}" for k in real]
            rows.append(
                (
                    words,
                    self.step_relevance[b, real].tolist(),
                    int(self.target[b]),
                    int(predicted[b]),
                    float(explained[b]),
                    float(self.rest[b]),
                )
            )
        return rows


@dataclass(frozen=True)
class Attribution:
    """A baseline attribution (see :meth:`Model.attribute`).

    Attributes:
        method: the method's name as given.
        scores: ``(B, T, E)`` on the first LSTM layer's input vectors; padding holds 0.
        step_scores: ``(B, T)`` the sum over the feature axis.
        logits: ``(B, C)`` of the unmodified input.
        target: ``(B,)`` int64, the explained class.
        completeness_error: for ``ig``, ``(B,)`` ``|Σ IG − (f_c(x) − f_c(x'))|``; else None.
    """

    method: str
    scores: NDArray[np.float64]
    step_scores: NDArray[np.float64]
    logits: NDArray[np.float64]
    target: NDArray[np.int64]
    completeness_error: Optional[NDArray[np.float64]] = None


# ---------------------------------------------------------------------------------------------
# Argument normalisation: dtypes numpy converts without surprise are converted here (only when
# needed: float32/float64 and int32/int64 arrays pass through untouched); what cannot be an
# input is a TypeError, and the shape checks are the library's.

_FLOATS = (np.dtype(np.float64), np.dtype(np.float32))
_INTS = (np.dtype(np.int64), np.dtype(np.int32))


def _as_input(x: ArrayLike, name: str = "x") -> NDArray[Any]:
    if isinstance(x, (str, bytes, dict)) or x is None:
        raise TypeError(f"{name} must be a numpy array, not {type(x).__name__}")
    try:
        a = np.asarray(x)
    except (ValueError, TypeError) as e:  # ragged lists
        raise ValueError(f"{name} cannot be read as an array: {e}") from None
    kind = a.dtype.kind
    if kind == "f":
        return a if a.dtype in _FLOATS else a.astype(np.float64)
    if kind in "iu":
        return a if a.dtype in _INTS else a.astype(np.int64)
    raise TypeError(
        f"{name} has dtype {a.dtype}, expected floats (B, T, E) or integer token ids (B, T)"
    )


def _as_lengths(lengths: Optional[ArrayLike]) -> Optional[NDArray[np.int64]]:
    if lengths is None:
        return None
    a = np.asarray(lengths)
    if a.dtype.kind not in "iu":
        raise TypeError(f"lengths has dtype {a.dtype}, expected integers")
    if a.ndim != 1:
        raise ValueError(f"lengths has shape {a.shape}, expected (B,)")
    return a.astype(np.int64, copy=False)


def _as_mask(mask: Optional[ArrayLike]) -> Optional[NDArray[np.bool_]]:
    if mask is None:
        return None
    a = np.asarray(mask)
    if a.dtype.kind not in "biu":
        raise TypeError(f"mask has dtype {a.dtype}, expected bool or integers (nonzero = real)")
    if a.ndim != 2:
        raise ValueError(f"mask has shape {a.shape}, expected (B, T)")
    return a if a.dtype == np.bool_ else a != 0


def _as_target(target: Union[int, ArrayLike, None]) -> Union[int, NDArray[np.int64], None]:
    if target is None:
        return None
    if isinstance(target, (bool, np.bool_)):
        raise TypeError("target must be None, a class index or an integer array, not a bool")
    if isinstance(target, (int, np.integer)):
        return int(target)
    a = np.asarray(target)
    if a.dtype.kind not in "iu":
        raise TypeError(f"target has dtype {a.dtype}, expected integer class indices")
    if a.ndim == 0:
        return int(a)
    if a.ndim != 1:
        raise ValueError(f"target has shape {a.shape}, expected (B,)")
    return a.astype(np.int64, copy=False)


def _step(step: Union[int, str, None]) -> Optional[str]:
    if step is None or step == "last":
        return step
    if step == "all":
        raise ValueError("step='all': use Model.explain_every_step(x, ...)")
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
        raise TypeError(f"step must be None, 'last' or a position, not {step!r}")
    if step < 0:
        raise ValueError(f"step={step}: give 'last' or a position 0..T-1")
    return str(int(step))


def _batch_size(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"batch_size must be an int, not {type(n).__name__}")
    if n < 1:
        raise ValueError(f"batch_size={n}: give at least 1")
    return int(n)


def _float(name: str, v: float) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number, not {type(v).__name__}")
    return float(v)


def _str(name: str, v: str) -> str:
    if not isinstance(v, str):
        raise TypeError(f"{name} must be a str, not {type(v).__name__}")
    return v


def _optional_str(name: str, v: Optional[str]) -> Optional[str]:
    return None if v is None else _str(name, v)


def _names(what: str, names: Union[str, Sequence[str], None]) -> Optional[list[str]]:
    if names is None:
        return None
    if isinstance(names, str):
        return [n.strip() for n in names.split(",") if n.strip()]
    if not all(isinstance(n, str) for n in names):
        raise TypeError(f"{what} must be a module name, comma-separated names or a list of them")
    return list(names)


def _head_entries(head: Union[str, Sequence[HeadEntry], None]) -> Optional[list[str]]:
    if head is None:
        return None
    if isinstance(head, str):
        return [h.strip() for h in head.split(",") if h.strip()]
    entries = []
    for h in head:
        if isinstance(h, str):
            entries.append(h)
        elif isinstance(h, tuple) and len(h) == 2 and all(isinstance(p, str) for p in h):
            entries.append(f"{h[0]}:{h[1]}")
        else:
            raise TypeError(f"head entry {h!r}: give 'name', 'name:activation' or (name, act)")
    return entries


def _short(a: NDArray[Any]) -> str:
    with np.printoptions(precision=4, threshold=6, edgeitems=3):
        return np.array2string(a, separator=", ")
