"""Input layouts and dtypes: whatever the memory layout, the values explained are the same."""

from __future__ import annotations

import numpy as np
from conftest import fixture, read_safetensors

import lstm_lrp

PATH = fixture("golden/larger.safetensors")


def test_layouts_and_dtypes_give_the_same_result() -> None:
    x = read_safetensors(PATH)[0]["x"]
    model = lstm_lrp.load(PATH)
    base = model.explain(x).relevance
    fortran = np.asfortranarray(x)
    assert not fortran.flags.c_contiguous
    np.testing.assert_array_equal(model.explain(fortran).relevance, base)
    doubled = np.repeat(x, 2, axis=0)[::2]  # a strided view
    assert not doubled.flags.c_contiguous
    np.testing.assert_array_equal(model.explain(doubled).relevance, base)
    padded = np.zeros((x.shape[0], x.shape[1], x.shape[2] + 3))
    padded[:, :, : x.shape[2]] = x
    np.testing.assert_array_equal(model.explain(padded[:, :, : x.shape[2]]).relevance, base)
    # float32 input in f64: each value converted exactly, in the one copy per batch.
    x32 = x.astype(np.float32)
    np.testing.assert_array_equal(
        model.explain(x32).relevance, model.explain(x32.astype(np.float64)).relevance
    )


def test_the_input_is_not_modified_and_outputs_are_fresh_arrays() -> None:
    x = read_safetensors(PATH)[0]["x"]
    before = x.copy()
    x.setflags(write=False)  # a read-only array is fine: the input is only read
    e = lstm_lrp.load(PATH).explain(x)
    np.testing.assert_array_equal(x, before)
    assert e.relevance.flags.c_contiguous and e.relevance.flags.writeable
    assert not np.shares_memory(e.relevance, x)
