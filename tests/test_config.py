"""The config reader: every spelling transformers has used gives one normalized config;
what changes the math is listed as a feature; malformed and unknown fields are named."""

import pytest

from enginebench.engines.base import Engine
from enginebench.engines.registry import engine_class, model_engines
from enginebench.errors import UserError
from enginebench.models.config import ModelConfig, read_config, rope_inv_freq
from enginebench.models.presets import PRESETS

BASE = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
        "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 1000,
        "max_position_embeddings": 256, "rms_norm_eps": 1e-5}
LLAMA3 = {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
          "original_max_position_embeddings": 64}


def test_transformers_4_and_5_spellings_read_the_same() -> None:
    old = read_config({**BASE, "rope_theta": 5e5,
                       "rope_scaling": {"rope_type": "llama3", **LLAMA3}})
    new = read_config({**BASE, "rope_parameters": {"rope_type": "llama3",
                                                   "rope_theta": 5e5, **LLAMA3}})
    older = read_config({**BASE, "rope_theta": 5e5, "rope_scaling": {"type": "llama3",
                                                                     **LLAMA3}})
    assert old == new == older
    assert new.rope_theta == 5e5 and new.rope_type == "llama3"
    assert new.rope_scaling == LLAMA3
    assert "rope_type:llama3" in new.features()


def test_absent_fields_take_transformers_defaults() -> None:
    c = read_config({k: v for k, v in BASE.items() if k != "rms_norm_eps"})
    assert (c.num_kv_heads, c.head_dim, c.rope_theta, c.rms_norm_eps) == (4, 16, 1e4, 1e-6)
    assert c.features() == {}
    assert read_config({**BASE, "torch_dtype": "bfloat16"}).dtype == "bfloat16"
    assert read_config({**BASE, "dtype": "float16"}).dtype == "float16"


def test_features_name_the_fields_that_change_the_math() -> None:
    c = read_config({**BASE, "head_dim": 32, "attention_bias": True,
                     "tie_word_embeddings": True, "final_logit_softcapping": 30.0})
    f = c.features()
    assert set(f) == {"head_dim", "attention_bias", "tie_word_embeddings",
                      "unknown:final_logit_softcapping"}
    assert "head_dim 32" in f["head_dim"]
    assert "final_logit_softcapping" in f["unknown:final_logit_softcapping"]
    # harmless fields and nulls are not features
    assert read_config({**BASE, "pad_token_id": None, "use_cache": True, "bos_token_id": 1,
                        "sliding_window": None, "rope_interleaved": False}).features() == {}
    assert "unknown:rope_interleaved" in read_config({**BASE, "rope_interleaved": True}
                                                     ).features()


def test_sliding_window_counts_only_past_its_length() -> None:
    c = read_config({**BASE, "model_type": "mistral", "sliding_window": 128})
    assert "sliding_window" not in c.features(context=100)
    assert "sliding_window" in c.features(context=200)
    # a Llama config has no sliding window: the field is unknown there
    assert "unknown:sliding_window" in read_config({**BASE, "sliding_window": 128}).features()


@pytest.mark.parametrize("patch,match", [
    ({"hidden_size": "64"}, "hidden_size"),
    ({"num_key_value_heads": 3}, "not a multiple"),
    ({"rope_theta": 1e4, "rope_parameters": {"rope_theta": 5e5}}, "disagree"),
    ({"rope_parameters": {"rope_type": "llama3", "factor": 8.0}}, "freq_factor. is missing"),
    ({"rope_parameters": {"rope_type": "default", "factor": 8.0}}, "factor"),
    ({"model_type": "gpt2"}, "model_type"),
    ({"attention_bias": "yes"}, "attention_bias"),
    ({"max_position_embeddings": None}, "max_position_embeddings"),
])
def test_malformed_configs_are_named(patch: dict, match: str) -> None:
    with pytest.raises(UserError, match=match):
        read_config({**BASE, **patch}, "ckpt/config.json")


def test_llama3_inverse_frequencies() -> None:
    plain = read_config({**BASE, "rope_theta": 5e5})
    scaled = read_config({**BASE, "rope_parameters": {"rope_type": "llama3",
                                                      "rope_theta": 5e5, **LLAMA3}})
    a, b = rope_inv_freq(plain), rope_inv_freq(scaled)
    assert a[0] == b[0] == 1.0  # high frequencies are kept
    assert b[-1] == pytest.approx(a[-1] / 8.0)  # low ones divided by the factor


def test_config_round_trips_through_a_job() -> None:
    c = read_config({**BASE, "rope_parameters": {"rope_type": "llama3", "rope_theta": 5e5,
                                                 **LLAMA3}, "vendor_field": 1})
    assert ModelConfig.from_dict(c.to_dict()) == c
    assert PRESETS["tiny"].config().head_dim == 16


@pytest.mark.parametrize("name", model_engines())
def test_every_engine_refuses_what_it_does_not_honour(name: str) -> None:
    cls: type[Engine] = engine_class(name)
    fp32 = next(p for p, c in cls.precisions.items() if c == "fp32")
    unknown = read_config({**BASE, "final_logit_softcapping": 30.0})
    problem = cls.config_problem(unknown, fp32, 64)
    assert problem and "final_logit_softcapping" in problem
    assert cls.config_problem(read_config(BASE), fp32, 64) is None
    long = cls.config_problem(read_config(BASE), fp32, 300)
    assert long and "max_position_embeddings 256" in long
