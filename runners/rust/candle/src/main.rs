//! enginebench's candle runner: candle-transformers' Llama on the checkpoint's
//! safetensors (f32, f16, bf16) and its quantized Llama on llama.cpp's GGUF files
//! (q8_0, q4_0, q4_k_m), behind the shared JSON-lines protocol; `--ops` runs single
//! operators instead (ops.rs).

mod ops;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use candle_core::quantized::gguf_file;
use candle_core::{DType, Device, Tensor, D};
use candle_nn::VarBuilder;
use candle_transformers::models::{llama, quantized_llama};
use runner_protocol::{serve, unsupported, Identity, Job, Model, ModelConfig};
use serde_json::json;

/// The loaded weights: a float model with the cache it starts each sequence from, or
/// a GGUF model that keeps its own cache.
enum Weights {
    Float { model: llama::Llama, empty_cache: llama::Cache },
    Gguf(Box<quantized_llama::ModelWeights>),
}

struct Candle {
    weights: Weights,
    device: Device,
}

impl Candle {
    /// Logits after feeding `ids` at `pos`; `pos == 0` starts a new sequence (the
    /// float model takes a fresh cache, the GGUF model clears its own).
    fn step(&mut self, cache: &mut Option<llama::Cache>, ids: &[u32], pos: usize)
            -> Result<Tensor> {
        let input = Tensor::new(ids, &self.device)?.unsqueeze(0)?;
        let logits = match &mut self.weights {
            Weights::Float { model, empty_cache } => {
                let cache = cache.get_or_insert_with(|| empty_cache.clone());
                model.forward(&input, pos, cache)?
            }
            Weights::Gguf(model) => {
                if pos == 0 {
                    model.clear_kv_cache();
                }
                model.forward(&input, pos)?
            }
        };
        Ok(logits.squeeze(0)?.to_dtype(DType::F32)?)
    }
}

fn argmax(logits: &Tensor) -> Result<u32> {
    Ok(logits.argmax(D::Minus1)?.to_scalar::<u32>()?)
}

impl Model for Candle {
    fn generate(&mut self, prompt: &[u32], n: usize, on_token: &mut dyn FnMut(u32))
                -> Result<()> {
        let mut cache = None;
        let mut next = argmax(&self.step(&mut cache, prompt, 0)?)?;
        on_token(next);
        for i in 1..n {
            next = argmax(&self.step(&mut cache, &[next], prompt.len() + i - 1)?)?;
            on_token(next);
        }
        Ok(())
    }

    /// candle-transformers' Llama returns the last position's logits only, so the
    /// sequence is fed one token at a time through the KV cache.
    fn logits(&mut self, ids: &[u32]) -> Result<(usize, Vec<f32>)> {
        let mut cache = None;
        let mut rows = Vec::with_capacity(ids.len());
        for (pos, id) in ids.iter().enumerate() {
            rows.push(self.step(&mut cache, &[*id], pos)?);
        }
        let all = Tensor::stack(&rows, 0)?;
        let vocab = all.dim(1)?;
        Ok((vocab, all.flatten_all()?.to_vec1::<f32>()?))
    }
}

fn device(name: &str) -> Result<Device> {
    match name {
        "cpu" => Ok(Device::Cpu),
        "cuda" if candle_core::utils::cuda_is_available() => Ok(Device::new_cuda(0)?),
        "metal" if candle_core::utils::metal_is_available() => Ok(Device::new_metal(0)?),
        "cuda" | "metal" => unsupported(format!(
            "this candle runner was built without the `{name}` feature; see runners/README.md")),
        other => unsupported(format!("unknown device {other:?} (cpu, cuda, metal)")),
    }
}

fn safetensors_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let index = dir.join("model.safetensors.index.json");
    if !index.is_file() {
        return Ok(vec![dir.join("model.safetensors")]);
    }
    let text = std::fs::read_to_string(&index)?;
    let map: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("bad JSON in {}", index.display()))?;
    let mut files: Vec<String> = map["weight_map"].as_object()
        .context("no weight_map in the safetensors index")?
        .values().filter_map(|v| v.as_str().map(String::from)).collect();
    files.sort();
    files.dedup();
    Ok(files.into_iter().map(|f| dir.join(f)).collect())
}

/// candle-transformers' Llama config from the job's normalized one. candle's Llama
/// takes head_dim as hidden/heads and has no biases: the harness does not send it
/// checkpoints that need them (CandleEngine.honours), and `check` refuses them again.
fn candle_config(c: &ModelConfig) -> Result<llama::Config> {
    c.check(&[])?;
    let rope_scaling = c.llama3_rope()?.map(|r| llama::Llama3RopeConfig {
        factor: r.factor as f32,
        low_freq_factor: r.low_freq_factor as f32,
        high_freq_factor: r.high_freq_factor as f32,
        original_max_position_embeddings: r.original_max_position_embeddings as usize,
        rope_type: llama::Llama3RopeType::Llama3,
    });
    Ok(llama::Config {
        hidden_size: c.hidden_size,
        intermediate_size: c.intermediate_size,
        vocab_size: c.vocab_size,
        num_hidden_layers: c.num_layers,
        num_attention_heads: c.num_heads,
        num_key_value_heads: c.num_kv_heads,
        use_flash_attn: false,
        rms_norm_eps: c.rms_norm_eps,
        rope_theta: c.rope_theta as f32,
        bos_token_id: None,
        eos_token_id: None,
        rope_scaling,
        max_position_embeddings: c.max_position_embeddings,
        tie_word_embeddings: c.tie_word_embeddings,
    })
}

fn load_float(job: &Job, dtype: DType, device: &Device) -> Result<Weights> {
    let dir = Path::new(&job.model_dir);
    let config = candle_config(&job.config)?;
    if job.context > config.max_position_embeddings {
        bail!("context {} exceeds max_position_embeddings {}", job.context,
              config.max_position_embeddings);
    }
    let files = safetensors_files(dir)?;
    // SAFETY: the files are not modified while mapped (they are the harness's checkpoint).
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(&files, dtype, device)? };
    let model = llama::Llama::load(vb, &config)?;
    let empty_cache = llama::Cache::new(true, dtype, &config, device)?;
    Ok(Weights::Float { model, empty_cache })
}

fn load_gguf(job: &Job, device: &Device) -> Result<Weights> {
    let path = job.artifact.as_deref().context("a GGUF precision needs the job's artifact")?;
    if job.context > quantized_llama::MAX_SEQ_LEN {
        bail!("context {} exceeds candle's quantized Llama limit {}", job.context,
              quantized_llama::MAX_SEQ_LEN);
    }
    let mut file = std::fs::File::open(path).with_context(|| format!("cannot open {path}"))?;
    let content = gguf_file::Content::read(&mut file)
        .map_err(|e| e.with_path(path))?;
    let model = quantized_llama::ModelWeights::from_gguf(content, &mut file, device)?;
    Ok(Weights::Gguf(Box::new(model)))
}

fn load(job: &Job) -> Result<Candle> {
    if job.threads > 0 {
        // candle's barrier pool for quantized matmul reads this at its first use
        std::env::set_var("CANDLE_NUM_THREADS", job.threads.to_string());
    }
    let device = device(&job.device)?;
    let weights = match job.precision.as_str() {
        "f32" => load_float(job, DType::F32, &device)?,
        "f16" => load_float(job, DType::F16, &device)?,
        "bf16" => load_float(job, DType::BF16, &device)?,
        "q8_0" | "q4_0" | "q4_k_m" => load_gguf(job, &device)?,
        other => return unsupported(format!(
            "candle runner precisions are f32, f16, bf16, q8_0, q4_0, q4_k_m; not {other:?}")),
    };
    Ok(Candle { weights, device })
}

fn main() {
    let build = json!({
        "rustc": env!("RUSTC_VERSION"),
        "features": {"cuda": cfg!(feature = "cuda"), "metal": cfg!(feature = "metal"),
                     "mkl": cfg!(feature = "mkl")},
        "cpu": {"avx": candle_core::utils::with_avx(), "f16c": candle_core::utils::with_f16c(),
                "neon": candle_core::utils::with_neon(), "simd128": candle_core::utils::with_simd128()},
    });
    serve(Identity { engine: "candle", version: env!("ENGINE_VERSION"), build }, load, ops::make)
}
