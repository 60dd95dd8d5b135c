"""The keywords of `from_pretrained`: honoured, refused by name, or config fields.

Hugging Face's `from_pretrained` takes loading options and config overrides
in one `**kwargs`. tfmodels keeps them apart: a loading option is applied
(or refused with the reason), a config field overrides `config.json`, and any
other keyword is a `TypeError` naming it, so nothing unknown is stored in the
config and written back by `save_pretrained`.
"""

import inspect

import keras

from tfmodels.converters import files

# Passed to `files.resolve_checkpoint_dir` (huggingface_hub for Hub ids).
HUB_OPTIONS = ("revision", "cache_dir", "local_files_only", "token", "force_download", "subfolder")
# Keywords `transformers` accepts that tfmodels cannot honour: {name: why}; refused unless left at their default.
REFUSED_OPTIONS = {
    "trust_remote_code": "tfmodels never runs code shipped with a checkpoint; it loads only the architectures it "
                         "implements (tfmodels.AutoModel lists them). Drop trust_remote_code=True",
    "from_flax": "tfmodels reads PyTorch (model.safetensors, pytorch_model.bin) and legacy TF (tf_model.h5) "
                 "checkpoints, not Flax ones; drop from_flax=True",
    "device_map": "Keras places variables itself (use tf.distribute for several devices); drop device_map",
    "quantization_config": "tfmodels does not quantize on load; drop quantization_config",
    "load_in_8bit": "tfmodels does not quantize on load; drop load_in_8bit",
    "load_in_4bit": "tfmodels does not quantize on load; drop load_in_4bit",
}
# Config attributes every Hugging Face config has, whether or not its config.json lists them.
COMMON_CONFIG_FIELDS = (
    "num_labels", "id2label", "label2id", "problem_type", "output_hidden_states", "output_attentions",
    "is_decoder", "add_cross_attention", "tie_word_embeddings", "pad_token_id", "bos_token_id", "eos_token_id",
    "decoder_start_token_id", "classifier_dropout",
)
_DTYPE_ALIASES = {"half": "float16", "float": "float32", "bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


def refuse_unsupported(options):
    """Raises `ValueError` for a refused keyword set to anything but its default (`None`/`False`)."""
    for name, why in REFUSED_OPTIONS.items():
        value = options.get(name)
        if value not in (None, False):
            raise ValueError(f"from_pretrained({name}={value!r}) is not supported: {why}.")


def config_dict(config, directory):
    """The config to build from: `config=` (dict, config object with `to_dict()`, or
    `config.json` path) when given, else the checkpoint's `config.json`.

    Raises:
        TypeError: `config` is of another kind.
    """
    if config is None:
        return files.read_config(directory)
    if isinstance(config, dict):
        return dict(config)
    if hasattr(config, "to_diff_dict"):  # transformers: the fields its config.json would hold
        return dict(config.to_diff_dict())
    if hasattr(config, "to_dict"):
        return dict(config.to_dict())
    if isinstance(config, (str, bytes)) or hasattr(config, "__fspath__"):
        return files.read_config(config)
    raise TypeError(
        "config must be a dict, a config object with to_dict() (e.g. a transformers PretrainedConfig) or the "
        f"path of a config.json. Received: config of type {type(config).__name__}"
    )


def keras_dtype(dtype, torch_dtype, config):
    """The Keras dtype policy for `dtype=` / `torch_dtype=` (`None`: the global policy).

    Accepts Keras policies and names (`"mixed_bfloat16"`), NumPy-style names
    (`"float16"`, `"bfloat16"`), `torch.dtype` objects and `"auto"` (the
    dtype recorded in `config.json`, as `transformers` does).

    Raises:
        TypeError: both are given and differ.
        ValueError: a dtype Keras has no policy for.
    """
    if dtype is not None and torch_dtype is not None and _name(dtype, config) != _name(torch_dtype, config):
        raise TypeError(
            f"Pass one of dtype and torch_dtype (torch_dtype is its older name). Received: dtype={dtype!r}, "
            f"torch_dtype={torch_dtype!r}"
        )
    value = dtype if dtype is not None else torch_dtype
    if value is None:
        return None
    if isinstance(value, keras.DTypePolicy):
        return value
    name = _name(value, config)
    if name is None:
        return None
    try:
        return keras.dtype_policies.get(name)
    except ValueError:
        raise ValueError(
            f"No Keras dtype policy for dtype={value!r}. Use float32, float16, bfloat16, mixed_float16 or "
            "mixed_bfloat16."
        ) from None


def _name(value, config):
    if isinstance(value, keras.DTypePolicy):
        return value.name
    name = str(value).removeprefix("torch.")
    if name == "auto":
        recorded = config.get("dtype") or config.get("torch_dtype")
        return _name(recorded, config) if isinstance(recorded, str) and recorded != "auto" else None
    return _DTYPE_ALIASES.get(name, name)


def check_config_overrides(cls, config, overrides):
    """Raises `TypeError` naming keywords that are neither options nor config fields of `cls`."""
    known = set(config) | set(COMMON_CONFIG_FIELDS) | constructor_arguments(cls)
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TypeError(
            f"{cls.__name__}.from_pretrained() got unexpected keyword arguments {unknown}: they are neither "
            f"loading options ({', '.join(sorted(LOADING_OPTIONS))}) nor fields of its config. Check the "
            "spelling, or set new config fields in config.json."
        )


def constructor_arguments(cls):
    """Named constructor arguments of `cls` and its bases (and of a head model's `backbone_class`)."""
    names = set()
    for klass in cls.__mro__:
        init = vars(klass).get("__init__")
        if init is None or klass is object:
            continue
        try:
            parameters = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            continue
        names |= {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    backbone = getattr(cls, "backbone_class", None)  # a head model passes its other arguments to the backbone
    if backbone is not None and backbone is not cls:
        names |= constructor_arguments(backbone)
    return names - {"self"}


LOADING_OPTIONS = (
    *HUB_OPTIONS, *REFUSED_OPTIONS, "config", "dtype", "torch_dtype", "output_loading_info", "from_pt",
    "from_tf", "ignore_mismatched_sizes", "progress",
)


def hub_options(kwargs):
    """Pops the Hub options out of `kwargs` (a dict) and returns them."""
    return {k: kwargs.pop(k) for k in HUB_OPTIONS if k in kwargs}
