//! The Keras model configuration (JSON, Keras 2 and 3) as a list of layer descriptions.
//!
//! Only models that are a simple chain of layers are accepted: `Sequential`, or a functional
//! model whose every layer reads the previous one (plus, in Keras 3, the `NotEqual` and `Any`
//! pseudo-layers that compute the masks of `Embedding(mask_zero=True)` and `Masking`). Anything
//! the library cannot run exactly is refused with an error naming the layer and what is
//! unsupported.
//!
//! Recurrent layers are `LSTM` and `GRU` (both `reset_after` variants), alone or in
//! `Bidirectional`, with `go_backwards`; the last one's sequence may be pooled
//! (`GlobalMaxPooling1D`, `GlobalAveragePooling1D`) or read at every step by `Dense` or
//! `TimeDistributed(Dense)`.

use serde_json::Value;

use crate::error::{ImportError, Result};

/// The cell of a recurrent layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CellSpec {
    Lstm,
    Gru { reset_after: bool },
}

impl CellSpec {
    /// The Keras class name.
    pub fn class(self) -> &'static str {
        match self {
            CellSpec::Lstm => "LSTM",
            CellSpec::Gru { .. } => "GRU",
        }
    }
}

/// A recurrent layer's settings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LstmSpec {
    pub name: String,
    pub cell: CellSpec,
    pub units: usize,
    pub return_sequences: bool,
    pub go_backwards: bool,
    pub use_bias: bool,
    /// Keras `recurrent_activation` (the gates).
    pub recurrent_activation: String,
}

/// One layer of the chain.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LayerSpec {
    /// The input: the feature size (last dimension) when known.
    Input {
        features: Option<usize>,
    },
    Embedding {
        name: String,
        input_dim: usize,
        output_dim: usize,
        mask_zero: bool,
    },
    Masking {
        name: String,
        mask_value: f64,
    },
    Lstm(LstmSpec),
    Bidirectional {
        name: String,
        merge_mode: String,
        forward: LstmSpec,
        backward: LstmSpec,
    },
    /// `GlobalMaxPooling1D` (`max`) or `GlobalAveragePooling1D` (`mean`).
    Pooling {
        name: String,
        max: bool,
    },
    Dense {
        name: String,
        units: usize,
        activation: String,
        use_bias: bool,
        /// Wrapped in `TimeDistributed` (its weights are the wrapper's).
        time_distributed: bool,
    },
    /// A standalone activation (`Activation("relu")`, `ReLU()`, `Softmax()`), which applies to
    /// the Dense layer before it.
    Activation {
        name: String,
        class: String,
        activation: String,
    },
    /// `BatchNormalization` over the features (axis −1): at inference an affine map per
    /// feature, folded into the Dense layer before it.
    BatchNorm {
        name: String,
        epsilon: f64,
        /// Whether it has `beta` (`center`) and `gamma` (`scale`).
        center: bool,
        scale: bool,
    },
    /// `Flatten`: the identity on a (batch, features) input, as after a recurrent layer's final
    /// state or a pooling layer; on a sequence, a readout with weights per step (refused).
    Flatten {
        name: String,
    },
    /// Layers that do nothing at inference (Dropout, …), and the Keras 3 mask pseudo-layer.
    Skipped {
        name: String,
        class: String,
    },
}

/// Layers that are the identity at inference time.
const INFERENCE_NO_OPS: &[&str] = &[
    "Dropout",
    "SpatialDropout1D",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "ActivityRegularization",
    "Identity",
];

fn unsupported(name: &str, class: &str, what: impl AsRef<str>) -> ImportError {
    ImportError::Unsupported(format!("layer `{name}` ({class}): {}", what.as_ref()))
}

fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|x| !x.is_null())
}

fn str_field(cfg: &Value, key: &str, default: &str) -> String {
    get(cfg, key)
        .and_then(Value::as_str)
        .unwrap_or(default)
        .to_string()
}

/// Whether a layer's `axis` setting is the features' axis: absent (the default), −1, or (Keras
/// 2) the list `[-1]`; not for any other axis, list or value.
fn on_feature_axis(cfg: &Value) -> bool {
    match get(cfg, "axis") {
        None => true,
        Some(Value::Array(a)) if a.len() == 1 => a[0].as_i64() == Some(-1),
        Some(v) => v.as_i64() == Some(-1),
    }
}

/// A layer's `axis` setting as written, for messages.
fn axis_setting(cfg: &Value) -> String {
    get(cfg, "axis").map_or_else(|| "-1".into(), Value::to_string)
}

fn bool_field(cfg: &Value, key: &str, default: bool) -> bool {
    get(cfg, key).and_then(Value::as_bool).unwrap_or(default)
}

fn usize_field(cfg: &Value, key: &str, name: &str, class: &str) -> Result<usize> {
    get(cfg, key)
        .and_then(Value::as_u64)
        .and_then(|v| usize::try_from(v).ok())
        .filter(|&v| v > 0)
        .ok_or_else(|| {
            unsupported(
                name,
                class,
                format!("`{key}` is missing or not a positive integer"),
            )
        })
}

/// An activation given as a string or (Keras 3) as a serialised object.
fn activation(cfg: &Value, key: &str, default: &str) -> String {
    match get(cfg, key) {
        Some(Value::String(s)) => s.clone(),
        Some(obj) => obj
            .get("config")
            .and_then(|c| c.get("name"))
            .or_else(|| obj.get("class_name"))
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_string(),
        None => default.to_string(),
    }
}

/// The last dimension of an input shape (`batch_shape`, `batch_input_shape`).
fn input_features(cfg: &Value) -> Option<Option<usize>> {
    let shape = get(cfg, "batch_shape").or_else(|| get(cfg, "batch_input_shape"))?;
    let dims = shape.as_array()?;
    let last = dims.last()?;
    Some(if dims.len() >= 3 {
        last.as_u64().and_then(|v| usize::try_from(v).ok())
    } else {
        None
    })
}

fn lstm_spec(layer: &Value, default_name: &str) -> Result<LstmSpec> {
    let class = layer
        .get("class_name")
        .and_then(Value::as_str)
        .unwrap_or("?");
    let cfg = layer.get("config").unwrap_or(&Value::Null);
    let name = str_field(cfg, "name", default_name);
    let cell = match class {
        "LSTM" => CellSpec::Lstm,
        // Keras' default since 2.3 (and in Keras 3) is reset_after=True.
        "GRU" => CellSpec::Gru {
            reset_after: bool_field(cfg, "reset_after", true),
        },
        _ => {
            return Err(unsupported(
                &name,
                class,
                "only LSTM and GRU layers are supported (SimpleRNN, ConvLSTM, … are not)",
            ));
        }
    };
    if bool_field(cfg, "stateful", false) {
        return Err(unsupported(
            &name,
            class,
            "stateful recurrent layers are not supported",
        ));
    }
    if bool_field(cfg, "return_state", false) {
        return Err(unsupported(
            &name,
            class,
            "return_state=True is not supported",
        ));
    }
    if bool_field(cfg, "time_major", false) {
        return Err(unsupported(
            &name,
            class,
            "time_major=True is not supported",
        ));
    }
    let cell_activation = activation(cfg, "activation", "tanh");
    if cell_activation != "tanh" {
        return Err(unsupported(
            &name,
            class,
            format!("cell activation `{cell_activation}` is not supported (only tanh)"),
        ));
    }
    let recurrent_activation = activation(cfg, "recurrent_activation", "sigmoid");
    if !matches!(recurrent_activation.as_str(), "sigmoid" | "hard_sigmoid") {
        return Err(unsupported(
            &name,
            class,
            format!(
                "recurrent activation `{recurrent_activation}` is not supported (sigmoid or hard_sigmoid)"
            ),
        ));
    }
    Ok(LstmSpec {
        cell,
        units: usize_field(cfg, "units", &name, class)?,
        return_sequences: bool_field(cfg, "return_sequences", false),
        go_backwards: bool_field(cfg, "go_backwards", false),
        use_bias: bool_field(cfg, "use_bias", true),
        recurrent_activation,
        name,
    })
}

fn parse_layer(layer: &Value) -> Result<LayerSpec> {
    let class = layer
        .get("class_name")
        .and_then(Value::as_str)
        .ok_or_else(|| ImportError::Format("model config: a layer has no `class_name`".into()))?;
    let cfg = layer.get("config").unwrap_or(&Value::Null);
    let name = str_field(cfg, "name", &str_field(layer, "name", class));
    Ok(match class {
        "InputLayer" => LayerSpec::Input {
            features: input_features(cfg).flatten(),
        },
        "Embedding" => LayerSpec::Embedding {
            input_dim: usize_field(cfg, "input_dim", &name, class)?,
            output_dim: usize_field(cfg, "output_dim", &name, class)?,
            mask_zero: bool_field(cfg, "mask_zero", false),
            name,
        },
        "Masking" => LayerSpec::Masking {
            mask_value: get(cfg, "mask_value")
                .and_then(Value::as_f64)
                .unwrap_or(0.0),
            name,
        },
        "LSTM" | "GRU" => LayerSpec::Lstm(lstm_spec(layer, &name)?),
        "GlobalMaxPooling1D" | "GlobalMaxPool1D" | "GlobalAveragePooling1D" | "GlobalAvgPool1D" => {
            if str_field(cfg, "data_format", "channels_last") != "channels_last" {
                return Err(unsupported(
                    &name,
                    class,
                    "data_format channels_first is not supported (pool over the time axis)",
                ));
            }
            if bool_field(cfg, "keepdims", false) {
                return Err(unsupported(&name, class, "keepdims=True is not supported"));
            }
            LayerSpec::Pooling {
                name,
                max: class.contains("Max"),
            }
        }
        "TimeDistributed" => {
            let inner = get(cfg, "layer")
                .ok_or_else(|| unsupported(&name, class, "no wrapped `layer` in its config"))?;
            let inner_class = inner
                .get("class_name")
                .and_then(Value::as_str)
                .unwrap_or("?");
            if inner_class != "Dense" {
                return Err(unsupported(
                    &name,
                    class,
                    format!(
                        "only TimeDistributed(Dense) is supported, not TimeDistributed({inner_class})"
                    ),
                ));
            }
            let inner_cfg = inner.get("config").unwrap_or(&Value::Null);
            LayerSpec::Dense {
                units: usize_field(inner_cfg, "units", &name, class)?,
                activation: activation(inner_cfg, "activation", "linear"),
                use_bias: bool_field(inner_cfg, "use_bias", true),
                time_distributed: true,
                name,
            }
        }
        "Bidirectional" => {
            let inner = get(cfg, "layer")
                .ok_or_else(|| unsupported(&name, class, "no wrapped `layer` in its config"))?;
            let forward = lstm_spec(inner, &format!("{name}/forward"))?;
            let backward = match get(cfg, "backward_layer") {
                Some(b) => lstm_spec(b, &format!("{name}/backward"))?,
                // Keras 2 stores only the forward layer; the backward one is its mirror.
                None => LstmSpec {
                    go_backwards: !forward.go_backwards,
                    name: format!("{name}/backward"),
                    ..forward.clone()
                },
            };
            if forward.go_backwards || !backward.go_backwards {
                return Err(unsupported(
                    &name,
                    class,
                    "expected a forward layer and a go_backwards backward layer",
                ));
            }
            let merge_mode = match get(cfg, "merge_mode") {
                Some(Value::String(m)) => m.clone(),
                _ => "none".into(),
            };
            if !matches!(merge_mode.as_str(), "concat" | "sum" | "ave") {
                return Err(unsupported(
                    &name,
                    class,
                    format!(
                        "merge_mode `{merge_mode}` is not supported (concat, sum or ave; a product has no LRP rule)"
                    ),
                ));
            }
            LayerSpec::Bidirectional {
                name,
                merge_mode,
                forward,
                backward,
            }
        }
        "Dense" => LayerSpec::Dense {
            units: usize_field(cfg, "units", &name, class)?,
            activation: activation(cfg, "activation", "linear"),
            use_bias: bool_field(cfg, "use_bias", true),
            time_distributed: false,
            name,
        },
        "Activation" => LayerSpec::Activation {
            activation: activation(cfg, "activation", "linear"),
            name,
            class: class.into(),
        },
        // The layer forms of the activations, with their default arguments only (a capped,
        // leaky or shifted ReLU, or a softmax over another axis, is another function).
        "ReLU" => {
            let zero = |key: &str| get(cfg, key).is_none_or(|v| v.as_f64() == Some(0.0));
            let plain =
                get(cfg, "max_value").is_none() && zero("negative_slope") && zero("threshold");
            if !plain {
                return Err(unsupported(
                    &name,
                    class,
                    "only ReLU() with its defaults (no max_value, negative_slope 0, threshold 0)",
                ));
            }
            LayerSpec::Activation {
                name,
                class: class.into(),
                activation: "relu".into(),
            }
        }
        "Softmax" => {
            if !on_feature_axis(cfg) {
                return Err(unsupported(
                    &name,
                    class,
                    format!("softmax over axis {} (only -1)", axis_setting(cfg)),
                ));
            }
            LayerSpec::Activation {
                name,
                class: class.into(),
                activation: "softmax".into(),
            }
        }
        "BatchNormalization" => {
            if !on_feature_axis(cfg) {
                return Err(unsupported(
                    &name,
                    class,
                    format!(
                        "normalising axis {} instead of the features (axis -1)",
                        axis_setting(cfg)
                    ),
                ));
            }
            let epsilon = match get(cfg, "epsilon") {
                None => 1e-3,
                Some(v) => v
                    .as_f64()
                    .filter(|e| e.is_finite() && *e >= 0.0)
                    .ok_or_else(|| unsupported(&name, class, format!("epsilon {v}")))?,
            };
            LayerSpec::BatchNorm {
                epsilon,
                center: bool_field(cfg, "center", true),
                scale: bool_field(cfg, "scale", true),
                name,
            }
        }
        "Flatten" => LayerSpec::Flatten { name },
        "Sequential" | "Functional" | "Model" => {
            return Err(unsupported(
                &name,
                class,
                "a model used as a layer of the model; lstm-lrp reads one flat chain of layers: \
                 build the model from the nested model's layers themselves (for example \
                 `keras.Sequential([*encoder.layers, *head.layers])`, whose layers keep their \
                 trained weights) and save that",
            ));
        }
        "NotEqual" | "Any" => LayerSpec::Skipped {
            name,
            class: class.into(),
        },
        c if INFERENCE_NO_OPS.contains(&c) => LayerSpec::Skipped {
            name,
            class: class.into(),
        },
        other => {
            return Err(unsupported(
                &name,
                other,
                "not supported; lstm-lrp explains chains of InputLayer, Embedding, Masking, \
                 LSTM, GRU, Bidirectional, GlobalMaxPooling1D, GlobalAveragePooling1D, Dense, \
                 TimeDistributed(Dense), Activation, BatchNormalization, Flatten (of a final \
                 state) and Dropout layers",
            ));
        }
    })
}

/// Names of the layers a functional layer reads (its call's tensor arguments).
fn inbound_names(layer: &Value) -> Result<Vec<String>> {
    let nodes = match layer.get("inbound_nodes").and_then(Value::as_array) {
        Some(n) => n,
        None => return Ok(vec![]),
    };
    if nodes.len() > 1 {
        return Err(ImportError::Unsupported(format!(
            "layer `{}` is called {} times (shared layers are not supported)",
            layer.get("name").and_then(Value::as_str).unwrap_or("?"),
            nodes.len()
        )));
    }
    let mut names = Vec::new();
    for node in nodes {
        match node {
            // Keras 3: {"args": [tensor, ...], "kwargs": {"mask": tensor, ...}}; only the
            // positional tensors are data inputs.
            Value::Object(obj) => {
                for arg in obj
                    .get("args")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(history) = arg
                        .get("config")
                        .and_then(|c| c.get("keras_history"))
                        .and_then(Value::as_array)
                        && let Some(n) = history.first().and_then(Value::as_str)
                    {
                        names.push(n.to_string());
                    }
                }
            }
            // Keras 2: [["name", node, tensor, kwargs], ...]
            Value::Array(calls) => {
                for call in calls {
                    if let Some(n) = call.get(0).and_then(Value::as_str) {
                        names.push(n.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    Ok(names)
}

/// Parses a Keras model configuration (the JSON of `config.json` or of the `model_config`
/// attribute) into the chain of layers, input first.
pub(crate) fn parse_model_config(json: &str) -> Result<Vec<LayerSpec>> {
    let root: Value = serde_json::from_str(json)
        .map_err(|e| ImportError::Format(format!("model config is not valid JSON: {e}")))?;
    let class = root
        .get("class_name")
        .and_then(Value::as_str)
        .unwrap_or("?");
    let cfg = root.get("config").unwrap_or(&Value::Null);
    // Keras 2.0–2.2 Sequential: `config` is the layer list itself.
    let layers = cfg
        .as_array()
        .or_else(|| cfg.get("layers").and_then(Value::as_array))
        .ok_or_else(|| ImportError::Format(format!("model config ({class}) has no layer list")))?;
    let functional = match class {
        "Sequential" => false,
        "Functional" | "Model" => true,
        other => {
            return Err(ImportError::Unsupported(format!(
                "model class `{other}` (expected Sequential or a functional Model)"
            )));
        }
    };
    let mut specs = Vec::with_capacity(layers.len() + 1);
    let mut previous: Option<String> = None;
    let mut mask_ops = MaskOps::default();
    for layer in layers {
        let spec = parse_layer(layer)?;
        let name = layer
            .get("name")
            .or_else(|| layer.get("config").and_then(|c| c.get("name")))
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string();
        if let LayerSpec::Skipped { class, .. } = &spec
            && (class == "NotEqual" || class == "Any")
        {
            mask_ops.record(layer, &name, class)?;
            specs.push(spec);
            continue;
        }
        if let LayerSpec::Masking { mask_value, .. } = &spec {
            let inbound = inbound_names(layer)?;
            mask_ops
                .maskings
                .push((inbound.first().cloned(), *mask_value));
        }
        if functional {
            let inbound = inbound_names(layer)?;
            let expected: Vec<String> = previous.iter().cloned().collect();
            if inbound != expected {
                return Err(ImportError::Unsupported(format!(
                    "the model is not a simple chain of layers: layer `{name}` reads {inbound:?}, \
                     expected {expected:?}"
                )));
            }
        }
        // Keras 2 Sequential models declare their input shape on the first layer.
        if specs.is_empty()
            && !matches!(spec, LayerSpec::Input { .. })
            && let Some(features) = layer.get("config").and_then(input_features)
        {
            specs.push(LayerSpec::Input { features });
        }
        previous = Some(name);
        specs.push(spec);
    }
    mask_ops.check()?;
    Ok(specs)
}

/// The mask computations a Keras 3 functional model serialises as pseudo-layers beside the
/// chain, which the recurrent layers receive as their `mask` argument:
///
/// - `Embedding(mask_zero=True)`: `NotEqual(ids, 0)`;
/// - `Masking(mask_value=v)`: `Any(NotEqual(x, v), axis=-1)`, reading the Masking layer's input.
///
/// The library computes both masks itself from the Embedding or Masking layer, so these
/// pseudo-layers are skipped — but only when they are exactly those computations; anything else
/// would be a mask the model does not describe, and is refused.
#[derive(Default)]
struct MaskOps {
    /// `NotEqual` layers: name, the tensor it compares, the value.
    not_equal: Vec<(String, Option<String>, f64)>,
    /// `Any` layers: name, the `NotEqual` it reduces.
    any: Vec<(String, String)>,
    /// `Masking` layers of the chain: the tensor each reads, its mask value.
    maskings: Vec<(Option<String>, f64)>,
}

impl MaskOps {
    fn record(&mut self, layer: &Value, name: &str, class: &str) -> Result<()> {
        let node = layer
            .get("inbound_nodes")
            .and_then(Value::as_array)
            .and_then(|n| n.first());
        let args = node.and_then(|n| n.get("args")).and_then(Value::as_array);
        let input = inbound_names(layer)?.first().cloned();
        if class == "NotEqual" {
            let Some(value) = args.and_then(|a| a.get(1)).and_then(Value::as_f64) else {
                return Err(ImportError::Unsupported(format!(
                    "layer `{name}` (NotEqual): only the mask of Embedding(mask_zero=True) or of \
                     Masking (`inputs != value`) is supported"
                )));
            };
            self.not_equal.push((name.to_string(), input, value));
            return Ok(());
        }
        let cfg = layer.get("config").unwrap_or(&Value::Null);
        let axis = cfg.get("axis").and_then(Value::as_i64);
        let keepdims = cfg
            .get("keepdims")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let reduces = input
            .as_ref()
            .filter(|i| self.not_equal.iter().any(|(n, _, _)| n == *i));
        match reduces {
            Some(i) if axis == Some(-1) && !keepdims => {
                self.any.push((name.to_string(), i.clone()));
                Ok(())
            }
            _ => Err(ImportError::Unsupported(format!(
                "layer `{name}` (Any): only the mask of Masking (`any(inputs != value, axis=-1)`) \
                 is supported"
            ))),
        }
    }

    /// Every `NotEqual` is an Embedding's `!= 0`, or reduced by an `Any` into the mask of a
    /// Masking layer that reads the same tensor with the same value.
    fn check(&self) -> Result<()> {
        for (name, input, value) in &self.not_equal {
            let reduced = self.any.iter().any(|(_, ne)| ne == name);
            let fits = if reduced {
                self.maskings
                    .iter()
                    .any(|(reads, v)| reads == input && v == value)
            } else {
                *value == 0.0
            };
            if !fits {
                let what = if reduced {
                    format!(
                        "computes `any({} != {value})`, which no Masking layer of the model does",
                        input.as_deref().unwrap_or("?")
                    )
                } else {
                    format!("compares with {value}, not the 0 of Embedding(mask_zero=True)")
                };
                return Err(ImportError::Unsupported(format!(
                    "layer `{name}` (NotEqual) {what}: a mask the model does not describe"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A functional `Masking(v)` model as Keras 3 writes it: the mask as `NotEqual(x, v)` and
    /// `Any(axis=-1)` beside the chain.
    fn functional_masking(not_equal_value: f64, masking_value: f64, axis: i64) -> String {
        let tensor = |from: &str| {
            format!(
                r#"{{"class_name": "__keras_tensor__", "config": {{"keras_history": ["{from}", 0, 0]}}}}"#
            )
        };
        let node = |args: String| format!(r#"[{{"args": [{args}], "kwargs": {{}}}}]"#);
        format!(
            r#"{{"class_name": "Functional", "config": {{"layers": [
              {{"class_name": "InputLayer", "name": "in", "config": {{"name": "in", "batch_shape": [null, null, 3]}}, "inbound_nodes": []}},
              {{"class_name": "NotEqual", "name": "ne", "config": {{"name": "ne"}}, "inbound_nodes": {ne}}},
              {{"class_name": "Masking", "name": "m", "config": {{"name": "m", "mask_value": {masking_value:?}}}, "inbound_nodes": {m}}},
              {{"class_name": "Any", "name": "any", "config": {{"name": "any", "axis": {axis}, "keepdims": false}}, "inbound_nodes": {any}}},
              {{"class_name": "LSTM", "name": "lstm", "config": {{"name": "lstm", "units": 2, "activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": true}}, "inbound_nodes": {lstm}}},
              {{"class_name": "Dense", "name": "d", "config": {{"name": "d", "units": 2}}, "inbound_nodes": {d}}}]}}}}"#,
            ne = node(format!("{}, {not_equal_value:?}", tensor("in"))),
            m = node(tensor("in")),
            any = node(tensor("ne")),
            lstm = node(tensor("m")),
            d = node(tensor("lstm")),
        )
    }

    #[test]
    fn softmax_and_batch_norm_layers_read_only_the_feature_axis() {
        let layer = |class: &str, axis: &str| {
            let json = format!(r#"{{"class_name": "{class}", "config": {{"name": "n"{axis}}}}}"#);
            parse_layer(&serde_json::from_str(&json).unwrap())
        };
        for class in ["Softmax", "BatchNormalization"] {
            for axis in ["", r#", "axis": -1"#, r#", "axis": [-1]"#] {
                assert!(layer(class, axis).is_ok(), "{class}{axis}");
            }
            for axis in [r#", "axis": 1"#, r#", "axis": [1]"#, r#", "axis": [1, 2]"#] {
                let err = layer(class, axis).unwrap_err().to_string();
                assert!(
                    err.contains("layer `n`") && err.contains("axis"),
                    "{class}{axis}: {err}"
                );
            }
        }
    }

    #[test]
    fn a_functional_maskings_mask_ops_are_skipped_and_checked() {
        let specs = parse_model_config(&functional_masking(-1.0, -1.0, -1)).unwrap();
        let skipped: Vec<&str> = specs
            .iter()
            .filter_map(|s| match s {
                LayerSpec::Skipped { class, .. } => Some(class.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(skipped, ["NotEqual", "Any"]);
        assert!(
            specs
                .iter()
                .any(|s| matches!(s, LayerSpec::Masking { mask_value, .. } if *mask_value == -1.0))
        );
        // A mask the Masking layer does not compute, or another reduction, is refused by name.
        let err = parse_model_config(&functional_masking(0.5, -1.0, -1)).unwrap_err();
        assert!(err.to_string().contains("`ne` (NotEqual)"), "{err}");
        let err = parse_model_config(&functional_masking(-1.0, -1.0, 1)).unwrap_err();
        assert!(err.to_string().contains("`any` (Any)"), "{err}");
    }

    #[test]
    fn keras2_sequential_gets_its_input_and_mirrored_backward_layer() {
        let json = r#"{"class_name": "Sequential", "config": {"name": "s", "layers": [
            {"class_name": "Bidirectional", "config": {"name": "bi", "batch_input_shape": [null, null, 60],
              "layer": {"class_name": "LSTM", "config": {"name": "lstm_3", "units": 60, "activation": "tanh",
                 "recurrent_activation": "sigmoid", "use_bias": true}}, "merge_mode": "concat"}},
            {"class_name": "Dropout", "config": {"name": "drop", "rate": 0.5}},
            {"class_name": "Dense", "config": {"name": "dense_2", "units": 5, "activation": "linear", "use_bias": false}}]}}"#;
        let specs = parse_model_config(json).unwrap();
        assert_eq!(specs[0], LayerSpec::Input { features: Some(60) });
        match &specs[1] {
            LayerSpec::Bidirectional { backward, .. } => {
                assert!(backward.go_backwards);
                assert_eq!(backward.units, 60);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&specs[2], LayerSpec::Skipped { class, .. } if class == "Dropout"));
        assert!(matches!(
            &specs[3],
            LayerSpec::Dense {
                use_bias: false,
                units: 5,
                ..
            }
        ));
    }

    #[test]
    fn unsupported_layers_and_settings_are_named() {
        let model = |layer: &str| {
            format!(
                r#"{{"class_name": "Sequential", "config": {{"layers": [{{"class_name": "InputLayer",
                "config": {{"batch_shape": [null, null, 3]}}}}, {layer}]}}}}"#
            )
        };
        let cases = [
            (
                r#"{"class_name": "SimpleRNN", "config": {"name": "rnn", "units": 4}}"#,
                "SimpleRNN",
            ),
            (
                r#"{"class_name": "GRU", "config": {"name": "g", "units": 4, "activation": "relu"}}"#,
                "relu",
            ),
            (
                r#"{"class_name": "GlobalMaxPooling1D", "config": {"name": "p", "keepdims": true}}"#,
                "keepdims",
            ),
            (
                r#"{"class_name": "TimeDistributed", "config": {"name": "td", "layer": {"class_name": "Conv1D", "config": {}}}}"#,
                "Conv1D",
            ),
            (
                r#"{"class_name": "LSTM", "config": {"name": "l", "units": 4, "stateful": true}}"#,
                "stateful",
            ),
            (
                r#"{"class_name": "LSTM", "config": {"name": "l", "units": 4, "activation": "relu"}}"#,
                "relu",
            ),
            (
                r#"{"class_name": "Bidirectional", "config": {"name": "b", "merge_mode": "mul",
                   "layer": {"class_name": "LSTM", "config": {"name": "l", "units": 4}}}}"#,
                "mul",
            ),
            (
                r#"{"class_name": "Conv1D", "config": {"name": "conv"}}"#,
                "Conv1D",
            ),
            (
                r#"{"class_name": "LSTM", "config": {"name": "l", "units": 4, "recurrent_activation": "softsign"}}"#,
                "softsign",
            ),
            (
                r#"{"class_name": "Sequential", "config": {"name": "encoder", "layers": []}}"#,
                "a model used as a layer of the model",
            ),
        ];
        for (layer, needle) in cases {
            let err = parse_model_config(&model(layer)).unwrap_err();
            assert!(matches!(err, ImportError::Unsupported(_)), "{err}");
            assert!(err.to_string().contains(needle), "{err}");
        }
    }

    #[test]
    fn branching_functional_models_are_refused() {
        let json = r#"{"class_name": "Functional", "config": {"layers": [
            {"class_name": "InputLayer", "name": "in", "config": {"name": "in", "batch_shape": [null, null, 3]}, "inbound_nodes": []},
            {"class_name": "LSTM", "name": "a", "config": {"name": "a", "units": 2}, "inbound_nodes": [[["in", 0, 0, {}]]]},
            {"class_name": "LSTM", "name": "b", "config": {"name": "b", "units": 2}, "inbound_nodes": [[["in", 0, 0, {}]]]}]}}"#;
        let err = parse_model_config(json).unwrap_err().to_string();
        assert!(
            err.contains("not a simple chain") && err.contains("`b`"),
            "{err}"
        );
    }
}
