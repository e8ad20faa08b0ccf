//! burn's ops mode: each operator written with burn tensor ops as the burn Llama (model.rs)
//! runs it, on the backend this build was compiled with; precisions as the model mode's
//! `format` allows them on that backend (NdArray: f32, and 8-bit quantized matmul weights).

use std::collections::HashMap;

use anyhow::{anyhow, bail, ensure, Result};
use burn::tensor::activation::{silu, softmax};
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{s, Bool, DType, Device, Tensor, TensorData};
use runner_protocol::ops::{take, SdpaShape};
use runner_protocol::{unsupported, HostTensor, OpRequest, Ops, OpsJob, PreparedOp};

use crate::model::{rms_norm, Format};
use crate::QUANT_BLOCK;

pub struct BurnOps {
    device: Device,
    backend: &'static str,
}

/// The ops for the job's device; sizes the backend's pools as the model mode does.
pub fn make(job: &OpsJob) -> Result<BurnOps> {
    let (device, backend) = crate::device(&job.device)?;
    if backend == "ndarray" && job.threads > 0 {
        // matrixmultiply runs its own thread pool, sized once from this variable.
        std::env::set_var("MATMUL_NUM_THREADS", job.threads.to_string());
    }
    Ok(BurnOps { device, backend })
}

/// An op's output: the ops return tensors of two ranks.
pub enum Out {
    D2(Tensor<2>),
    D3(Tensor<3>),
}

impl BurnOps {
    /// The runner precision (model mode's name) for a precision class, checked against the
    /// backend by the model mode's `format`.
    fn format(&self, class: &str) -> Result<Format> {
        let name = match class {
            "fp32" => "f32",
            "fp16" => "f16",
            "bf16" => "bf16",
            "int8" => "q8",
            "int4" => "q4",
            other => return unsupported(format!("precision {other:?}: burn's ops mode runs \
                                                 fp32, fp16, bf16, int8, int4 classes")),
        };
        crate::format(name, &self.device, self.backend)
    }

    fn tensor<const D: usize>(&self, t: HostTensor, dtype: DType) -> Result<Tensor<D>> {
        ensure!(t.shape.len() == D, "input of shape {:?} where {D} dims are due", t.shape);
        Ok(Tensor::from_data(TensorData::new(t.data, t.shape), (&self.device, dtype)))
    }

    /// The timed call: `f`, then a device sync (a no-op for NdArray; GPU backends queue).
    fn op(&self, note: String, mut f: impl FnMut() -> Out + 'static) -> PreparedOp<Out> {
        let device = self.device.clone();
        let backend = self.backend;
        PreparedOp {
            call: Box::new(move || {
                let out = f();
                device.sync().map_err(|e| anyhow!("device sync: {e:?}"))?;
                Ok(out)
            }),
            notes: vec![format!("burn {} {backend}: {note}", env!("ENGINE_VERSION"))],
        }
    }

    fn matmul(&self, mut a: HashMap<String, HostTensor>, format: &Format)
              -> Result<PreparedOp<Out>> {
        let dtype: DType = format.dtype.into();
        let (x, w) = (take(&mut a, "x")?, take(&mut a, "w")?);
        let &[n, k] = w.shape.as_slice() else { bail!("w must be [N, K]") };
        // Held as [K, N], burn's Linear layout (y = x W), as the burn Llama holds its weights:
        // transposed here, before timing, so the matmul reads it contiguously.
        let mut wt = vec![0f32; n * k];
        for (row, chunk) in w.data.chunks_exact(k).enumerate() {
            for (col, &value) in chunk.iter().enumerate() {
                wt[col * n + row] = value;
            }
        }
        let w: Tensor<2> = self.tensor(HostTensor { shape: vec![k, n], data: wt }, dtype)?;
        let x: Tensor<2> = self.tensor(x, dtype)?;
        let (w, how) = match &format.quant {
            None => (w, format!("x.matmul(w) at {:?} with w transposed to [K, N] (burn's \
                                 Linear layout) before timing", format.dtype)),
            Some(scheme) => {
                if n % QUANT_BLOCK as usize != 0 {
                    return unsupported(format!("{scheme:?} quantizes in blocks of \
                                                {QUANT_BLOCK} along N; N = {n} is not a \
                                                multiple"));
                }
                let mut how = format!("x.matmul(w) with w [K, N] quantized by \
                                       Tensor::quantize_dynamic to {scheme:?}, blocks of \
                                       {QUANT_BLOCK} along N; x stays f32");
                if self.backend == "ndarray" {
                    how.push_str("; burn-ndarray's q_matmul dequantizes w to f32 on every \
                                   call, then runs the f32 matmul (weight-only: no int8 \
                                   arithmetic)");
                }
                (w.quantize_dynamic(scheme), how)
            }
        };
        let how = if self.backend == "ndarray" {
            format!("{how}; matrixmultiply sgemm on its own thread pool")
        } else {
            how
        };
        Ok(self.op(how, move || Out::D2(x.clone().matmul(w.clone()))))
    }

    fn sdpa(&self, req: &OpRequest, mut a: HashMap<String, HostTensor>, dtype: DType)
            -> Result<PreparedOp<Out>> {
        let (q, k, v) = (take(&mut a, "q")?, take(&mut a, "k")?, take(&mut a, "v")?);
        let scale = req.param("scale")?;
        let shape = SdpaShape::of(&q, &k)?;
        let SdpaShape { hq, hkv, tq, tk, d, group } = shape;
        // Grouped-query attention without copying k and v: the `group` query heads of one kv
        // head are consecutive, so q [Hq, Tq, d] is q [1, Hkv, group * Tq, d].
        let q = self.tensor::<3>(q, dtype)?.reshape([1, hkv, group * tq, d]);
        let k = self.tensor::<3>(k, dtype)?.reshape([1, hkv, tk, d]);
        let v = self.tensor::<3>(v, dtype)?.reshape([1, hkv, tk, d]);
        // Causal, the queries being the last Tq positions: row r sees keys c <= Tk - Tq + r;
        // burn's mask is true where a score is masked out.
        let mask = (tq > 1).then(|| {
            let masked: Vec<bool> = (0..hkv * group * tq)
                .flat_map(|row| (0..tk).map(move |c| !shape.sees(row, c)))
                .collect();
            Tensor::<4, Bool>::from_data(TensorData::new(masked, [1, hkv, group * tq, tk]),
                                         &self.device)
        });
        let note = format!(
            "sdpa: burn::tensor::module::attention at {dtype:?} (matmul, scale, mask_fill, \
             softmax, matmul on this backend){}; GQA by viewing q as [1, kv_heads, group * Tq, \
             d] (k and v not repeated)",
            if mask.is_some() { " with a bool causal mask built before timing" } else { "" });
        let options = AttentionModuleOptions { scale: Some(scale), softcap: None,
                                               is_causal: false };
        Ok(self.op(note, move || {
            let out = attention(q.clone(), k.clone(), v.clone(), mask.clone(), None, options);
            Out::D3(out.reshape([hq, tq, d]))
        }))
    }
}

impl Ops for BurnOps {
    type Output = Out;

    fn prepare(&mut self, req: &OpRequest, mut a: HashMap<String, HostTensor>)
               -> Result<PreparedOp<Out>> {
        let format = self.format(&req.precision)?;
        if matches!(req.op.as_str(), "matmul" | "matvec") {
            return self.matmul(a, &format);
        }
        if let Some(scheme) = &format.quant {
            return unsupported(format!(
                "{} at {}: burn's quantization ({scheme:?}) is of matmul weights; {} has no \
                 quantized kernel", req.op, req.precision, req.op));
        }
        let dtype: DType = format.dtype.into();
        match req.op.as_str() {
            "rmsnorm" => {
                let eps = req.param("eps")?;
                let x: Tensor<2> = self.tensor(take(&mut a, "x")?, dtype)?;
                let w: Tensor<1> = self.tensor(take(&mut a, "weight")?, dtype)?;
                let note = "rmsnorm as the burn Llama runs it: x * recip(sqrt(mean_dim(x^2) + \
                            eps)) * weight (square, mean_dim, add_scalar, sqrt, recip, mul, mul)";
                Ok(self.op(note.into(), move || Out::D2(rms_norm(x.clone(), &w, eps))))
            }
            "softmax" => {
                let x: Tensor<3> = self.tensor(take(&mut a, "x")?, dtype)?;
                let note = format!("burn::tensor::activation::softmax over the last dim at \
                                    {dtype:?}");
                Ok(self.op(note, move || Out::D3(softmax(x.clone(), 2))))
            }
            "rope" => {
                let x: Tensor<3> = self.tensor(take(&mut a, "x")?, dtype)?;
                let half = x.dims()[2] / 2;
                // Tables widened to [T, 1, d] (both halves), as the burn Llama holds them.
                let widen = |t: HostTensor| -> Result<Tensor<3>> {
                    let t: Tensor<2> = self.tensor(t, dtype)?;
                    Ok(Tensor::cat(vec![t.clone(), t], 1).unsqueeze_dim(1))
                };
                let cos = widen(take(&mut a, "cos")?)?;
                let sin = widen(take(&mut a, "sin")?)?;
                let note = "rope as the burn Llama runs it: x * cos + rotate_half(x) * sin \
                            (slice, neg, cat, mul, add), cos/sin widened to [T, 1, d] before \
                            timing";
                Ok(self.op(note.into(), move || {
                    let x1 = x.clone().slice(s![.., .., 0..half]);
                    let x2 = x.clone().slice(s![.., .., half..]);
                    let rotated = Tensor::cat(vec![x2.neg(), x1], 2);
                    Out::D3(x.clone() * cos.clone() + rotated * sin.clone())
                }))
            }
            "swiglu" => {
                let gate: Tensor<2> = self.tensor(take(&mut a, "gate")?, dtype)?;
                let up: Tensor<2> = self.tensor(take(&mut a, "up")?, dtype)?;
                let note = format!("burn::tensor::activation::silu(gate) * up at {dtype:?}");
                Ok(self.op(note, move || Out::D2(silu(gate.clone()) * up.clone())))
            }
            "sdpa" => self.sdpa(req, a, dtype),
            other => unsupported(format!("op {other:?} is not one burn's ops mode knows")),
        }
    }

    fn to_host(&mut self, out: Out) -> Result<HostTensor> {
        let (shape, data) = match out {
            Out::D2(t) => (t.dims().to_vec(), t.try_into_vec_as::<f32>()),
            Out::D3(t) => (t.dims().to_vec(), t.try_into_vec_as::<f32>()),
        };
        let data = data.map_err(|e| anyhow!("reading the output: {e:?}"))?;
        Ok(HostTensor { shape, data })
    }

    fn notes(&self) -> Vec<String> {
        vec![format!("backend: burn {} {}, {:?}", env!("ENGINE_VERSION"), self.backend,
                     self.device)]
    }
}
