#!/usr/bin/env python3
"""One-off: the model and input the README's first command uses, from the golden case
`real_keras2_sentiment_eps1e-3_bf0` (the seed's trained Keras 2 sentiment BiLSTM, MIT licence).

The weights were float32 in the Keras file, so storing them as float32 loses nothing.

    python3 scripts/make_example_data.py fixtures/golden/real_keras2_sentiment_eps1e-3_bf0.safetensors examples/data
"""
import sys

import numpy as np
from safetensors.numpy import load_file, save_file

src, dst = sys.argv[1], sys.argv[2]
case = load_file(src)
names = ["w_x", "w_h", "b", "w_x_bw", "w_h_bw", "b_bw", "w_dense"]
weights = {n: case[n].astype(np.float32) for n in names}
assert all(np.array_equal(weights[n].astype(np.float64), case[n]) for n in names)
save_file(weights, f"{dst}/keras2_sentiment_bilstm.safetensors", metadata={
    "description": "Keras 2.3.1 Bidirectional(LSTM(60)) + Dense(5, use_bias=False) sentiment "
    "classifier (SST-5, 60-dim word vectors) from alewarne/Layerwise-Relevance-Propagation-for-LSTMs "
    "model/sentiment_model.hdf5 (MIT), canonical layout, gate order i,f,c,o",
})
save_file({"x": case["x"]}, f"{dst}/random_embeddings.safetensors", metadata={
    "description": "4 sequences of 9 random N(0,1) 60-dim vectors (the golden case's input)",
})
