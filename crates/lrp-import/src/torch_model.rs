//! A PyTorch state dict (`nn.LSTM` / `nn.GRU` modules + `nn.Linear`, optionally `nn.Embedding`)
//! as a model.
//!
//! A state dict has no architecture, only named tensors. The importer finds the recurrent
//! modules by their `weight_ih_l0` keys (LSTM or GRU told apart by `weight_hh_l0`'s shape,
//! `(4H, H)` or `(3H, H)`; several modules chained by their sizes), the `nn.Linear` head and the
//! `nn.Embedding` by their shapes, and refuses to guess: when several modules fit a role, or
//! tensors are left over that might sit between them (a LayerNorm, a second Linear), it asks
//! the user to name the modules with [`TorchModules`].
//!
//! Conventions (PyTorch's):
//! - `nn.LSTM`: `weight_ih_l{k}[_reverse]` `(4H, in)`, `weight_hh_l{k}[_reverse]` `(4H, H)` in
//!   gate order i, f, g, o — the same blocks as Keras' i, f, c, o — are transposed; `bias_ih`
//!   and `bias_hh` are summed. `proj_size > 0` (`weight_hr_l{k}`) is not supported.
//! - `nn.GRU`: the same keys with `3H` rows in gate order r, z, n, converted to the canonical
//!   z, r, n (Keras' `reset_after` GRU), biases kept apart ([`crate::gates::gru_from_pytorch`]).
//! - The state dict does not say how the head reads the last module: [`TorchModules::readout`]
//!   (`final` = `h_n` when not given — `cat(h_n[-2], h_n[-1])` for a bidirectional module,
//!   `h_n[-1]` otherwise — reported as an assumption to show the user). A safetensors state
//!   dict may declare it in its metadata under [`READOUT_METADATA_KEY`].
//! - `nn.Linear` weights `(out, in)` are transposed to `(in, out)`.

use std::collections::BTreeMap;

use lrp_model::{
    Activation, CellWeights, DenseLayer, InputLayer, Matrix, MergeMode, ModelParams, Readout,
    RecurrentLayer,
};

use crate::HostArray;
use crate::error::{ImportError, Result};
use crate::gates::{ForeignLstm, GateOrder, KernelLayout, gru_from_pytorch, to_canonical};
use crate::report::{ImportReport, ImportedModel, describe_layers};
use crate::torch_weight_norm::fold_weight_norm;

/// The module names (state-dict prefixes) of a model and how its head reads the recurrent
/// modules, for when the state dict cannot tell.
///
/// Prefixes are given without the trailing dot, as the module attribute names: `lstm`,
/// `encoder.rnn`, `fc`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TorchModules {
    /// The `nn.LSTM`/`nn.GRU` modules, bottom first (empty: found by their keys and sizes).
    pub rnn: Vec<String>,
    /// The `nn.Linear` layers of the head, first to last, each with the activation after it
    /// (the last one's activation is not applied: the explained score is the logit).
    pub head: Vec<(String, Activation)>,
    /// The `nn.Embedding`, if the model reads token ids.
    pub embedding: Option<String>,
    /// How the head reads the last recurrent module (`None`: `final`, reported as assumed).
    pub readout: Option<Readout>,
}

impl TorchModules {
    fn named(&self) -> bool {
        !self.rnn.is_empty() || !self.head.is_empty() || self.embedding.is_some()
    }
}

/// The safetensors metadata key under which a state dict may declare its readout (`final`,
/// `last`, `mean`, `max`, `per-step`), so that it need not be given on every run. The models
/// this project ships and trains carry it.
pub const READOUT_METADATA_KEY: &str = "lstm_lrp.readout";

fn dotted(prefix: &str) -> String {
    if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}.")
    }
}

struct Dict {
    tensors: BTreeMap<String, HostArray<f64>>,
    used: Vec<String>,
}

impl Dict {
    fn get(&mut self, key: &str) -> Option<&HostArray<f64>> {
        let t = self.tensors.get(key)?;
        self.used.push(key.to_string());
        Some(t)
    }
    fn require(&mut self, key: &str) -> Result<HostArray<f64>> {
        let present = self.tensors.keys().cloned().collect::<Vec<_>>().join(", ");
        self.get(key)
            .cloned()
            .ok_or_else(|| ImportError::MissingTensor {
                name: key.into(),
                present,
            })
    }
    fn matrix(&mut self, key: &str) -> Result<Matrix> {
        let t = self.require(key)?;
        match t.shape[..] {
            [r, c] => Ok(Matrix::new(r, c, t.data)?),
            _ => Err(ImportError::Rank {
                name: key.into(),
                shape: t.shape,
                expected: "2 dimensions",
            }),
        }
    }
    fn vector(&mut self, key: &str) -> Option<Result<Vec<f64>>> {
        let t = self.get(key)?.clone();
        Some(if t.shape.len() == 1 {
            Ok(t.data)
        } else {
            Err(ImportError::Rank {
                name: key.into(),
                shape: t.shape,
                expected: "1 dimension",
            })
        })
    }
    /// Prefixes `p` (with trailing dot, or empty) of keys `p + suffix`.
    fn prefixes_of(&self, suffix: &str) -> Vec<String> {
        self.tensors
            .keys()
            .filter_map(|k| k.strip_suffix(suffix).map(String::from))
            .collect()
    }
}

fn name_of(prefix: &str) -> String {
    prefix.trim_end_matches('.').to_string()
}

/// One recurrent module's layers, and whether it is bidirectional and has biases.
struct Module {
    prefix: String,
    layers: Vec<RecurrentLayer>,
    kind: &'static str,
    bidirectional: bool,
    had_bias: bool,
}

impl Module {
    fn input_size(&self) -> usize {
        self.layers[0].input_size()
    }
    fn output_size(&self) -> usize {
        self.layers
            .last()
            .expect("at least one layer")
            .output_size()
    }
}

/// Reads the recurrent module at `prefix`: LSTM or GRU by the recurrent kernel's shape.
fn read_module(dict: &mut Dict, prefix: &str) -> Result<Module> {
    let name = name_of(prefix);
    let mut layers = Vec::new();
    let mut bidirectional = false;
    let mut had_bias = false;
    let mut kind = "";
    for k in 0.. {
        let fw_key = format!("{prefix}weight_ih_l{k}");
        if !dict.tensors.contains_key(&fw_key) {
            break;
        }
        if dict
            .tensors
            .contains_key(&format!("{prefix}weight_hr_l{k}"))
        {
            return Err(ImportError::Unsupported(format!(
                "nn.LSTM `{name}` has proj_size > 0 (weight_hr_l{k}): projected LSTMs are not \
                 supported"
            )));
        }
        let mut direction = |dict: &mut Dict, suffix: &str| -> Result<CellWeights> {
            let what = format!("{name}[layer {k}{suffix}]");
            let w_ih = dict.matrix(&format!("{prefix}weight_ih_l{k}{suffix}"))?;
            let w_hh = dict.matrix(&format!("{prefix}weight_hh_l{k}{suffix}"))?;
            let b_ih = dict
                .vector(&format!("{prefix}bias_ih_l{k}{suffix}"))
                .transpose()?;
            let b_hh = dict
                .vector(&format!("{prefix}bias_hh_l{k}{suffix}"))
                .transpose()?;
            had_bias |= b_ih.is_some() || b_hh.is_some();
            let (rows, h) = (w_hh.rows(), w_hh.cols());
            if h > 0 && rows == 4 * h {
                kind = "LSTM";
                let foreign = ForeignLstm {
                    order: GateOrder::PYTORCH,
                    layout: KernelLayout::GatesByInputs,
                    w_x: w_ih,
                    w_h: w_hh,
                    biases: b_ih.into_iter().chain(b_hh).collect(),
                };
                Ok(to_canonical(&foreign, &what)?.into())
            } else if h > 0 && rows == 3 * h {
                kind = "GRU";
                Ok(gru_from_pytorch(&w_ih, &w_hh, b_ih, b_hh, &what)?.into())
            } else if rows == h {
                Err(ImportError::Unsupported(format!(
                    "`{name}` is an nn.RNN (weight_hh_l{k}{suffix} is {h} × {h}, H × H): plain \
                     RNN cells are not supported (nn.LSTM and nn.GRU are)"
                )))
            } else {
                Err(ImportError::Unsupported(format!(
                    "{what}: weight_hh has shape [{rows}, {h}]: neither an nn.LSTM (4H × H), an \
                     nn.GRU (3H × H) nor an nn.RNN (H × H); only nn.LSTM and nn.GRU are supported"
                )))
            }
        };
        let forward = direction(dict, "")?;
        let has_reverse = dict
            .tensors
            .contains_key(&format!("{prefix}weight_ih_l{k}_reverse"));
        let layer = if has_reverse {
            bidirectional = true;
            let backward = direction(dict, "_reverse")?;
            RecurrentLayer::bidirectional(forward, backward, MergeMode::Concat)
        } else {
            RecurrentLayer::unidirectional(forward)
        };
        layers.push(layer);
    }
    if layers.is_empty() {
        return Err(ImportError::MissingTensor {
            name: format!("{prefix}weight_ih_l0"),
            present: dict.tensors.keys().cloned().collect::<Vec<_>>().join(", "),
        });
    }
    Ok(Module {
        prefix: prefix.to_string(),
        layers,
        kind,
        bidirectional,
        had_bias,
    })
}

/// Every order of `n` items (small: a handful of modules).
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for pos in 0..=p.len() {
            let mut q = p.clone();
            q.insert(pos, n - 1);
            out.push(q);
        }
    }
    out
}

/// Why a state dict whose recurrence is an `nn.LSTMCell` or `nn.GRUCell` (`weight_ih` and
/// `weight_hh` without a layer suffix) is not read, if it is one: the loop over time that runs
/// a cell is the model's own code, which a state dict does not hold.
fn recurrent_cell(dict: &Dict) -> Option<String> {
    dict.prefixes_of("weight_ih")
        .into_iter()
        .find_map(|prefix| {
            let ih = dict.tensors.get(&format!("{prefix}weight_ih"))?;
            let hh = dict.tensors.get(&format!("{prefix}weight_hh"))?;
            let (&[rows, _], &[hh_rows, hidden]) = (&ih.shape[..], &hh.shape[..]) else {
                return None;
            };
            let kind = match (rows / hidden.max(1), rows % hidden.max(1), hh_rows == rows) {
                (4, 0, true) => "nn.LSTMCell",
                (3, 0, true) => "nn.GRUCell",
                _ => return None,
            };
            let name = name_of(&prefix);
            Some(format!(
                "`{name}` is an {kind} ({name}.weight_ih is {rows} × {}): a cell's loop over the \
             sequence is the model's own code, which a state dict does not hold, so lstm-lrp \
             reads nn.LSTM and nn.GRU modules only. If the loop starts from zero state, runs \
             forward over every step and the head reads the last h, it is a one-layer {} with \
             the same weights: rename `{name}.weight_ih`, `weight_hh`, `bias_ih`, `bias_hh` to \
             `…_l0` (or load them into that module and save its state dict)",
                ih.shape[1],
                kind.trim_end_matches("Cell"),
            ))
        })
}

/// The recurrent modules, bottom first: as named, or the one found, or the one chain of the
/// found ones whose sizes fit.
fn recurrent_modules(
    dict: &mut Dict,
    modules: &TorchModules,
) -> Result<(Vec<Module>, Option<String>)> {
    if !modules.rnn.is_empty() {
        let found = modules
            .rnn
            .iter()
            .map(|p| read_module(dict, &dotted(p)))
            .collect::<Result<Vec<_>>>()?;
        return Ok((found, None));
    }
    let prefixes = dict.prefixes_of("weight_ih_l0");
    if prefixes.is_empty() {
        if let Some(cell) = recurrent_cell(dict) {
            return Err(ImportError::Unsupported(cell));
        }
        return Err(ImportError::Format(
            "no nn.LSTM or nn.GRU found: no tensor named `…weight_ih_l0` (is this a recurrent \
             model's state dict?)"
                .into(),
        ));
    }
    if prefixes.len() > 4 {
        return Err(ImportError::Format(format!(
            "{} recurrent modules ({}); name them bottom first (--rnn)",
            prefixes.len(),
            prefixes
                .iter()
                .map(|p| name_of(p))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let found = prefixes
        .iter()
        .map(|p| read_module(dict, p))
        .collect::<Result<Vec<_>>>()?;
    if found.len() == 1 {
        return Ok((found, None));
    }
    let fits = |order: &Vec<usize>| {
        order
            .windows(2)
            .all(|w| found[w[0]].output_size() == found[w[1]].input_size())
    };
    let orders: Vec<Vec<usize>> = permutations(found.len()).into_iter().filter(fits).collect();
    let [order] = orders.as_slice() else {
        return Err(ImportError::Format(format!(
            "recurrent modules {} can be stacked in {} orders by their sizes; name them bottom \
             first (--rnn a,b)",
            found
                .iter()
                .map(|m| name_of(&m.prefix))
                .collect::<Vec<_>>()
                .join(", "),
            orders.len()
        )));
    };
    let mut slots: Vec<Option<Module>> = found.into_iter().map(Some).collect();
    let ordered: Vec<Module> = order
        .iter()
        .map(|&i| slots[i].take().expect("each index once"))
        .collect();
    let note = format!(
        "recurrent modules stacked by their sizes: {}",
        ordered
            .iter()
            .map(|m| name_of(&m.prefix))
            .collect::<Vec<_>>()
            .join(" → ")
    );
    Ok((ordered, Some(note)))
}

/// Builds the model from a state dict's tensors.
pub fn read_torch_state_dict(
    tensors: Vec<(String, HostArray<f64>)>,
    modules: &TorchModules,
    format: String,
) -> Result<ImportedModel> {
    read_declared_state_dict(tensors, modules, format, None)
}

/// [`read_torch_state_dict`] for a file that declares its readout (safetensors metadata
/// [`READOUT_METADATA_KEY`]); a readout in `modules` still wins, reported with the declared one.
pub(crate) fn read_declared_state_dict(
    tensors: Vec<(String, HostArray<f64>)>,
    modules: &TorchModules,
    format: String,
    declared: Option<Readout>,
) -> Result<ImportedModel> {
    let (tensors, weight_normed) = fold_weight_norm(tensors)?;
    let mut dict = Dict {
        tensors: tensors.into_iter().collect(),
        used: Vec::new(),
    };
    let (rnn, stack_note) = recurrent_modules(&mut dict, modules)?;
    let feature_size = rnn[0].input_size();
    let out_size = rnn.last().expect("at least one module").output_size();
    let bidirectional = rnn.last().is_some_and(|m| m.bidirectional);
    let had_bias = rnn.iter().any(|m| m.had_bias);
    let kinds: Vec<&str> = rnn.iter().map(|m| m.kind).collect();
    let rnn_prefixes: Vec<String> = rnn.iter().map(|m| m.prefix.clone()).collect();
    let layers: Vec<RecurrentLayer> = rnn.into_iter().flat_map(|m| m.layers).collect();

    // Candidate modules among the remaining 2-D `weight` tensors.
    let rnn_key = |k: &str| {
        rnn_prefixes
            .iter()
            .any(|p| !p.is_empty() && k.starts_with(p.as_str()))
    };
    let candidates: Vec<(String, [usize; 2], bool)> = dict
        .tensors
        .iter()
        .filter(|(k, t)| k.ends_with("weight") && t.shape.len() == 2 && !rnn_key(k))
        .map(|(k, t)| {
            let p = k
                .strip_suffix("weight")
                .expect("ends with weight")
                .to_string();
            let has_bias = dict.tensors.contains_key(&format!("{p}bias"));
            (p, [t.shape[0], t.shape[1]], has_bias)
        })
        .collect();

    // The head.
    let head_specs: Vec<(String, Activation)> = if modules.head.is_empty() {
        let fits: Vec<&(String, [usize; 2], bool)> = candidates
            .iter()
            .filter(|(_, s, _)| s[1] == out_size)
            .collect();
        match fits.as_slice() {
            [(p, _, _)] => vec![(p.clone(), Activation::Linear)],
            [] => {
                return Err(ImportError::Format(format!(
                    "no nn.Linear head reads the recurrent module's {out_size} outputs; name the \
                     head's Linear layers (--head)"
                )));
            }
            many => {
                return Err(ImportError::Format(format!(
                    "several nn.Linear layers read the recurrent module's {out_size} outputs \
                     ({}); name the head's layers in order (--head)",
                    many.iter()
                        .map(|(p, _, _)| name_of(p))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
    } else {
        modules.head.iter().map(|(p, a)| (dotted(p), *a)).collect()
    };
    let mut head = Vec::new();
    for (prefix, activation) in &head_specs {
        let weight = dict.matrix(&format!("{prefix}weight"))?;
        let out = weight.rows();
        let b = match dict.vector(&format!("{prefix}bias")) {
            Some(b) => b?,
            None => vec![0.0; out],
        };
        head.push(DenseLayer {
            w: weight.transpose(),
            b,
            activation: *activation,
        });
    }

    // The embedding.
    let embedding_prefix = match &modules.embedding {
        Some(p) => Some(dotted(p)),
        None => {
            let fits: Vec<&(String, [usize; 2], bool)> = candidates
                .iter()
                .filter(|(p, s, has_bias)| {
                    !has_bias && s[1] == feature_size && !head_specs.iter().any(|(h, _)| h == p)
                })
                .collect();
            match fits.as_slice() {
                [] => None,
                [(p, _, _)] => Some(p.clone()),
                many => {
                    return Err(ImportError::Format(format!(
                        "several tensors could be the nn.Embedding ({}); name it (--embedding)",
                        many.iter()
                            .map(|(p, _, _)| name_of(p))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
        }
    };
    let input = match &embedding_prefix {
        Some(p) => InputLayer::Embedding {
            table: dict.matrix(&format!("{p}weight"))?,
            mask_zero: false,
        },
        None => InputLayer::Features {
            size: feature_size,
            mask_value: None,
        },
    };

    // Nothing may be left over unless the user named the modules: an unexplained tensor could
    // be a layer between them, and ignoring it would explain a different model.
    let leftover: Vec<String> = dict
        .tensors
        .keys()
        .filter(|k| !dict.used.contains(k))
        .cloned()
        .collect();
    let mut notes: Vec<String> = stack_note.into_iter().collect();
    if !weight_normed.is_empty() {
        let names: Vec<String> = weight_normed.iter().map(|n| format!("`{n}`")).collect();
        notes.push(format!(
            "weight norm folded into {} (w = g·v/‖v‖, as the module computes it)",
            names.join(", ")
        ));
    }
    let mut warnings = Vec::new();
    let readout = modules.readout.or(declared).unwrap_or(Readout::Final);
    let final_form = if bidirectional {
        "cat(h_n[-2], h_n[-1])"
    } else {
        "h_n[-1]"
    };
    match (modules.readout, declared) {
        (Some(given), Some(declared)) if given != declared => notes.push(format!(
            "readout `{given}` (as given; the file declares `{declared}`)"
        )),
        (Some(_), _) => notes.push(format!("readout `{readout}` (as given)")),
        (None, Some(_)) => notes.push(format!(
            "readout `{readout}` (declared in the file's metadata `{READOUT_METADATA_KEY}`)"
        )),
        (None, None) => warnings.push(format!(
            "assumed readout `final`: the head reads {final_form}; if it reads output[:, -1], a \
             mean or max over the outputs, or every step, say so with --readout \
             last|mean|max|per-step (Python: readout=\"last\", …)"
        )),
    }
    if !leftover.is_empty() {
        if modules.named() {
            // The user's names win, but a module left out may be part of the computation (an
            // attention scorer, a normalisation): every run says so, not only `inspect`.
            warnings.push(format!(
                "tensors not used: {} — the modules named leave them out; if they take part in \
                 the model's forward pass (attention, a normalisation, another head), the \
                 explanation is of a different model",
                leftover.join(", ")
            ));
        } else {
            let path: Vec<String> = embedding_prefix
                .iter()
                .map(|p| format!("{} (nn.Embedding)", name_of(p)))
                .chain(
                    rnn_prefixes
                        .iter()
                        .zip(&kinds)
                        .map(|(p, kind)| format!("{} (nn.{kind})", name_of(p))),
                )
                .chain(head.iter().zip(&head_specs).map(|(layer, (p, _))| {
                    format!(
                        "{} (nn.Linear {} → {})",
                        name_of(p),
                        layer.w.rows(),
                        layer.w.cols()
                    )
                }))
                .collect();
            return Err(leftover_error(
                &dict.tensors,
                &leftover,
                &path,
                head.last()
                    .zip(head_specs.last())
                    .map(|(layer, (p, _))| (name_of(p), layer.w.cols())),
            ));
        }
    }
    let params = ModelParams::new(input, layers, head)?.with_readout(readout);
    let mut conversions = Vec::new();
    if kinds.contains(&"LSTM") {
        conversions.push(
            "LSTM kernels (4H, in) transposed to (in, 4H); gate order i, f, g, o = Keras i, f, c, \
             o: blocks kept"
                .to_string(),
        );
        if had_bias {
            conversions.push("LSTM bias_ih + bias_hh summed into one bias".into());
        }
    }
    if kinds.contains(&"GRU") {
        conversions.push(
            "GRU kernels (3H, in) transposed to (in, 3H); gate order r, z, n reordered to Keras' \
             z, r, n (reset_after); bias_ih and bias_hh kept apart"
                .to_string(),
        );
    }
    conversions.push("Linear weights (out, in) transposed to (in, out)".into());
    Ok(ImportedModel {
        report: ImportReport {
            format,
            layers: describe_layers(&params),
            conversions,
            notes,
            warnings,
        },
        params,
        format: None,
    })
}

/// The error for tensors no role was found for: each module they form, with what it looks like,
/// the path that was found, and what to do. `head` is the found head's last Linear and its
/// output size, for suggesting a longer head when a left-over Linear reads that output.
fn leftover_error(
    tensors: &BTreeMap<String, HostArray<f64>>,
    leftover: &[String],
    path: &[String],
    head: Option<(String, usize)>,
) -> ImportError {
    // Group by module: the key up to its last dot.
    let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for key in leftover {
        let module = key.rsplit_once('.').map_or(key.as_str(), |(m, _)| m);
        groups.entry(module).or_default().push(key);
    }
    let mut next_linear = None;
    let described: Vec<String> = groups
        .iter()
        .map(|(module, keys)| {
            let shape = |leaf: &str| {
                tensors
                    .get(&format!("{module}.{leaf}"))
                    .map(|t| t.shape.clone())
            };
            let listed = keys
                .iter()
                .map(|k| format!("{k} {:?}", tensors[*k].shape))
                .collect::<Vec<_>>()
                .join(", ");
            let guess = match (shape("weight").as_deref(), shape("bias").is_some()) {
                _ if shape("running_mean").is_some() => "an nn.BatchNorm1d?".to_string(),
                (Some(&[out, inp]), bias) => {
                    if let Some((h, size)) = &head
                        && *size == inp
                    {
                        next_linear = Some((h.clone(), module.to_string()));
                    }
                    if bias {
                        format!("an nn.Linear {inp} → {out}?")
                    } else {
                        format!("an nn.Linear {inp} → {out} without bias, or an nn.Embedding?")
                    }
                }
                (Some(&[n]), _) => format!("an nn.LayerNorm of {n} features?"),
                _ => "no module lstm-lrp knows".to_string(),
            };
            format!("`{module}` ({listed}: {guess})")
        })
        .collect();
    let longer_head = match next_linear {
        Some((head, next)) => format!(
            "; if `{next}` follows `{head}`, name the head's layers in order with the activation \
             after each: --head {head}:ACT,{next} (ACT linear, relu or tanh)"
        ),
        None => String::new(),
    };
    let (what, it) = if described.len() == 1 {
        (format!("module {} is", described[0]), "it is")
    } else {
        (format!("modules {} are", described.join(", ")), "they are")
    };
    ImportError::Unsupported(format!(
        "{what} not on the path found ({}); lstm-lrp explains [nn.Embedding →] nn.LSTM/nn.GRU \
         modules → nn.Linear layers (linear, relu or tanh between them) and no other layer \
         between them{longer_head}; if {it} not on the path from input to logits, name the \
         model's modules (--rnn, --head, --embedding) to proceed",
        path.join(" → ")
    ))
}
