//! The JSON-lines protocol every enginebench Rust runner speaks, and its main loop.
//!
//! stdin, line 1: the job (checkpoint, precision, threads, ...); the runner loads the
//! model and answers `{"event":"ready",...}`. If the job names reps, the runner runs its
//! warm-ups and reps at once, one `generation` line per rep. Further stdin lines are
//! requests (`generate`, `logits`), answered one line each. At EOF: a `done` line.
//! `--version` prints the runner's identity as one JSON line and exits; `--ops` runs
//! single operators instead of a model (the `ops` module).
//! Anything that goes wrong is one `{"event":"error","kind":...,"message":...}` line and
//! a non-zero exit. Timestamps are CLOCK_MONOTONIC seconds, the clock of Python's
//! `time.perf_counter()` on Linux, so the harness times a Rust runner as it times Python.

use std::fmt;
use std::io::{BufRead, Write};
use std::time::Instant;

use serde::Deserialize;
use serde_json::{json, Value};

pub mod config;
pub mod ops;

pub use config::{Llama3Rope, ModelConfig};
pub use ops::{HostTensor, OpRequest, Ops, OpsJob, PreparedOp};

/// What the harness asks a runner to do; unknown fields are an error.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// Checkpoint folder in Hugging Face layout (config.json + *.safetensors).
    pub model_dir: String,
    /// The checkpoint's config as the harness's config reader normalized it; runners
    /// read this, never config.json.
    pub config: ModelConfig,
    /// Engine artifact (a GGUF file, ...) when the precision needs one.
    #[serde(default)]
    pub artifact: Option<String>,
    pub precision: String,
    /// Worker threads; 0 leaves the library default.
    #[serde(default)]
    pub threads: usize,
    #[serde(default = "default_device")]
    pub device: String,
    /// Most tokens a sequence will hold (prompt plus new tokens); 0 when not stated.
    #[serde(default)]
    pub context: usize,
    #[serde(default)]
    pub prompt_ids: Vec<u32>,
    #[serde(default)]
    pub new_tokens: usize,
    #[serde(default)]
    pub warmups: usize,
    #[serde(default)]
    pub reps: usize,
}

pub(crate) fn default_device() -> String {
    "cpu".into()
}

#[derive(Deserialize, Debug)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum Request {
    Generate { prompt_ids: Vec<u32>, new_tokens: usize },
    Logits { ids: Vec<u32>, out: String },
}

/// The engine cannot run this precision or device here; the message says why.
#[derive(Debug)]
pub struct Unsupported(pub String);

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unsupported {}

/// Shorthand for returning an `Unsupported` error.
pub fn unsupported<T>(msg: impl Into<String>) -> anyhow::Result<T> {
    Err(Unsupported(msg.into()).into())
}

/// A loaded model, as each runner implements it.
pub trait Model {
    /// Feed `prompt`, then generate exactly `n` tokens greedily (EOS ignored), calling
    /// `on_token` the moment each id is known.
    fn generate(&mut self, prompt: &[u32], n: usize, on_token: &mut dyn FnMut(u32))
        -> anyhow::Result<()>;
    /// Teacher-forced next-token logits at every position of `ids`, row-major
    /// `[ids.len(), vocab]`; returns (vocab, data).
    fn logits(&mut self, ids: &[u32]) -> anyhow::Result<(usize, Vec<f32>)>;
    /// Facts about how the model was loaded, for the cell's notes.
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Who the runner is: printed in the `ready` line.
pub struct Identity {
    pub engine: &'static str,
    pub version: &'static str,
    pub build: Value,
}

/// CLOCK_MONOTONIC in seconds (the clock behind Python's `time.perf_counter` on Linux).
pub fn now() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

pub(crate) fn emit(value: Value) {
    let mut out = std::io::stdout().lock();
    // A closed stdout means the harness has gone; nothing useful is left to do.
    if writeln!(out, "{value}").and_then(|_| out.flush()).is_err() {
        std::process::exit(1);
    }
}

pub(crate) fn fail(kind: &str, message: String, code: i32) -> ! {
    emit(json!({"event": "error", "kind": kind, "message": message}));
    std::process::exit(code)
}

pub(crate) fn fail_with(err: anyhow::Error) -> ! {
    match err.downcast_ref::<Unsupported>() {
        Some(u) => fail("unsupported", u.0.clone(), 3),
        None => fail("failed", format!("{err:#}"), 1),
    }
}

/// Peak resident memory of this process (VmHWM), in MB, where /proc tells.
pub(crate) fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn generation(model: &mut dyn Model, prompt: &[u32], n: usize) -> Value {
    let mut ids = Vec::with_capacity(n);
    let mut times = Vec::with_capacity(n);
    let start = now();
    let mut record = |id: u32| {
        times.push(now());
        ids.push(id);
    };
    if let Err(e) = model.generate(prompt, n, &mut record) {
        fail_with(e);
    }
    json!({"event": "generation", "start": start, "times": times, "ids": ids})
}

/// Write `data` as raw little-endian f32 to `path` (through `path.tmp`, then a rename).
pub(crate) fn write_f32(path: &str, data: &[f32]) -> std::io::Result<()> {
    let tmp = format!("{path}.tmp");
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

fn logits(model: &mut dyn Model, ids: &[u32], out: &str) -> Value {
    let (vocab, data) = model.logits(ids).unwrap_or_else(|e| fail_with(e));
    if data.len() != ids.len() * vocab {
        fail("failed", format!("logits: {} values for {} ids x vocab {vocab}",
                               data.len(), ids.len()), 1);
    }
    if let Err(e) = write_f32(out, &data) {
        fail("failed", format!("cannot write logits to {out}: {e}"), 1);
    }
    json!({"event": "logits", "rows": ids.len(), "vocab": vocab, "path": out})
}

/// The first stdin line, as the job `T` (a model job, or ops mode's); exits with an error
/// line when it is missing or malformed.
pub(crate) fn read_job<T: serde::de::DeserializeOwned>(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
) -> T {
    let line = match lines.next() {
        Some(Ok(line)) => line,
        Some(Err(e)) => fail("failed", format!("cannot read the job from stdin: {e}"), 2),
        None => fail("failed", "no job on stdin: send one JSON object per line".into(), 2),
    };
    serde_json::from_str(&line)
        .unwrap_or_else(|e| fail("failed", format!("bad job line: {e}"), 2))
}

/// Set before any pool exists, as a user would: rayon's global pool sizes itself from it.
/// Engines with pools of their own size them when they load.
pub(crate) fn use_threads(threads: usize) {
    if threads > 0 {
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    }
}

/// Every further non-blank stdin line, answered with one JSON line by `reply`.
pub(crate) fn answer_lines(lines: impl Iterator<Item = std::io::Result<String>>,
                           mut reply: impl FnMut(&str) -> Value) {
    for line in lines {
        let line = line.unwrap_or_else(|e| fail("failed", format!("stdin: {e}"), 2));
        if !line.trim().is_empty() {
            emit(reply(&line));
        }
    }
}

/// The runner's whole life: read the job, load with `load`, answer requests until EOF;
/// with `--ops`, make the runner's operators with `ops` and answer op requests instead.
pub fn serve<M: Model, O: Ops>(
    id: Identity,
    load: impl FnOnce(&Job) -> anyhow::Result<M>,
    ops: impl FnOnce(&OpsJob) -> anyhow::Result<O>,
) -> ! {
    let mode = std::env::args().nth(1);
    if mode.as_deref() == Some("--version") {
        emit(json!({"engine": id.engine, "version": id.version, "build": id.build}));
        std::process::exit(0);
    }
    std::panic::set_hook(Box::new(|info| {
        emit(json!({"event": "error", "kind": "failed", "message": format!("panic: {info}")}));
    }));
    match mode.as_deref() {
        None => {}
        Some("--ops") => {
            ops::serve_ops(&id, ops);
            std::process::exit(0)
        }
        Some(other) => fail("failed", format!("unknown argument {other:?} (--version, --ops)"), 2),
    }
    let job: Job = read_job(&mut std::io::stdin().lock().lines());
    use_threads(job.threads);
    answer(&id, &job, load);
    std::process::exit(0)
}

fn answer<M: Model>(id: &Identity, job: &Job, load: impl FnOnce(&Job) -> anyhow::Result<M>) {
    let started = Instant::now();
    let mut model = load(job).unwrap_or_else(|e| fail_with(e));
    emit(json!({
        "event": "ready", "engine": id.engine, "version": id.version, "build": id.build,
        "load_s": started.elapsed().as_secs_f64(), "now": now(),
        "threads": job.threads, "notes": model.notes(),
    }));
    if job.reps > 0 {
        for _ in 0..job.warmups {
            generation(&mut model, &job.prompt_ids, job.new_tokens);
        }
        for _ in 0..job.reps {
            emit(generation(&mut model, &job.prompt_ids, job.new_tokens));
        }
    }
    answer_lines(std::io::stdin().lock().lines(), |line| {
        match serde_json::from_str::<Request>(line) {
            Ok(Request::Generate { prompt_ids, new_tokens }) => {
                generation(&mut model, &prompt_ids, new_tokens)
            }
            Ok(Request::Logits { ids, out }) => logits(&mut model, &ids, &out),
            Err(e) => fail("failed", format!("bad request line: {e}"), 2),
        }
    });
    emit(json!({"event": "done", "peak_rss_mb": peak_rss_mb()}));
}
