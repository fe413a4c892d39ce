"""Type stubs of the native module (private: use the functions of `lstm_lrp`)."""

from typing import Any, Optional, Union

import numpy as np
from numpy.typing import NDArray

__version__: str

class NativeModel:
    @property
    def report(self) -> str: ...
    @property
    def path(self) -> str: ...
    def info(self) -> dict[str, Any]: ...
    def explain(
        self,
        x: NDArray[Any],
        *,
        eps: float,
        bias_factor: float,
        gate_rule: str,
        target: Union[int, NDArray[np.int64], None],
        lengths: Optional[NDArray[np.int64]],
        mask: Optional[NDArray[np.bool_]],
        batch_size: int,
        device: str,
        precision: str,
        step: Optional[str],
    ) -> dict[str, NDArray[Any]]: ...
    def explain_every_step(
        self,
        x: NDArray[Any],
        *,
        eps: float,
        bias_factor: float,
        gate_rule: str,
        target: Union[int, NDArray[np.int64], None],
        lengths: Optional[NDArray[np.int64]],
        mask: Optional[NDArray[np.bool_]],
        batch_size: int,
        device: str,
        precision: str,
    ) -> dict[str, NDArray[Any]]: ...
    def forward(
        self,
        x: NDArray[Any],
        *,
        lengths: Optional[NDArray[np.int64]],
        mask: Optional[NDArray[np.bool_]],
        batch_size: int,
        device: str,
        precision: str,
        step: Optional[str],
    ) -> NDArray[np.float64]: ...
    def attribute(
        self,
        x: NDArray[Any],
        method: str,
        *,
        target: Union[int, NDArray[np.int64], None],
        lengths: Optional[NDArray[np.int64]],
        mask: Optional[NDArray[np.bool_]],
        steps: int,
        baseline: Optional[NDArray[Any]],
        eps: float,
        bias_factor: float,
        gate_rule: str,
        batch_size: int,
        device: str,
        precision: str,
        step: Optional[str],
    ) -> dict[str, Any]: ...
    def _time_rust_explain(
        self,
        x: NDArray[np.float64],
        *,
        batch_size: int,
        repeats: int,
        device: str,
        precision: str,
    ) -> list[float]: ...

def load(
    path: str,
    *,
    format: Optional[str],
    keras_config: Optional[str],
    keras_config_json: Optional[str],
    rnn: Optional[list[str]],
    head: Optional[list[str]],
    embedding: Optional[str],
    readout: Optional[str],
) -> NativeModel: ...
def render_html(
    rows: list[tuple[list[str], list[float], int, int, float, float]],
    *,
    title: Optional[str] = None,
) -> str: ...
def available_devices() -> list[str]: ...
def _panic_inside_guard() -> None: ...
def _panics_caught() -> int: ...
