//! candle's ops mode: each operator through candle's own API (candle-nn's Linear, fused
//! rms_norm, softmax_last_dim and rope_thd; QMatMul for quantized weights), at f32, f16 or
//! bf16, and int8/int4 (GGML Q8_0/Q4_0 weights) for matmul and matvec.

use std::collections::HashMap;

use anyhow::{Context, Result};
use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::ops::{rms_norm, softmax_last_dim};
use candle_nn::rotary_emb::rope_thd;
use candle_nn::Linear;
use runner_protocol::ops::{take, SdpaShape};
use runner_protocol::{unsupported, HostTensor, OpRequest, Ops, OpsJob, PreparedOp};

pub struct CandleOps {
    device: Device,
}

/// The ops for the job's device; sizes candle's pools as the model mode does.
pub fn make(job: &OpsJob) -> Result<CandleOps> {
    if job.threads > 0 {
        // candle's barrier pool for quantized matmul reads this at its first use
        std::env::set_var("CANDLE_NUM_THREADS", job.threads.to_string());
    }
    Ok(CandleOps { device: crate::device(&job.device)? })
}

/// How a precision class is run: a float dtype, or GGML-quantized weights.
enum Precision {
    Float(DType),
    Quant(GgmlDType),
}

fn precision(class: &str) -> Result<Precision> {
    Ok(match class {
        "fp32" => Precision::Float(DType::F32),
        "fp16" => Precision::Float(DType::F16),
        "bf16" => Precision::Float(DType::BF16),
        "int8" => Precision::Quant(GgmlDType::Q8_0),
        "int4" => Precision::Quant(GgmlDType::Q4_0),
        other => return unsupported(format!("precision {other:?}: candle's ops mode runs \
                                              fp32, fp16, bf16, int8, int4")),
    })
}

impl CandleOps {
    fn tensor(&self, t: HostTensor, dtype: DType) -> Result<Tensor> {
        Ok(Tensor::from_vec(t.data, t.shape, &self.device)?.to_dtype(dtype)?)
    }

    /// The timed call: `f`, then a device sync (a no-op on the CPU; CUDA and Metal queue).
    fn op(&self, notes: Vec<String>,
          mut f: impl FnMut() -> candle_core::Result<Tensor> + 'static) -> PreparedOp<Tensor> {
        let device = self.device.clone();
        PreparedOp {
            call: Box::new(move || {
                let out = f()?;
                device.synchronize()?;
                Ok(out)
            }),
            notes,
        }
    }

    fn matmul(&self, mut a: HashMap<String, HostTensor>, prec: Precision)
              -> Result<PreparedOp<Tensor>> {
        let (x, w) = (take(&mut a, "x")?, take(&mut a, "w")?);
        match prec {
            Precision::Float(dtype) => {
                let linear = Linear::new(self.tensor(w, dtype)?, None);
                let x = self.tensor(x, dtype)?;
                let note = format!("candle_nn::Linear at {dtype:?} (x.matmul(w.t()), w as \
                                    stored [N, K]); gemm crate on the CPU");
                Ok(self.op(vec![note], move || linear.forward(&x)))
            }
            Precision::Quant(q) => {
                let k = *w.shape.last().context("w has no dims")?;
                if k % q.block_size() != 0 {
                    return unsupported(format!("{q:?} quantizes rows in blocks of {}; K = {k} \
                                                is not a multiple", q.block_size()));
                }
                let w = QTensor::quantize(&self.tensor(w, DType::F32)?, q)?;
                let mm = QMatMul::from_qtensor(w)?;
                let x = self.tensor(x, DType::F32)?;
                let note = format!("QMatMul on w quantized to GGML {q:?} (blocks of 32) by \
                                    QTensor::quantize; x stays f32, quantized per call to the \
                                    kernel's vec-dot type (Q8_0) inside candle's k-quants matmul");
                Ok(self.op(vec![note], move || mm.forward(&x)))
            }
        }
    }

    fn sdpa(&self, req: &OpRequest, mut a: HashMap<String, HostTensor>, dtype: DType)
            -> Result<PreparedOp<Tensor>> {
        let (q, k, v) = (take(&mut a, "q")?, take(&mut a, "k")?, take(&mut a, "v")?);
        let scale = req.param("scale")?;
        let shape = SdpaShape::of(&q, &k)?;
        let SdpaShape { hq, hkv, tq, tk, d, group } = shape;
        // Grouped-query attention without copying k and v: the `group` query heads of one kv
        // head are consecutive, so q [Hq, Tq, d] is q [Hkv, group * Tq, d].
        let q = self.tensor(q, dtype)?.reshape((hkv, group * tq, d))?;
        let kt = self.tensor(k, dtype)?.t()?;
        let v = self.tensor(v, dtype)?;
        // Causal, the queries being the last Tq positions: row r sees keys c <= Tk - Tq + r.
        let mask = if tq > 1 {
            let rows: Vec<f32> = (0..group * tq)
                .flat_map(|row| (0..tk).map(move |c| {
                    if shape.sees(row, c) { 0.0 } else { f32::NEG_INFINITY }
                }))
                .collect();
            Some(Tensor::from_vec(rows, (group * tq, tk), &self.device)?.to_dtype(dtype)?)
        } else {
            None
        };
        let note = format!(
            "sdpa at {dtype:?}: q.matmul(k.t()) * scale{} + softmax_last_dim + matmul v; GQA by \
             viewing q as [kv_heads, group * Tq, d] (k and v not repeated)",
            if mask.is_some() { " + additive causal mask (built in prepare)" } else { "" });
        Ok(self.op(vec![note], move || {
            let scores = (q.matmul(&kt)? * scale)?;
            let scores = match &mask {
                Some(m) => scores.broadcast_add(m)?,
                None => scores,
            };
            softmax_last_dim(&scores)?.matmul(&v)?.reshape((hq, tq, d))
        }))
    }
}

impl Ops for CandleOps {
    type Output = Tensor;

    fn prepare(&mut self, req: &OpRequest, mut a: HashMap<String, HostTensor>)
               -> Result<PreparedOp<Tensor>> {
        let prec = precision(&req.precision)?;
        if matches!(req.op.as_str(), "matmul" | "matvec") {
            return self.matmul(a, prec);
        }
        let dtype = match prec {
            Precision::Float(dtype) => dtype,
            Precision::Quant(q) => return unsupported(format!(
                "{} at {}: candle's quantized path (QMatMul, GGML {q:?}) is a matmul of \
                 quantized weights; {} has no quantized kernel", req.op, req.precision, req.op)),
        };
        match req.op.as_str() {
            "rmsnorm" => {
                let eps = req.param("eps")? as f32;
                let x = self.tensor(take(&mut a, "x")?, dtype)?;
                let w = self.tensor(take(&mut a, "weight")?, dtype)?;
                let note = format!("candle_nn::ops::rms_norm (fused, one pass) at {dtype:?}");
                Ok(self.op(vec![note], move || rms_norm(&x, &w, eps)))
            }
            "softmax" => {
                let x = self.tensor(take(&mut a, "x")?, dtype)?;
                let note = format!("candle_nn::ops::softmax_last_dim (fused) at {dtype:?}");
                Ok(self.op(vec![note], move || softmax_last_dim(&x)))
            }
            "rope" => {
                let x = take(&mut a, "x")?;
                let &[t, h, d] = x.shape.as_slice() else {
                    anyhow::bail!("rope: x must be [tokens, heads, head_dim]");
                };
                let x = self.tensor(x, dtype)?.reshape((1, t, h, d))?;
                let cos = self.tensor(take(&mut a, "cos")?, dtype)?;
                let sin = self.tensor(take(&mut a, "sin")?, dtype)?;
                let note = format!("candle_nn::rotary_emb::rope_thd (fused, rotate-half) at \
                                    {dtype:?} on x viewed as [1, T, heads, d]");
                Ok(self.op(vec![note], move || rope_thd(&x, &cos, &sin)?.reshape((t, h, d))))
            }
            "swiglu" => {
                let gate = self.tensor(take(&mut a, "gate")?, dtype)?;
                let up = self.tensor(take(&mut a, "up")?, dtype)?;
                let note = format!("gate.silu() * up (two kernels) at {dtype:?}");
                Ok(self.op(vec![note], move || gate.silu()? * &up))
            }
            "sdpa" => self.sdpa(req, a, dtype),
            other => unsupported(format!("op {other:?} is not one candle's ops mode knows")),
        }
    }

    fn to_host(&mut self, out: Tensor) -> Result<HostTensor> {
        let shape = out.dims().to_vec();
        let data = out.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        Ok(HostTensor { shape, data })
    }

    fn notes(&self) -> Vec<String> {
        vec![format!("candle device {:?}", self.device)]
    }
}
