//! The model config every runner reads: the harness's normalized `ModelConfig`
//! (src/enginebench/models/config.py) sent in the job, never a parse of config.json of
//! the runner's own, so transformers' spellings (`rope_theta` or `rope_parameters`, an
//! absent `head_dim`, ...) are read in one place. The harness has already refused what
//! a runner does not honour (`Engine.honours`); a runner checks again what it relies on.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use serde_json::{Map, Value};

/// One field per field of the Python `ModelConfig`; a field the runner does not know is
/// an error, so a new one cannot be ignored without a word.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub model_type: String,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub num_kv_heads: usize,
    pub head_dim: usize,
    pub vocab_size: usize,
    pub max_position_embeddings: usize,
    pub rms_norm_eps: f64,
    pub rope_theta: f64,
    pub rope_type: String,
    pub rope_scaling: Map<String, Value>,
    pub partial_rotary_factor: f64,
    pub attention_bias: bool,
    pub mlp_bias: bool,
    pub sliding_window: Option<usize>,
    pub tie_word_embeddings: bool,
    pub hidden_act: String,
    pub dtype: Option<String>,
    pub architecture: String,
    pub bos_token_id: Option<u32>,
    pub unknown: Vec<String>,
}

/// The llama3 rope scaling's parameters.
#[derive(Debug, Clone, Copy)]
pub struct Llama3Rope {
    pub factor: f64,
    pub low_freq_factor: f64,
    pub high_freq_factor: f64,
    pub original_max_position_embeddings: f64,
}

impl ModelConfig {
    /// `None` for the plain rotary, the llama3 parameters for `rope_type` llama3; any other
    /// rope type is an error naming it.
    pub fn llama3_rope(&self) -> Result<Option<Llama3Rope>> {
        match self.rope_type.as_str() {
            "default" => Ok(None),
            "llama3" => {
                let num = |k: &str| {
                    self.rope_scaling.get(k).and_then(Value::as_f64)
                        .with_context(|| format!("rope_scaling.{k} missing"))
                };
                Ok(Some(Llama3Rope {
                    factor: num("factor")?,
                    low_freq_factor: num("low_freq_factor")?,
                    high_freq_factor: num("high_freq_factor")?,
                    original_max_position_embeddings: num("original_max_position_embeddings")?,
                }))
            }
            other => bail!("rope_type {other:?} is not supported"),
        }
    }

    /// Fails naming the first field that changes the math beyond what every runner
    /// computes (a plain Llama with GQA, tied or untied head, default or llama3 rope),
    /// apart from those in `allowed` (`"head_dim"`, ...).
    pub fn check(&self, allowed: &[&str]) -> Result<()> {
        let mut found: Vec<(&str, String)> = Vec::new();
        if self.head_dim * self.num_heads != self.hidden_size {
            found.push(("head_dim", format!("head_dim {} != hidden_size / heads", self.head_dim)));
        }
        if self.attention_bias {
            found.push(("attention_bias", "attention_bias".into()));
        }
        if self.mlp_bias {
            found.push(("mlp_bias", "mlp_bias".into()));
        }
        if self.partial_rotary_factor != 1.0 {
            found.push(("partial_rotary_factor",
                        format!("partial_rotary_factor {}", self.partial_rotary_factor)));
        }
        if self.hidden_act != "silu" {
            found.push(("hidden_act", format!("hidden_act {:?}", self.hidden_act)));
        }
        if let Some(field) = self.unknown.first() {
            found.push(("unknown", format!("unknown config field {field:?}")));
        }
        match found.into_iter().find(|(key, _)| !allowed.contains(key)) {
            Some((_, what)) => bail!("this runner does not implement {what}"),
            None => {
                self.llama3_rope()?;
                Ok(())
            }
        }
    }

    /// Rotary inverse frequencies `theta^(-2i/d)` in f32, as transformers computes them,
    /// with the llama3 rescaling where the config has it.
    pub fn inv_freq(&self) -> Result<Vec<f32>> {
        let theta = self.rope_theta as f32;
        let d = self.head_dim;
        let base = (0..d / 2).map(|i| 1.0 / theta.powf((2 * i) as f32 / d as f32));
        let Some(r) = self.llama3_rope()? else {
            return Ok(base.collect());
        };
        let (factor, low, high) =
            (r.factor as f32, r.low_freq_factor as f32, r.high_freq_factor as f32);
        let old_len = r.original_max_position_embeddings as f32;
        let (low_wavelen, high_wavelen) = (old_len / low, old_len / high);
        Ok(base
            .map(|f| {
                let wavelen = 2.0 * std::f32::consts::PI / f;
                if wavelen < high_wavelen {
                    f
                } else if wavelen > low_wavelen {
                    f / factor
                } else {
                    let smooth = (old_len / wavelen - low) / (high - low);
                    (1.0 - smooth) * f / factor + smooth * f
                }
            })
            .collect())
    }
}
