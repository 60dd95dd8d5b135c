"""Loading Hugging Face checkpoints into tfmodels models, strictly.

`load_pretrained` builds the model from `config.json`, checks every key and
shape of the checkpoint against the architecture's weight table (reading
only metadata), then streams the tensors one at a time into the Keras
variables, so peak memory stays near one copy of the model.
"""

import logging
import re

import keras
import tensorflow as tf
from tqdm.auto import tqdm

from tfmodels.converters import files
from tfmodels.converters.errors import WeightMismatchError
from tfmodels.converters.keras_dir import open_weights
from tfmodels.converters.mapping import Transform, resolve_variable
from tfmodels.converters.registry import weight_table_for
from tfmodels.layers.utils import row_blocks

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
    uncovered = [v.path for v in model.weights if id(v) not in covered]
    if uncovered:
        raise RuntimeError(
            f"tfmodels bug: the {model.model_type} weight table has no row for variables {uncovered}."
        )


def load_weights_from_reader(model, reader, ignore_mismatched_sizes=False, progress=None):
    """Fills a built model's variables from a `CheckpointReader`.

    Args:
        model: a built tfmodels model.
        reader: an open `files.CheckpointReader`.
        ignore_mismatched_sizes: re-initialise task-head weights whose shape
            differs (e.g. a classifier with another number of labels).
        progress: show a progress bar (`None`: only on a terminal).

    Raises:
        WeightMismatchError: missing keys, unexpected keys or shape
            mismatches, all listed by name (shapes: checkpoint vs model).
    """
    table = weight_table_for(model)
    check_table_covers_model(model, table)
    checkpoint_keys = set(reader.keys())
    lookup = _key_lookup(table, checkpoint_keys)
    plan, used, missing, mismatched, fresh = [], set(), [], [], []
    for param in table.params:
        variable = resolve_variable(model, param.keras_path)
        key = lookup(param)
        if key is None:
            (fresh if param.optional else missing).append(param.hf_key)
            continue
        used.add(key)
        expected = tuple(param.transform.hf_shape(tuple(variable.shape)))
        found = reader.shape(key)
        if found != expected:
            if ignore_mismatched_sizes and param.head:
                fresh.append(f"{key} (checkpoint {found} vs model {expected})")
                continue
            mismatched.append((key, found, expected))
            continue
        plan.append((param, key, variable))

    leftover = sorted(checkpoint_keys - used)
    other_heads = [k for k in leftover if _matches(k, table.other_head_keys) and not _matches(k, table.ignored_keys)]
    unexpected = [k for k in leftover if not _matches(k, table.ignored_keys) and k not in other_heads]
    if missing or unexpected or mismatched:
        raise WeightMismatchError(
            _mismatch_message(type(model).__name__, reader.path, missing, unexpected, mismatched),
            missing, unexpected, mismatched,
        )

    for param, key, variable in tqdm(plan, desc="Loading weights", unit="tensor", disable=_disable(progress)):
        _assign(variable, param, key, reader)

    if other_heads:
        logger.warning(
            "%s did not use %d checkpoint weights that belong to other heads: %s",
            type(model).__name__, len(other_heads), _short(other_heads),
        )
    if fresh:
        logger.warning(
            "%s: these weights were not in the checkpoint (or had another size) and are newly "
            "initialised; train the model before using it for predictions: %s",
            type(model).__name__, _short(fresh),
        )
    return {"newly_initialized": fresh, "unused": other_heads}


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
        return
    array = files.as_float_array(reader.get(key), variable.dtype)
    variable.assign(param.transform.to_keras(array, shape))


def _disable(progress):
    return None if progress is None else not progress


def _short(keys, limit=12):
    keys = list(keys)
    more = f" ... and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def _mismatch_message(model_name, path, missing, unexpected, mismatched):
    lines = [f"The checkpoint {path} does not match {model_name} as built from its config.json:"]
    if mismatched:
        lines.append("  shape mismatches (checkpoint vs model built from config):")
        lines += [f"    {k}: checkpoint {tuple(a)} vs model {tuple(b)}" for k, a, b in mismatched]
    if missing:
        lines.append(f"  missing from the checkpoint: {_short(missing)}")
    if unexpected:
        lines.append(f"  unexpected in the checkpoint: {_short(unexpected)}")
    lines.append(
        "Check that config.json belongs to these weights. To replace a task head of another "
        "size, pass ignore_mismatched_sizes=True."
    )
    return "\n".join(lines)


def load_pretrained(
    cls,
    path_or_repo_id,
    *,
    ignore_mismatched_sizes=False,
    dtype=None,
    revision=None,
    cache_dir=None,
    local_files_only=None,
    token=None,
    progress=None,
    **config_overrides,
):
    """Builds `cls` from a checkpoint's `config.json` and loads its weights.

    Args:
        cls: a tfmodels model class (e.g. `BertForSequenceClassification`).
        path_or_repo_id: a local directory in Hugging Face layout, or a Hub id.
        ignore_mismatched_sizes: re-initialise task-head weights of another
            shape instead of failing (warns, naming them).
        dtype: Keras dtype policy for the model (`"float32"`,
            `"mixed_bfloat16"`, ...); default: the global policy.
        revision, cache_dir, local_files_only, token: Hub download options.
        progress: show a progress bar (`None`: only on a terminal).
        **config_overrides: config fields to change, e.g. `num_labels=3`.

    Returns:
        The model, built, with the checkpoint's weights.

    Raises:
        FileNotFoundError: missing directory, `config.json` or weights.
        CheckpointError: corrupt or truncated weights files.
        ImportError: a `pytorch_model.bin` without PyTorch installed.
        UnknownModelTypeError / ValueError: a config for another architecture.
        WeightMismatchError: keys or shapes that do not match the config.
    """
    directory = files.resolve_checkpoint_dir(
        path_or_repo_id, revision=revision, cache_dir=cache_dir, local_files_only=local_files_only, token=token
    )
    config = files.read_config(directory)
    model_type = config.get("model_type")
    if cls.model_type is not None and model_type != cls.model_type:
        raise ValueError(
            f"{directory}/config.json has model_type={model_type!r}, but {cls.__name__} is a "
            f"{cls.model_type!r} model. Use tfmodels.AutoModel (or the matching class) for this checkpoint."
        )
    weights_path = files.find_weights_file(directory)
    config.update(config_overrides)
    config.pop("dtype", None)
    if dtype is not None:
        # A policy object, not a string: `from_config` drops string `dtype`s (Hugging Face's torch dtype).
        config["dtype"] = keras.dtype_policies.get(dtype)
    with files.low_memory_allocation():
        model = cls.from_config(config)
        model.build_from_dummy_inputs()
        with open_weights(weights_path) as reader:  # Keras-format directories too (converters/keras_dir.py)
            load_weights_from_reader(
                model, reader, ignore_mismatched_sizes=ignore_mismatched_sizes, progress=progress
            )
    return model
