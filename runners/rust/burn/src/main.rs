//! enginebench-burn: the job (runner-protocol) -> the burn backend this build was compiled
//! with (Flex by default; NdArray, LibTorch, CUDA, ROCm, wgpu, Metal as cargo features) and a
//! weight format for the precision -> a Llama loaded from the checkpoint. `--ops` runs single
//! operators on the same backend instead (ops.rs).

mod model;
mod ops;
mod weights;

use std::path::Path;

use anyhow::{Context, Result};
use burn::tensor::quantization::{QuantScheme, QuantValue, ScaleDtype};
use burn::tensor::{DType, Device, FloatDType};
use runner_protocol::{unsupported, Identity, Job};
use serde_json::json;

use model::{Format, Llama};
use weights::Checkpoint;

/// The backends compiled in, in the order `device` prefers them.
const BACKENDS: &[&str] = &[
    #[cfg(feature = "cuda")]
    "cuda",
    #[cfg(feature = "rocm")]
    "rocm",
    #[cfg(feature = "metal")]
    "metal",
    #[cfg(feature = "wgpu")]
    "wgpu",
    #[cfg(feature = "tch")]
    "tch",
    // NdArray is never on by default: compiled in beside Flex, it was asked for
    #[cfg(feature = "ndarray")]
    "ndarray",
    #[cfg(feature = "flex")]
    "flex",
];

/// burn's cargo features in this build besides the backends (see Cargo.toml).
const BURN_FEATURES: &[&str] = &[
    "std",
    #[cfg(any(feature = "ndarray", feature = "flex"))]
    "rayon",
    #[cfg(any(feature = "ndarray", feature = "flex"))]
    "simd",
];

/// KV cache positions allocated at load when the job states no context.
const DEFAULT_CACHE: usize = 512;

/// Block size of the q8/q4 schemes.
const QUANT_BLOCK: u8 = 32;

fn main() {
    let build = json!({
        "backends": BACKENDS, "features": BURN_FEATURES, "rustc": env!("RUSTC_VERSION"),
    });
    let id = Identity {
        engine: "burn",
        version: env!("ENGINE_VERSION"),
        build,
    };
    runner_protocol::serve(id, load, ops::make)
}

fn load(job: &Job) -> Result<Llama> {
    let (device, backend) = device(&job.device)?;
    let format = format(&job.precision, &device, backend)?;
    let mut notes = vec![format!(
        "backend: burn {} {backend}, {device:?}",
        env!("ENGINE_VERSION")
    )];
    if backend == "flex" {
        notes.push(
            "flex backend: matmul is the gemm crate's, other ops on rayon's pool \
                    (RAYON_NUM_THREADS, set to the cell's threads)"
                .to_string(),
        );
    }
    if backend == "ndarray" {
        // matrixmultiply runs its own thread pool, sized once from this variable.
        if job.threads > 0 {
            std::env::set_var("MATMUL_NUM_THREADS", job.threads.to_string());
        }
        let pool = match job.threads {
            0 => "physical cores".to_string(),
            n => format!("MATMUL_NUM_THREADS={n}"),
        };
        notes.push(format!(
            "ndarray backend (deprecated in burn 0.22 for flex): matmul is matrixmultiply sgemm \
             on its own thread pool ({pool}, at most 4), packing both operands on every call; \
             other ops on rayon's pool"
        ));
    }

    let dir = Path::new(&job.model_dir);
    let cfg = &job.config;
    let ckpt = Checkpoint::open(dir)?;
    notes.push(format!(
        "checkpoint dtypes {:?}, computing in {:?}",
        ckpt.dtypes()?,
        format.dtype
    ));
    if let Some(scheme) = &format.quant {
        notes.push(format!(
            "matmul weights (q,k,v,o,gate,up,down,lm_head) quantized at load by burn's \
             Tensor::quantize_dynamic (MinMax calibration, what burn's Quantizer runs): \
             {scheme:?}, blocks of {QUANT_BLOCK} along the output dim of the [in, out] weight \
             (burn's Linear layout); embeddings and norms stay {:?}",
            format.dtype
        ));
        if backend == "ndarray" {
            let how = "dequantizes the i8 weight to f32 on every call, then runs the f32 matmul";
            notes.push(format!("burn-ndarray q_matmul {how}"));
        }
    }
    let capacity = if job.context > 0 {
        job.context
    } else {
        DEFAULT_CACHE
    };
    let mut model = Llama::load(&ckpt, cfg, &format, capacity, &device)
        .with_context(|| format!("loading {}", dir.display()))?;
    notes.push(format!(
        "attention: burn::tensor::module::attention with is_causal; KV cache preallocated for \
         {capacity} positions, written in place with slice_assign, doubled when full"
    ));
    model.notes = notes;
    Ok(model)
}

/// The device `name` ("cpu", "cuda", "cuda:1", "gpu", ...) on a backend this build has.
#[allow(deprecated)] // burn 0.22 deprecates NdArray and LibTorch but still ships them.
fn device(name: &str) -> Result<(Device, &'static str)> {
    let (kind, index) = match name.split_once(':') {
        Some((kind, i)) => (
            kind,
            i.parse::<usize>()
                .with_context(|| format!("device {name}"))?,
        ),
        None => (name, 0),
    };
    #[cfg(feature = "cuda")]
    if matches!(kind, "cuda" | "gpu") {
        return Ok((Device::cuda(index), "cuda"));
    }
    #[cfg(feature = "rocm")]
    if matches!(kind, "rocm" | "hip" | "gpu") {
        return Ok((Device::rocm(index), "rocm"));
    }
    #[cfg(feature = "metal")]
    if matches!(kind, "metal" | "mps" | "gpu") {
        return Ok((
            Device::metal(burn::tensor::DeviceKind::DefaultDevice),
            "metal",
        ));
    }
    #[cfg(feature = "wgpu")]
    if matches!(kind, "wgpu" | "vulkan" | "gpu") {
        return Ok((
            Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
            "wgpu",
        ));
    }
    #[cfg(feature = "tch")]
    match kind {
        "cpu" => return Ok((Device::libtorch(), "tch")),
        "cuda" | "gpu" => return Ok((Device::libtorch_cuda(index), "tch")),
        "mps" => return Ok((Device::libtorch_mps(), "tch")),
        _ => {}
    }
    #[cfg(feature = "ndarray")]
    if kind == "cpu" {
        return Ok((Device::ndarray(), "ndarray"));
    }
    #[cfg(feature = "flex")]
    if kind == "cpu" {
        return Ok((Device::flex(), "flex"));
    }
    let _ = (kind, index);
    unsupported(format!(
        "device {name:?}: this build's burn backends are {BACKENDS:?}"
    ))
}

/// The weight format for `precision`, if the backend can run it.
fn format(precision: &str, device: &Device, backend: &str) -> Result<Format> {
    let float = |dtype: FloatDType| {
        if device.supports_dtype(dtype) {
            return Ok(Format { dtype, quant: None });
        }
        let why = match backend {
            "ndarray" => {
                "burn-ndarray 0.22.1 has no f16/bf16 tensors: NdArray::dtype_usage \
                          gives F16 and BF16 no storage or arithmetic (the flex backend has both)"
            }
            _ => "Backend::dtype_usage reports it unsupported",
        };
        unsupported(format!("{precision} on burn's {backend} backend: {why}"))
    };
    let quant = |value: QuantValue| {
        let scheme: QuantScheme = device
            .settings()
            .quantization
            .scheme
            .with_value(value)
            .per_block([QUANT_BLOCK], ScaleDtype::F32);
        if device.supports_dtype(DType::QFloat(scheme)) {
            return Ok(Format {
                dtype: FloatDType::F32,
                quant: Some(scheme),
            });
        }
        let why = match backend {
            "ndarray" => {
                "burn-ndarray 0.22.1 quantizes 8-bit values only (Q8F/Q8S, symmetric, \
                          stored as i8); its 4- and 2-bit paths exist only under its test-only \
                          export_tests feature (Q2S per-tensor aside)"
            }
            "flex" => {
                "burn-flex 0.22.1 declares quantized dtypes storage-only (dtype_usage: \
                       Storage, no Arithmetic)"
            }
            _ => "Backend::dtype_usage reports the scheme unsupported",
        };
        unsupported(format!(
            "{precision} ({scheme:?}) on burn's {backend} backend: {why}"
        ))
    };
    match precision {
        "f32" => float(FloatDType::F32),
        "f16" => float(FloatDType::F16),
        "bf16" => float(FloatDType::BF16),
        "q8" => quant(QuantValue::Q8S),
        "q4" => quant(QuantValue::Q4S),
        other => unsupported(format!(
            "precision {other:?}: this runner knows f32, f16, bf16, q8, q4"
        )),
    }
}
