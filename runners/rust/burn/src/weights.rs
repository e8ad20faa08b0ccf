//! A Hugging Face checkpoint's tensors: `model.safetensors`, or the shards that
//! `model.safetensors.index.json` names, memory-mapped and read one tensor at a time into
//! burn `TensorData` in the file's own dtype (F32, F16 or BF16).

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::path::Path;

use anyhow::{bail, Context, Result};
use burn::tensor::{DType, TensorData};
use memmap2::Mmap;
use safetensors::{Dtype, SafeTensors};

pub struct Checkpoint {
    files: Vec<Mmap>,
    /// Tensor name -> index into `files`.
    location: HashMap<String, usize>,
}

impl Checkpoint {
    pub fn open(dir: &Path) -> Result<Self> {
        let index = dir.join("model.safetensors.index.json");
        let shards: Vec<String> = if index.exists() {
            let text = std::fs::read_to_string(&index)
                .with_context(|| format!("reading {}", index.display()))?;
            let json: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", index.display()))?;
            let map = json["weight_map"]
                .as_object()
                .with_context(|| format!("{}: no weight_map", index.display()))?;
            let names: BTreeSet<&str> = map.values().filter_map(|v| v.as_str()).collect();
            names.into_iter().map(String::from).collect()
        } else {
            vec!["model.safetensors".into()]
        };
        let mut files = Vec::new();
        let mut location = HashMap::new();
        for (i, shard) in shards.iter().enumerate() {
            let path = dir.join(shard);
            let file = File::open(&path).with_context(|| format!("opening {}", path.display()))?;
            // SAFETY: the checkpoint is read-only input; nothing in this process writes to it.
            let mmap = unsafe { Mmap::map(&file) }
                .with_context(|| format!("mapping {}", path.display()))?;
            let tensors = SafeTensors::deserialize(&mmap)
                .with_context(|| format!("reading the header of {}", path.display()))?;
            for name in tensors.names() {
                location.insert(name.to_string(), i);
            }
            files.push(mmap);
        }
        Ok(Self { files, location })
    }

    /// The tensor `name`, copied out of the file in its stored dtype.
    pub fn get(&self, name: &str) -> Result<TensorData> {
        let (bytes, shape, dtype) = self.read(name)?;
        Ok(TensorData::from_bytes_vec(bytes.to_vec(), shape, dtype))
    }

    /// The 2-D tensor `name`, transposed: `[out, in]` as stored becomes `[in, out]`.
    pub fn get_transposed(&self, name: &str) -> Result<TensorData> {
        let (bytes, shape, dtype) = self.read(name)?;
        let [rows, cols] = shape[..] else {
            bail!("{name}: shape {shape:?} is not 2-D")
        };
        let size = dtype.size();
        let mut out = vec![0u8; bytes.len()];
        // In TILE x TILE tiles, so that reads and writes both stay within a few cache lines.
        const TILE: usize = 32;
        for r0 in (0..rows).step_by(TILE) {
            for c0 in (0..cols).step_by(TILE) {
                for r in r0..(r0 + TILE).min(rows) {
                    for c in c0..(c0 + TILE).min(cols) {
                        let (from, to) = ((r * cols + c) * size, (c * rows + r) * size);
                        out[to..to + size].copy_from_slice(&bytes[from..from + size]);
                    }
                }
            }
        }
        Ok(TensorData::from_bytes_vec(out, [cols, rows], dtype))
    }

    fn read(&self, name: &str) -> Result<(&[u8], Vec<usize>, DType)> {
        let file = *self
            .location
            .get(name)
            .with_context(|| format!("no tensor {name}"))?;
        let view = SafeTensors::deserialize(&self.files[file])?.tensor(name)?;
        let dtype = match view.dtype() {
            Dtype::F32 => DType::F32,
            Dtype::F16 => DType::F16,
            Dtype::BF16 => DType::BF16,
            other => bail!("{name}: unsupported dtype {other:?}"),
        };
        Ok((view.data(), view.shape().to_vec(), dtype))
    }

    /// The distinct dtypes stored in the checkpoint, for the notes.
    pub fn dtypes(&self) -> Result<BTreeSet<String>> {
        let mut out = BTreeSet::new();
        for file in &self.files {
            for (_, view) in SafeTensors::deserialize(file)?.tensors() {
                out.insert(format!("{:?}", view.dtype()));
            }
        }
        Ok(out)
    }
}
