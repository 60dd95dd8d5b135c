"""Loading Hugging Face checkpoints into tfmodels models, strictly.

`load_pretrained` builds the model from `config.json`, checks every key and
shape of the checkpoint against the architecture's weight table (reading
only metadata), then streams the tensors one at a time into the Keras
variables, so peak memory stays near one copy of the model.
"""

import logging
import re

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from tfmodels.converters import files, options
from tfmodels.converters.errors import BufferMismatchError, WeightMismatchError
from tfmodels.converters.keras_dir import open_weights
from tfmodels.converters.mapping import Transform, resolve_variable
from tfmodels.converters.registry import weight_table_for
from tfmodels.generation.config import read_generation_config
from tfmodels.layers.utils import disable_copy_on_read, row_blocks

logger = logging.getLogger("tfmodels")


def _matches(key, patterns):
    return any(re.search(p, key) for p in patterns)


def _key_lookup(table, checkpoint_keys):
    """Returns `fn(param) -> checkpoint key or None`, adapting the backbone prefix.

    A head model accepts a bare backbone checkpoint (`embeddings.*`) and a
    backbone accepts a head checkpoint (`bert.embeddings.*`), as in
    `transformers`.
    """
    prefix = f"{table.base_model_prefix}." if table.base_model_prefix else None
    has_prefix = bool(prefix) and any(k.startswith(prefix) for k in checkpoint_keys)

    def candidates(key):
        if prefix and table.is_head_model and not has_prefix and key.startswith(prefix):
            return key[len(prefix):]
        if prefix and not table.is_head_model and has_prefix:
            return prefix + key
        return key

    def lookup(param):
        for key in (param.hf_key, *param.aliases):
            key = candidates(key)
            if key in checkpoint_keys:
                return key
        return None

    return lookup


def check_table_covers_model(model, table):
    """Every model variable must have exactly one row (a guard against table bugs)."""
    covered = {id(resolve_variable(model, p.keras_path)) for p in table.params}
    covered |= {id(v) for v in table.external_variables}
    uncovered = [v.path for v in model.weights if id(v) not in covered]
    if uncovered:
        raise RuntimeError(
            f"tfmodels bug: the {model.model_type} weight table has no row for variables {uncovered}."
        )


def load_weights_from_reader(model, reader, ignore_mismatched_sizes=False, progress=None):
    """Fills a built model's variables from a `CheckpointReader`.

    Every checkpoint key is loaded by a table row, compared with the value the
    model recomputes (`WeightTable.checks`), documented as ignored, or
    reported as unused (it belongs to another head); any other key fails.

    Args:
        model: a built tfmodels model.
        reader: an open `files.CheckpointReader`.
        ignore_mismatched_sizes: re-initialise task-head weights whose shape
            differs (e.g. a classifier with another number of labels).
        progress: show a progress bar (`None`: only on a terminal).

    Returns:
        The loading report, as `transformers`' `output_loading_info`:
        `{"missing_keys": [...], "unexpected_keys": [...], "mismatched_keys":
        [(key, checkpoint_shape, model_shape)], "error_msgs": []}`; missing
        keys are newly initialised head weights, unexpected keys are the
        unused weights of other heads.

    Raises:
        WeightMismatchError: missing keys, unexpected keys or shape
            mismatches, all listed by name (shapes: checkpoint vs model).
        BufferMismatchError: a recomputed tensor differs from the checkpoint's.
    """
    table = weight_table_for(model)
    check_table_covers_model(model, table)
    if table.tf_renames and getattr(reader, "translates_tf_names", False):
        reader.rename_tf_keys(table.tf_renames)
    checkpoint_keys = set(reader.keys())
    lookup = _key_lookup(table, checkpoint_keys)
    plan, used, missing, mismatched, fresh, reinitialised = [], set(), [], [], [], []
    for param in table.params:
        variable = resolve_variable(model, param.keras_path)
        key = lookup(param)
        if key is None:
            (fresh if param.optional else missing).append(param.hf_key)
            continue
        used.add(key)
        expected = tuple(param.transform.hf_shape(tuple(variable.shape)))
        found = reader.shape(key)
        if found != expected and getattr(reader, "conform", None) is not None and reader.conform(key, expected):
            found = expected  # a legacy TF tensor with size-1 axes added or dropped (files.CheckpointReader.conform)
        if found != expected:
            if ignore_mismatched_sizes and param.head:
                reinitialised.append((key, found, expected))
                continue
            mismatched.append((key, found, expected))
            continue
        plan.append((param, key, variable))

    prefixed_checkpoint = bool(table.base_model_prefix) and any(
        k.startswith(f"{table.base_model_prefix}.") for k in checkpoint_keys
    )
    verified, unused, unexpected = _classify_leftovers(table, sorted(checkpoint_keys - used), prefixed_checkpoint)
    if missing or unexpected or mismatched:
        raise WeightMismatchError(
            _mismatch_message(type(model).__name__, reader, missing, unexpected, mismatched),
            missing, unexpected, mismatched,
        )

    for param, key, variable in tqdm(plan, desc="Loading weights", unit="tensor", disable=_disable(progress)):
        _assign(variable, param, key, reader)
    _verify_buffers(model, reader, verified)

    _warn_once(type(model).__name__, unused, fresh, reinitialised)
    return {
        "missing_keys": fresh + [key for key, _, _ in reinitialised],
        "unexpected_keys": unused,
        "mismatched_keys": reinitialised,
        "error_msgs": [],
    }


def _classify_leftovers(table, leftover, prefixed_checkpoint):
    """Splits unloaded checkpoint keys into (verified `(key, check)`, unused, unexpected)."""
    verified, unused, unexpected = [], [], []
    for key in leftover:
        check = next((c for c in table.checks if c.matches(key)), None)
        if check is not None:
            verified.append((key, check))
        elif _matches(key, table.ignored_keys):
            continue
        elif _matches(key, table.other_head_keys) or not table.is_backbone_key(key, prefixed_checkpoint):
            unused.append(key)
        else:
            unexpected.append(key)
    return verified, unused, unexpected


def _verify_buffers(model, reader, verified):
    differing = []
    for key, check in verified:
        array = reader.get(key)
        shape, difference = check.max_difference(model, key, array)
        if difference > check.atol:
            differing.append((key, difference, tuple(np.shape(array)), shape, check))
    if not differing:
        return
    lines = [f"The checkpoint {reader.path} holds tensors that differ from what {type(model).__name__} computes:"]
    for key, difference, found, shape, check in differing:
        if found != shape:
            lines.append(f"  {key}: checkpoint shape {found} vs {shape} for the {check.description}")
        else:
            lines.append(f"  {key}: max |diff| {difference:.3g} from the {check.description} "
                         f"(tolerance {check.atol:g})")
    lines.append(
        "tfmodels recomputes these tensors instead of loading them, so this model would not match the "
        "checkpoint. Check that config.json belongs to these weights (sizes, position settings, "
        "tie_word_embeddings), or restore the tensors the reference implementation computes."
    )
    raise BufferMismatchError("\n".join(lines), [(key, difference) for key, difference, *_ in differing])


def _warn_once(model_name, unused, fresh, reinitialised):
    """One warning for everything the user should know about a successful load."""
    parts = []
    if unused:
        parts.append(f"unused checkpoint weights (other heads or modules this model does not have): {_short(unused)}")
    if fresh:
        parts.append(f"newly initialised weights (not in the checkpoint): {_short(fresh)}")
    if reinitialised:
        parts.append("newly initialised weights (another size in the checkpoint): "
                     + _short(f"{k} (checkpoint {tuple(a)} vs model {tuple(b)})" for k, a, b in reinitialised))
    if parts:
        advice = " Train the model before using it for predictions." if fresh or reinitialised else ""
        logger.warning("%s loaded with %s.%s", model_name, "; ".join(parts), advice)


def _assign(variable, param, key, reader):
    """Copies one checkpoint tensor into `variable`; big identity-layout tensors
    (embedding tables) go in row blocks, so no full-size temporary copy exists."""
    shape = tuple(variable.shape)
    blocks = row_blocks(shape)
    if type(param.transform) is Transform and blocks is not None:
        for start, stop in blocks:
            block = files.as_float_array(reader.get_rows(key, start, stop), variable.dtype)
            # The raw op writes in place; `variable[a:b].assign` would first read the
            # variable, and the extra reference makes TensorFlow copy the whole buffer.
            tf.raw_ops.ResourceStridedSliceAssign(
                ref=variable.value.handle, begin=[start] + [0] * (len(shape) - 1),
                end=[stop, *shape[1:]], strides=[1] * len(shape), value=block,
            )
        disable_copy_on_read(variable)  # the partial writes left it copying on every read
        return
    array = files.as_float_array(reader.get(key), variable.dtype)
    variable.assign(param.transform.to_keras(array, shape))


def _disable(progress):
    return None if progress is None else not progress


def _short(keys, limit=12):
    keys = list(keys)
    more = f" ... and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def _mismatch_message(model_name, reader, missing, unexpected, mismatched):
    name = getattr(reader, "source_name", lambda key: key)  # legacy TF checkpoints: also the TF variable
    lines = [f"The checkpoint {reader.path} does not match {model_name} as built from its config.json:"]
    if mismatched:
        lines.append("  shape mismatches (checkpoint vs model built from config):")
        lines += [f"    {name(k)}: checkpoint {tuple(a)} vs model {tuple(b)}" for k, a, b in mismatched]
    if missing:
        lines.append(f"  missing from the checkpoint: {_short(missing)}")
    if unexpected:
        lines.append(f"  unexpected in the checkpoint: {_short(name(k) for k in unexpected)}")
    if getattr(reader, "translates_tf_names", False):
        lines.append(f"  (the keys of {reader.path.name} are the PyTorch names of its TF variables: "
                     "model scope dropped, '/' -> '.', 'layer_._0' -> 'layer.0', kernel/gamma/embeddings -> "
                     "weight, beta -> bias)")
    lines.append(
        "Check that config.json belongs to these weights. To replace a task head of another "
        "size, pass ignore_mismatched_sizes=True."
    )
    return "\n".join(lines)


def load_pretrained(
    cls,
    path_or_repo_id,
    *,
    config=None,
    ignore_mismatched_sizes=False,
    dtype=None,
    torch_dtype=None,
    output_loading_info=False,
    revision=None,
    cache_dir=None,
    local_files_only=None,
    token=None,
    force_download=False,
    subfolder=None,
    from_pt=None,
    from_tf=False,
    progress=None,
    **kwargs,
):
    """Builds `cls` from a checkpoint's `config.json` and loads its weights.

    Keywords follow `transformers`' `from_pretrained`; the ones tfmodels
    cannot honour (`trust_remote_code=True`, `from_flax=True`, `device_map`,
    quantization) are refused by name (see `options.REFUSED_OPTIONS`).

    Args:
        cls: a tfmodels model class (e.g. `BertForSequenceClassification`).
        path_or_repo_id: a local directory in Hugging Face layout, or a Hub id.
        config: build from this config (a dict, an object with `to_dict()`
            such as a `transformers.PretrainedConfig`, or a `config.json`
            path) instead of the checkpoint's `config.json`.
        ignore_mismatched_sizes: re-initialise task-head weights of another
            shape instead of failing (warns, naming them).
        dtype: Keras dtype policy or dtype for the model's variables and
            computation (`"float32"`, `"bfloat16"`, `"mixed_bfloat16"`, a
            `torch.dtype`, `"auto"`: the dtype in `config.json`); default:
            the global policy. `torch_dtype` is its older name.
        output_loading_info: also return the loading report.
        revision: the Hub revision (branch, tag or commit id; passed to `huggingface_hub`, as are the next four).
        cache_dir: Hub option, the cache directory.
        local_files_only: Hub option, never download.
        token: Hub option, the access token.
        force_download: Hub option, download even when cached.
        subfolder: the checkpoint's folder inside the directory or repository.
        from_pt: accepted for compatibility; PyTorch weights are read by default.
        from_tf: read the legacy TF weights (`tf_model.h5` or its shards)
            even when the directory or repository also has PyTorch weights
            (without it, they are read only when there are none).
        progress: show a progress bar (`None`: only on a terminal).
        **kwargs: config fields to change, e.g. `num_labels=3`.

    Returns:
        The model, built, with the checkpoint's weights; with
        `output_loading_info=True`, `(model, info)` where `info` has
        `missing_keys` (newly initialised), `unexpected_keys` (unused),
        `mismatched_keys` and `error_msgs`, as in `transformers`.

    Raises:
        TypeError: a keyword that is neither a loading option nor a config field.
        ValueError: a refused option, or a config for another architecture.
        FileNotFoundError: missing directory, `config.json` or weights.
        CheckpointError: corrupt or truncated weights files (naming the file).
        ImportError: a `pytorch_model.bin` without PyTorch installed.
        UnknownModelTypeError: an architecture tfmodels does not implement.
        WeightMismatchError: keys or shapes that do not match the config.
        BufferMismatchError: a recomputed tensor differs from the checkpoint's.
    """
    del from_pt  # PyTorch weights are the default
    options.refuse_unsupported(kwargs)
    for name in options.REFUSED_OPTIONS:
        kwargs.pop(name, None)
    directory = files.resolve_checkpoint_dir(
        path_or_repo_id, revision=revision, cache_dir=cache_dir, local_files_only=local_files_only, token=token,
        force_download=force_download, subfolder=subfolder, prefer_tf=bool(from_tf),
    )
    config = options.config_dict(config, directory)
    model_type = config.get("model_type")
    if cls.model_type is not None and model_type != cls.model_type:
        raise ValueError(
            f"The config of {directory} has model_type={model_type!r}, but {cls.__name__} is a "
            f"{cls.model_type!r} model. Use tfmodels.AutoModel (or the matching class) for this checkpoint."
        )
    options.check_config_overrides(cls, config, kwargs)
    policy = options.keras_dtype(dtype, torch_dtype, config)
    weights_path = files.find_weights_file(directory, prefer_tf=bool(from_tf))
    config.update(kwargs)
    config.pop("dtype", None)
    if policy is not None:
        # A policy object, not a string: `from_config` drops string `dtype`s (Hugging Face's torch dtype).
        config["dtype"] = policy
    info = {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": [], "error_msgs": []}
    with files.low_memory_allocation():
        model = cls.from_config(config)
        model.build_from_dummy_inputs()
        layers = {k: v for k, v in kwargs.items() if isinstance(v, keras.layers.Layer)}  # MMBT's encoder
        with open_weights(weights_path, layers) as reader:  # Keras-format directories too (converters/keras_dir.py)
            info = load_weights_from_reader(
                model, reader, ignore_mismatched_sizes=ignore_mismatched_sizes, progress=progress
            )
    if hasattr(model, "generate"):  # generate()'s defaults, as the reference reads them
        model.generation_config = read_generation_config(directory, config)
    return (model, info) if output_loading_info else model
