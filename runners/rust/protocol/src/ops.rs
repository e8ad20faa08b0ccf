//! Ops mode (`runner --ops`): single operators at a model's shapes, timed in the runner.
//!
//! stdin, line 1: `{"threads": 2, "device": "cpu"}`; the runner answers
//! `{"event":"ready","engine":...,"version":...,"build":{...},"now":...}`. Then one request
//! per line: an op (`matmul`, `matvec`, `rmsnorm`, `softmax`, `rope`, `swiglu`, `sdpa`), a
//! precision class, input files (raw little-endian f32, C order), params, an output path and
//! a timing plan. The runner loads the inputs and converts them (not timed), runs the op once
//! and writes its output as raw little-endian f32 to `out`, then times the op with the plan
//! (the algorithm of enginebench/ops/timing.py) and answers one line:
//! `{"event":"op","status":"ok","calls":N,"samples_s":[...],"out_shape":[...],"notes":[...]}`,
//! or `status` `unsupported` / `failed` with an `error`, after which it reads the next
//! request. At EOF: `{"event":"done","peak_rss_mb":...}`.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{answer_lines, emit, now, peak_rss_mb, read_job, use_threads, write_f32, Identity,
            Unsupported};

/// Line 1 of ops mode.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct OpsJob {
    /// Worker threads; 0 leaves the library default.
    #[serde(default)]
    pub threads: usize,
    #[serde(default = "crate::default_device")]
    pub device: String,
}

/// One input file: raw little-endian f32 in C order.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct InputFile {
    pub path: String,
    pub shape: Vec<usize>,
}

/// The timing plan (enginebench.ops.timing.TimingPlan, same defaults).
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct Plan {
    pub warmups: usize,
    pub reps: usize,
    pub min_sample_s: f64,
    pub max_calls: u64,
}

impl Default for Plan {
    fn default() -> Self {
        Self { warmups: 2, reps: 10, min_sample_s: 0.02, max_calls: 1 << 16 }
    }
}

/// One op to run and time.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct OpRequest {
    pub op: String,
    /// Precision class: fp32, fp16, bf16, int8, int4.
    pub precision: String,
    pub inputs: BTreeMap<String, InputFile>,
    #[serde(default)]
    pub params: serde_json::Map<String, Value>,
    pub out: String,
    #[serde(default)]
    pub plan: Plan,
}

impl OpRequest {
    /// A numeric parameter (`eps`, `scale`, `theta`).
    pub fn param(&self, name: &str) -> Result<f64> {
        self.params.get(name).and_then(Value::as_f64)
            .with_context(|| format!("{}: params has no number {name:?}", self.op))
    }
}

/// A float32 tensor in host memory, C order.
#[derive(Debug, Clone)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl HostTensor {
    pub fn read(file: &InputFile) -> Result<Self> {
        let bytes = std::fs::read(&file.path)
            .with_context(|| format!("cannot read {}", file.path))?;
        let n: usize = file.shape.iter().product();
        if bytes.len() != 4 * n {
            bail!("{}: {} bytes, shape {:?} needs {}", file.path, bytes.len(), file.shape, 4 * n);
        }
        let data = bytes.chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        Ok(Self { shape: file.shape.clone(), data })
    }
}

/// The inputs by name, taking them out of the map (an error names a missing one).
pub fn take(inputs: &mut HashMap<String, HostTensor>, name: &str) -> Result<HostTensor> {
    inputs.remove(name).with_context(|| format!("missing input {name:?}"))
}

/// The shapes of an `sdpa` request: q `[hq, tq, d]`, k and v `[hkv, tk, d]`, with `group`
/// query heads per kv head and the queries being the last `tq` of the `tk` positions.
#[derive(Debug, Clone, Copy)]
pub struct SdpaShape {
    pub hq: usize,
    pub hkv: usize,
    pub tq: usize,
    pub tk: usize,
    pub d: usize,
    pub group: usize,
}

impl SdpaShape {
    pub fn of(q: &HostTensor, k: &HostTensor) -> Result<Self> {
        let (&[hq, tq, d], &[hkv, tk, _]) = (q.shape.as_slice(), k.shape.as_slice()) else {
            bail!("sdpa: q and k must be [heads, tokens, head_dim]");
        };
        anyhow::ensure!(hkv > 0 && hq % hkv == 0 && tq <= tk,
                        "sdpa: q {:?} and k {:?}", q.shape, k.shape);
        Ok(Self { hq, hkv, tq, tk, d, group: hq / hkv })
    }

    /// Causal: may row `row` of a kv head's `group * tq` query rows see key `key`?
    pub fn sees(&self, row: usize, key: usize) -> bool {
        key <= self.tk - self.tq + row % self.tq
    }
}

/// An op ready to time: `call` runs it once on inputs already in the engine's format and
/// returns its output (with the device synchronised, for a backend that runs asynchronously).
pub struct PreparedOp<T> {
    pub call: Box<dyn FnMut() -> Result<T>>,
    /// How the op is run, for the case's notes.
    pub notes: Vec<String>,
}

/// A runner's operators.
pub trait Ops {
    /// The engine's output of one call (a tensor).
    type Output;
    /// Convert the inputs to the request's precision and return the op, or an
    /// `Unsupported` error saying why the engine cannot run it here.
    fn prepare(&mut self, req: &OpRequest, inputs: HashMap<String, HostTensor>)
        -> Result<PreparedOp<Self::Output>>;
    /// The output as f32 on the host.
    fn to_host(&mut self, out: Self::Output) -> Result<HostTensor>;
    /// Facts about the backend, for the `ready` line.
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }
}

fn sample<T>(call: &mut dyn FnMut() -> Result<T>, calls: u64) -> Result<f64> {
    let start = Instant::now();
    for _ in 0..calls {
        std::hint::black_box(call()?);
    }
    Ok(start.elapsed().as_secs_f64())
}

/// Double the calls until one sample reaches min_sample_s (or max_calls).
fn calls_per_sample<T>(call: &mut dyn FnMut() -> Result<T>, plan: &Plan) -> Result<u64> {
    let mut calls: u64 = 1;
    while calls < plan.max_calls {
        let seconds = sample(call, calls)?;
        if seconds >= plan.min_sample_s {
            break;
        }
        // jump close to the target, at least doubling, at most to max_calls
        let wanted = (calls as f64 * plan.min_sample_s / seconds.max(1e-9) * 1.1) as u64 + 1;
        calls = plan.max_calls.min(wanted.max(2 * calls));
    }
    Ok(calls)
}

/// (calls per sample, seconds per call of each of `reps` samples).
pub fn time_calls<T>(call: &mut dyn FnMut() -> Result<T>, plan: &Plan) -> Result<(u64, Vec<f64>)> {
    for _ in 0..plan.warmups {
        std::hint::black_box(call()?);
    }
    let calls = calls_per_sample(call, plan)?;
    let samples = (0..plan.reps)
        .map(|_| sample(call, calls).map(|s| s / calls as f64))
        .collect::<Result<Vec<_>>>()?;
    Ok((calls, samples))
}

fn run_op<O: Ops>(ops: &mut O, req: &OpRequest) -> Result<Value> {
    let mut inputs = HashMap::new();
    for (name, file) in &req.inputs {
        inputs.insert(name.clone(), HostTensor::read(file).with_context(|| format!("input {name}"))?);
    }
    let mut prepared = ops.prepare(req, inputs)?;
    let out = ops.to_host((prepared.call)()?)?;
    if out.data.len() != out.shape.iter().product::<usize>() {
        bail!("output of {} values for shape {:?}", out.data.len(), out.shape);
    }
    write_f32(&req.out, &out.data).with_context(|| format!("cannot write {}", req.out))?;
    let (calls, samples) = time_calls(&mut prepared.call, &req.plan)?;
    Ok(json!({"event": "op", "status": "ok", "calls": calls, "samples_s": samples,
              "out_shape": out.shape, "notes": prepared.notes}))
}

/// The last panic's message with its location, recorded by the ops mode's panic hook.
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

fn answer_line<O: Ops>(ops: &mut O, line: &str) -> Value {
    let req: OpRequest = match serde_json::from_str(line) {
        Ok(req) => req,
        Err(e) => return json!({"event": "op", "status": "failed",
                                "error": format!("bad request line: {e}")}),
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| run_op(ops, &req)));
    let err = match outcome {
        Ok(Ok(reply)) => return reply,
        Ok(Err(err)) => err,
        Err(_) => {
            let message = LAST_PANIC.lock().ok().and_then(|mut m| m.take());
            anyhow::anyhow!("panic: {}", message.unwrap_or_else(|| "(no message)".into()))
        }
    };
    let _ = std::fs::remove_file(format!("{}.tmp", req.out));
    match err.downcast_ref::<Unsupported>() {
        Some(u) => json!({"event": "op", "status": "unsupported", "error": u.0}),
        None => json!({"event": "op", "status": "failed", "error": format!("{err:#}")}),
    }
}

/// Ops mode's whole life: read the job, make the ops with `make`, answer requests until EOF.
pub(crate) fn serve_ops<O: Ops>(id: &Identity, make: impl FnOnce(&OpsJob) -> Result<O>) {
    let mut lines = std::io::stdin().lock().lines();
    let job: OpsJob = read_job(&mut lines);
    use_threads(job.threads);
    let mut ops = make(&job).unwrap_or_else(|e| crate::fail_with(e));
    emit(json!({
        "event": "ready", "engine": id.engine, "version": id.version, "build": id.build,
        "now": now(), "threads": job.threads, "notes": ops.notes(),
    }));
    // From here a panic in an op is one `failed` answer: the hook keeps its message (and
    // prints it to stderr), catch_unwind turns it into the reply.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("{info}");
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = Some(info.to_string());
        }
    }));
    answer_lines(lines, |line| answer_line(&mut ops, line));
    emit(json!({"event": "done", "peak_rss_mb": peak_rss_mb()}));
}
