#!/usr/bin/env python3
"""One-off: turn the seed LRP results of the Keras 3 fixtures `a_bilstm_dense` and
`b_lstm_softmax` into golden cases in the canonical layout (tensor names of the top-level cases).

Reads `<stem>.weights.h5` (h5py) and `<stem>.io.safetensors`; writes
`fixtures/golden/keras3_<stem>.safetensors`. Weights are float32 in the Keras file and stored here
cast exactly to float64; `x` likewise. Run once with numpy, h5py and safetensors installed:

    python3 scripts/extract_keras3_golden.py <path to shared/fixtures/keras3> fixtures/golden
"""
import sys

import h5py
import numpy as np
from safetensors.numpy import load_file, save_file

src, dst = sys.argv[1], sys.argv[2]

CASES = {
    "a_bilstm_dense": {
        "w_x": "layers/bidirectional/forward_layer/cell/vars/0",
        "w_h": "layers/bidirectional/forward_layer/cell/vars/1",
        "b": "layers/bidirectional/forward_layer/cell/vars/2",
        "w_x_bw": "layers/bidirectional/backward_layer/cell/vars/0",
        "w_h_bw": "layers/bidirectional/backward_layer/cell/vars/1",
        "b_bw": "layers/bidirectional/backward_layer/cell/vars/2",
        "w_dense": "layers/dense/vars/0",
        "b_dense": "layers/dense/vars/1",
    },
    "b_lstm_softmax": {
        "w_x": "layers/lstm/cell/vars/0",
        "w_h": "layers/lstm/cell/vars/1",
        "b": "layers/lstm/cell/vars/2",
        "w_dense": "layers/dense/vars/0",
        "b_dense": "layers/dense/vars/1",
    },
}

for stem, paths in CASES.items():
    weights = h5py.File(f"{src}/{stem}.weights.h5", "r")
    io = load_file(f"{src}/{stem}.io.safetensors")
    out = {name: np.asarray(weights[path], dtype=np.float64) for name, path in paths.items()}
    out["x"] = io["x"].astype(np.float64)
    out["target"] = io["seed_lrp.target"].astype(np.int64)
    out["logits"] = io["seed_lrp.logits"]
    out["relevance"] = io["seed_lrp.relevance"]
    out["rest"] = io["seed_lrp.rest"]
    meta = {
        "eps": "0.001",
        "bias_factor": "0.0",
        "target_mode": "predicted",
        "description": f"seed TF2 LRP result of keras3/{stem} (float64), weights from "
        f"{stem}.weights.h5 cast exactly to float64; see keras3/README.md",
        "source": f"keras3/{stem}.io.safetensors seed_lrp.* and keras3/{stem}.weights.h5",
    }
    save_file(out, f"{dst}/keras3_{stem}.safetensors", metadata=meta)
    print(stem, {k: v.shape for k, v in out.items()})
