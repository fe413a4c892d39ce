"""Several Python threads explaining at once: the GIL is released while the library computes,
and results equal the serial ones exactly."""

from __future__ import annotations

import threading
import time

import numpy as np
from conftest import fixture, read_safetensors

import lstm_lrp


def _work() -> tuple[lstm_lrp.Model, np.ndarray]:
    path = fixture("golden/real_arras_sst.safetensors")  # H = 60, E = 60, C = 5
    x = read_safetensors(path)[0]["x"]
    rng = np.random.default_rng(7)
    big = np.concatenate([x] + [x + rng.normal(0, 0.1, x.shape) for _ in range(40)])
    return lstm_lrp.load(path), big


def test_two_threads_at_once_equal_serial_results() -> None:
    model, x = _work()
    other = lstm_lrp.load(fixture("golden/larger.safetensors"))
    y = read_safetensors(fixture("golden/larger.safetensors"))[0]["x"]
    serial = [
        model.explain(x).relevance,
        other.explain(y).relevance,
        model.explain(x[::2]).relevance,
    ]
    results: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            for _ in range(3):
                if k == 0:
                    results[k] = model.explain(x).relevance
                elif k == 1:
                    results[k] = other.explain(y).relevance
                else:
                    results[k] = model.explain(x[::2], device="cpu").relevance
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    for k in range(3):
        np.testing.assert_array_equal(results[k], serial[k])


def _explain_in_a_thread_while_ticking(
    model: lstm_lrp.Model, work: np.ndarray
) -> tuple[float, float, list[float]]:
    """Explains `work` in a second thread while this one records a tick every ~1 ms; returns the
    call's start and end and the ticks."""
    window: dict[str, float] = {}

    def explain() -> None:
        window["start"] = time.perf_counter()
        model.explain(work)
        window["end"] = time.perf_counter()

    ticks: list[float] = []
    t = threading.Thread(target=explain)
    t.start()
    while t.is_alive():
        ticks.append(time.perf_counter())
        time.sleep(0.001)
    t.join()
    return window["start"], window["end"], ticks


def test_the_gil_is_released_while_explaining() -> None:
    model, x = _work()
    model.explain(x[:2])  # the model on the device, warm
    # The call must be long enough to tell (> 0.2 s), whatever the machine: size the work from
    # one timed call, and double it when a warmer run turns out shorter than that (bounded).
    start = time.perf_counter()
    model.explain(x)
    reps = max(1, int(np.ceil(0.4 / max(time.perf_counter() - start, 1e-3))))
    for _ in range(4):
        start, end, ticks = _explain_in_a_thread_while_ticking(model, np.concatenate([x] * reps))
        if end - start > 0.2:
            break
        reps *= 2
    assert end - start > 0.2, f"the call took {end - start:.3f}s: too short to tell"
    inside = [s for s in ticks if start + 0.05 < s < end - 0.05]
    # With the GIL held for the whole call, the main thread could not tick inside it at all.
    assert len(inside) > 10, (len(inside), end - start)


def test_one_model_on_two_precisions_from_two_threads() -> None:
    model, x = _work()
    out: dict[str, np.ndarray] = {}

    def run(precision: str) -> None:
        out[precision] = model.explain(x[:20], precision=precision).relevance

    threads = [threading.Thread(target=run, args=(p,)) for p in ("f64", "f32")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    np.testing.assert_allclose(out["f32"], out["f64"], atol=1e-3, rtol=1e-2)
    np.testing.assert_array_equal(out["f64"], model.explain(x[:20]).relevance)
