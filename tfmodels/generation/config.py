"""Generation defaults as `transformers` resolves them: explicit argument, then the checkpoint, then the library.

A checkpoint's defaults come from its `generation_config.json`; without
one, from the generation fields of its `config.json` (what
`transformers.GenerationConfig.from_model_config` does). Fields missing
from both take `transformers.GenerationConfig`'s defaults (e.g.
`top_k=50`, `max_length=20`).
"""

import json
from pathlib import Path

GENERATION_CONFIG_NAME = "generation_config.json"

# `transformers.GenerationConfig` defaults of the options `generate()` implements.
LIBRARY_DEFAULTS = {
    "max_length": 20, "max_new_tokens": None, "min_length": 0, "min_new_tokens": None, "do_sample": False,
    "num_beams": 1, "temperature": 1.0, "top_k": 50, "top_p": 1.0, "repetition_penalty": 1.0,
    "length_penalty": 1.0, "early_stopping": False, "no_repeat_ngram_size": 0, "encoder_no_repeat_ngram_size": 0,
    "bad_words_ids": None, "renormalize_logits": False,
    "forced_bos_token_id": None, "forced_eos_token_id": None, "num_return_sequences": 1,
    "eos_token_id": None, "pad_token_id": None, "decoder_start_token_id": None,
    "output_scores": False, "output_logits": None, "return_dict_in_generate": False, "max_time": None,
    "stop_strings": None,
}


# Sub-configs whose generation fields fill those the outer config leaves unset (composite models: RAG's
# `generator`), in `transformers.GenerationConfig.from_model_config`'s order.
_DECODER_CONFIG_NAMES = ("decoder", "generator", "text_config")


def from_model_config(config):
    """The generation fields set (not `None`) in a `config.json` dict.

    A composite config (RAG's) takes the fields it leaves unset, or at their library default,
    from its first sub-config named `decoder`, `generator` or `text_config`, as the reference does.
    """
    fields = {k: config[k] for k in LIBRARY_DEFAULTS if config.get(k) is not None}
    decoder = next((config[name] for name in _DECODER_CONFIG_NAMES if config.get(name)), None)
    if isinstance(decoder, dict):
        for k in LIBRARY_DEFAULTS:
            if fields.get(k, LIBRARY_DEFAULTS[k]) == LIBRARY_DEFAULTS[k] and decoder.get(k) is not None:
                fields[k] = decoder[k]
    return fields


def read_generation_config(directory, model_config):
    """A checkpoint's generation defaults: its `generation_config.json`, else its `config.json` fields.

    Args:
        directory: the checkpoint directory.
        model_config: dict, the checkpoint's `config.json`.

    Returns:
        dict of the fields of `LIBRARY_DEFAULTS` the checkpoint sets.

    Raises:
        ValueError: if `generation_config.json` is not a JSON object.
    """
    path = Path(directory) / GENERATION_CONFIG_NAME
    if not path.is_file():
        return from_model_config(model_config)
    with open(path, encoding="utf-8") as f:
        try:
            stored = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} is not valid JSON ({e}).") from None
    if not isinstance(stored, dict):
        raise ValueError(f"{path} must hold a JSON object. Received: {type(stored).__name__}.")
    return {k: v for k, v in stored.items() if k in LIBRARY_DEFAULTS and v is not None}


def resolve(explicit, checkpoint):
    """Merges `explicit` arguments (`None` = unset) over `checkpoint` defaults over `LIBRARY_DEFAULTS`.

    Returns:
        `(options, max_length_is_default)`: the merged dict, and whether
        neither source set `max_length` (then, as in `transformers`, the
        default `max_length` counts new tokens).
    """
    explicit = {k: v for k, v in explicit.items() if v is not None}
    options = {**LIBRARY_DEFAULTS, **checkpoint, **explicit}
    return options, "max_length" not in explicit and "max_length" not in checkpoint


def to_json_dict(fields, model_config):
    """The `generation_config.json` that `save_pretrained` writes, in `transformers`' format.

    Like `GenerationConfig.to_json_string(use_diff=True)`: only the fields
    that differ from the library defaults, plus the model config's
    `bos_token_id` (which `GenerationConfig.from_model_config` copies);
    `json.dump(..., indent=2, sort_keys=True)` by the caller.
    `transformers.GenerationConfig.from_pretrained` reads it back, and so
    does `read_generation_config`. No `transformers_version` is written
    (tfmodels does not depend on `transformers`).

    Args:
        fields: dict of generation fields (`model.generation_config`).
        model_config: dict, the model's `config.json` fields.
    """
    data = {k: v for k, v in fields.items() if k in LIBRARY_DEFAULTS and v is not None and v != LIBRARY_DEFAULTS[k]}
    if model_config.get("bos_token_id") is not None:
        data.setdefault("bos_token_id", model_config["bos_token_id"])
    return data
