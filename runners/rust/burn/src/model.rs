//! Llama in burn: Hugging Face `LlamaForCausalLM` (RMSNorm, rotate-half RoPE, grouped-query
//! attention, SwiGLU MLP) written with burn tensor ops, with a KV cache written in place
//! (preallocated, grown by doubling) and greedy decoding.

use anyhow::{ensure, Result};
use burn::tensor::activation::silu;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::quantization::QuantScheme;
use burn::tensor::{s, DType, Device, FloatDType, Int, Tensor, TensorData};
use runner_protocol::ModelConfig;

use crate::weights::Checkpoint;

/// How the weights are held: the float dtype everything computes in, and the quantization
/// scheme of the matmul weights, if any.
pub struct Format {
    pub dtype: FloatDType,
    pub quant: Option<QuantScheme>,
}

struct Layer {
    attn_norm: Tensor<1>,
    q: Tensor<2>,
    k: Tensor<2>,
    v: Tensor<2>,
    o: Tensor<2>,
    mlp_norm: Tensor<1>,
    gate: Tensor<2>,
    up: Tensor<2>,
    down: Tensor<2>,
}

/// One layer's keys and values, `[1, kv_heads, capacity, head_dim]`; positions up to
/// `Llama::len` are valid.
struct KvCache {
    k: Tensor<4>,
    v: Tensor<4>,
}

pub struct Llama {
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    eps: f64,
    dtype: DType,
    embed: Tensor<2>,
    layers: Vec<Layer>,
    norm: Tensor<1>,
    lm_head: Tensor<2>,
    inv_freq: Vec<f32>,
    cache: Vec<KvCache>,
    /// Positions the cache has room for.
    capacity: usize,
    /// Positions held in the cache.
    len: usize,
    device: Device,
    pub notes: Vec<String>,
}

impl Llama {
    pub fn load(
        ckpt: &Checkpoint,
        cfg: &ModelConfig,
        format: &Format,
        capacity: usize,
        device: &Device,
    ) -> Result<Self> {
        let dtype: DType = format.dtype.into();
        // head_dim may differ from hidden/heads; biases and other rope types are refused
        cfg.check(&["head_dim"])?;
        let (hidden, heads, kv_heads, head_dim) =
            (cfg.hidden_size, cfg.num_heads, cfg.num_kv_heads, cfg.head_dim);
        let checked = |name: &str, data: TensorData, shape: &[usize]| {
            ensure!(
                data.shape().as_slice() == shape,
                "{name}: shape {:?}, expected {shape:?}",
                data.shape()
            );
            Ok(data)
        };
        let vector = |name: &str, n: usize| -> Result<Tensor<1>> {
            Ok(Tensor::from_data(
                checked(name, ckpt.get(name)?, &[n])?,
                (device, dtype),
            ))
        };
        // Matmul weights are held as [in, out] (burn's Linear layout, y = x W) so that the
        // matmul reads them contiguously, and quantized there when the format says so.
        let quantize = |w: Tensor<2>| match &format.quant {
            Some(scheme) => w.quantize_dynamic(scheme),
            None => w,
        };
        let linear = |name: &str, out: usize, inp: usize| -> Result<Tensor<2>> {
            let data = checked(name, ckpt.get_transposed(name)?, &[inp, out])?;
            Ok(quantize(Tensor::from_data(data, (device, dtype))))
        };

        let embed_name = "model.embed_tokens.weight";
        let embed = checked(embed_name, ckpt.get(embed_name)?, &[cfg.vocab_size, hidden])?;
        let embed = Tensor::from_data(embed, (device, dtype));
        let lm_head_name = if cfg.tie_word_embeddings {
            embed_name
        } else {
            "lm_head.weight"
        };
        let lm_head = linear(lm_head_name, cfg.vocab_size, hidden)?;
        let mut layers = Vec::with_capacity(cfg.num_layers);
        for i in 0..cfg.num_layers {
            let p = format!("model.layers.{i}");
            let inter = cfg.intermediate_size;
            layers.push(Layer {
                attn_norm: vector(&format!("{p}.input_layernorm.weight"), hidden)?,
                q: linear(
                    &format!("{p}.self_attn.q_proj.weight"),
                    heads * head_dim,
                    hidden,
                )?,
                k: linear(
                    &format!("{p}.self_attn.k_proj.weight"),
                    kv_heads * head_dim,
                    hidden,
                )?,
                v: linear(
                    &format!("{p}.self_attn.v_proj.weight"),
                    kv_heads * head_dim,
                    hidden,
                )?,
                o: linear(
                    &format!("{p}.self_attn.o_proj.weight"),
                    hidden,
                    heads * head_dim,
                )?,
                mlp_norm: vector(&format!("{p}.post_attention_layernorm.weight"), hidden)?,
                gate: linear(&format!("{p}.mlp.gate_proj.weight"), inter, hidden)?,
                up: linear(&format!("{p}.mlp.up_proj.weight"), inter, hidden)?,
                down: linear(&format!("{p}.mlp.down_proj.weight"), hidden, inter)?,
            });
        }

        let cache_shape = [1, kv_heads, capacity, head_dim];
        let cache = (0..cfg.num_layers)
            .map(|_| KvCache {
                k: Tensor::zeros(cache_shape, (device, dtype)),
                v: Tensor::zeros(cache_shape, (device, dtype)),
            })
            .collect();
        Ok(Self {
            heads,
            kv_heads,
            head_dim,
            eps: cfg.rms_norm_eps,
            dtype,
            embed,
            layers,
            norm: vector("model.norm.weight", hidden)?,
            lm_head,
            inv_freq: cfg.inv_freq()?,
            cache,
            capacity,
            len: 0,
            device: device.clone(),
            notes: Vec::new(),
        })
    }

    /// Runs `ids` at positions `len..len + ids.len()` through the decoder, extending the KV
    /// cache; returns the final-norm hidden states `[ids.len(), hidden]`.
    fn forward(&mut self, ids: &[u32]) -> Result<Tensor<2>> {
        let (start, n) = (self.len, ids.len());
        ensure!(n > 0, "no tokens to run");
        self.reserve(start + n);
        let ids: Vec<i64> = ids.iter().map(|&id| id as i64).collect();
        let ids = Tensor::<1, Int>::from_data(TensorData::new(ids, [n]), &self.device);
        let mut x = self.embed.clone().select(0, ids);
        let rope = self.rope(start, n);
        // Taken out so that each layer's cache is uniquely owned and written in place.
        let caches = std::mem::take(&mut self.cache);
        let mut updated = Vec::with_capacity(caches.len());
        for (layer, cache) in self.layers.iter().zip(caches) {
            let (y, cache) = self.layer(layer, x, cache, &rope, start);
            x = y;
            updated.push(cache);
        }
        self.cache = updated;
        self.len = start + n;
        Ok(rms_norm(x, &self.norm, self.eps))
    }

    /// Grows every layer's cache to hold `needed` positions, at least doubling it.
    fn reserve(&mut self, needed: usize) {
        if needed <= self.capacity {
            return;
        }
        let capacity = needed.max(2 * self.capacity);
        let extra = [1, self.kv_heads, capacity - self.capacity, self.head_dim];
        let grow = |t: &Tensor<4>| {
            Tensor::cat(
                vec![t.clone(), Tensor::zeros(extra, (&self.device, self.dtype))],
                2,
            )
        };
        for cache in &mut self.cache {
            *cache = KvCache {
                k: grow(&cache.k),
                v: grow(&cache.v),
            };
        }
        self.capacity = capacity;
    }

    /// cos/sin of position * inv_freq for positions `start..start + n`, computed in f32 and
    /// repeated over both halves of head_dim as transformers does.
    fn rope(&self, start: usize, n: usize) -> Rope {
        let (mut cos, mut sin) = (Vec::new(), Vec::new());
        for pos in start..start + n {
            for _half in 0..2 {
                for &f in &self.inv_freq {
                    let angle = pos as f32 * f;
                    cos.push(angle.cos());
                    sin.push(angle.sin());
                }
            }
        }
        let table = |t: Vec<f32>| {
            Tensor::from_data(
                TensorData::new(t, [1, 1, n, self.head_dim]),
                (&self.device, self.dtype),
            )
        };
        Rope {
            cos: table(cos),
            sin: table(sin),
        }
    }

    fn layer(
        &self,
        l: &Layer,
        x: Tensor<2>,
        cache: KvCache,
        rope: &Rope,
        start: usize,
    ) -> (Tensor<2>, KvCache) {
        let n = x.dims()[0];
        let end = start + n;
        let h = rms_norm(x.clone(), &l.attn_norm, self.eps);
        let split =
            |t: Tensor<2>, heads: usize| t.reshape([1, n, heads, self.head_dim]).swap_dims(1, 2);
        let q = rope.apply(split(linear(h.clone(), &l.q), self.heads));
        let k = rope.apply(split(linear(h.clone(), &l.k), self.kv_heads));
        let v = split(linear(h, &l.v), self.kv_heads);

        let cache = KvCache {
            k: cache.k.slice_assign(s![.., .., start..end, ..], k),
            v: cache.v.slice_assign(s![.., .., start..end, ..], v),
        };
        let groups = self.heads / self.kv_heads;
        let keys = repeat_kv(cache.k.clone().slice(s![.., .., 0..end, ..]), groups);
        let values = repeat_kv(cache.v.clone().slice(s![.., .., 0..end, ..]), groups);
        // Causal with the diagonal at the bottom right: query i sees keys up to start + i.
        let options = AttentionModuleOptions {
            is_causal: n > 1,
            ..Default::default()
        };
        let out = attention(q, keys, values, None, None, options)
            .swap_dims(1, 2)
            .reshape([n, self.heads * self.head_dim]);
        let x = x + linear(out, &l.o);

        let h = rms_norm(x.clone(), &l.mlp_norm, self.eps);
        let mlp = linear(silu(linear(h.clone(), &l.gate)) * linear(h, &l.up), &l.down);
        (x + mlp, cache)
    }

    /// Logits `[rows, vocab]` in f32 for hidden states `[rows, hidden]`.
    fn head(&self, hidden: Tensor<2>) -> Tensor<2> {
        linear(hidden, &self.lm_head).cast(FloatDType::F32)
    }

    fn greedy(&self, hidden: Tensor<2>) -> Result<u32> {
        let rows = hidden.dims()[0];
        let last = hidden.slice(s![rows - 1..rows, ..]);
        let id = self.head(last).argmax(1).try_into_vec_as::<i64>()?;
        Ok(id[0] as u32)
    }
}

impl runner_protocol::Model for Llama {
    fn generate(&mut self, prompt: &[u32], n: usize, on_token: &mut dyn FnMut(u32)) -> Result<()> {
        if n == 0 {
            return Ok(());
        }
        ensure!(
            !prompt.is_empty(),
            "generate needs at least one prompt token"
        );
        self.len = 0;
        let hidden = self.forward(prompt)?;
        let mut id = self.greedy(hidden)?;
        on_token(id);
        for _ in 1..n {
            let hidden = self.forward(&[id])?;
            id = self.greedy(hidden)?;
            on_token(id);
        }
        Ok(())
    }

    fn logits(&mut self, ids: &[u32]) -> Result<(usize, Vec<f32>)> {
        self.len = 0;
        let hidden = self.forward(ids)?;
        let logits = self.head(hidden);
        let vocab = logits.dims()[1];
        Ok((vocab, logits.try_into_vec_as::<f32>()?))
    }

    fn notes(&self) -> Vec<String> {
        self.notes.clone()
    }
}

/// The RoPE tables for the positions being run, `[1, 1, n, head_dim]`.
struct Rope {
    cos: Tensor<4>,
    sin: Tensor<4>,
}

impl Rope {
    /// transformers' `apply_rotary_pos_emb`: x * cos + rotate_half(x) * sin, where
    /// rotate_half(x) = [-x2, x1] for the two halves of head_dim.
    fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        let half = x.dims()[3] / 2;
        let x1 = x.clone().slice(s![.., .., .., 0..half]);
        let x2 = x.clone().slice(s![.., .., .., half..]);
        let rotated = Tensor::cat(vec![x2.neg(), x1], 3);
        x * self.cos.clone() + rotated * self.sin.clone()
    }
}

/// y = x W for a weight held as [in, out].
fn linear(x: Tensor<2>, w: &Tensor<2>) -> Tensor<2> {
    x.matmul(w.clone())
}

/// transformers' `LlamaRMSNorm`: normalize in f32, cast back, then scale by the weight.
pub(crate) fn rms_norm(x: Tensor<2>, weight: &Tensor<1>, eps: f64) -> Tensor<2> {
    let dtype: FloatDType = x.dtype().into();
    let x = x.cast(FloatDType::F32);
    let inv_rms = x
        .clone()
        .square()
        .mean_dim(1)
        .add_scalar(eps)
        .sqrt()
        .recip();
    (x * inv_rms).cast(dtype) * weight.clone().unsqueeze::<2>()
}

/// Grouped-query attention: each kv head serves `groups` consecutive query heads.
fn repeat_kv(t: Tensor<4>, groups: usize) -> Tensor<4> {
    if groups == 1 {
        return t;
    }
    let [b, kv, len, d] = t.dims();
    t.unsqueeze_dim::<5>(2)
        .expand([b, kv, groups, len, d])
        .reshape([b, kv * groups, len, d])
}
