"""Writing tfmodels models as Hugging Face PyTorch checkpoints, atomically."""

import json
import logging
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Callable, Iterable, NamedTuple

import numpy as np

from tfmodels.converters import files, safetensors_writer
from tfmodels.converters.loader import check_table_covers_model
from tfmodels.converters.mapping import Transform, resolve_variable
from tfmodels.converters.registry import weight_table_for
from tfmodels.generation import config as generation_config
from tfmodels.layers.utils import read_blocks, read_rows, variable_to_numpy

logger = logging.getLogger("tfmodels")


def _contiguous(array):
    """A C-contiguous copy-if-needed that keeps 0-d tensors 0-d (`np.ascontiguousarray` makes them 1-d;
    CLIP's `logit_scale` is a scalar)."""
    return np.require(array, requirements="C")


class TensorEntry(NamedTuple):
    """One checkpoint tensor of `hf_tensor_plan`: its shape and dtype (known without computing it), how to compute it.

    Attributes:
        shape: tuple of ints, the tensor's shape in the checkpoint (`()` for a scalar).
        dtype: `np.dtype` of the tensor (the variable's; ml_dtypes' `bfloat16` included).
        compute: `fn() -> np.ndarray`, the whole tensor (C-contiguous).
        is_buffer: whether it is a constant buffer of the reference (not a parameter).
        blocks: `fn() -> iterable of np.ndarray`, the same data as consecutive
            row blocks (a large identity-layout variable is read a block at a
            time), or the whole tensor as one block.
    """

    shape: tuple
    dtype: np.dtype
    compute: Callable[[], np.ndarray]
    is_buffer: bool
    blocks: Callable[[], Iterable[np.ndarray]]

    @property
    def numel(self):
        return math.prod(self.shape)

    @property
    def nbytes(self):
        return self.numel * self.dtype.itemsize


def _numpy_dtype(dtype):
    dtype = getattr(dtype, "as_numpy_dtype", dtype)  # a `tf.DType`
    try:
        return np.dtype(dtype)
    except TypeError:  # "bfloat16" and the float8 types are NumPy dtypes only through ml_dtypes
        import ml_dtypes

        return np.dtype(getattr(ml_dtypes, str(dtype)))


def _entry(shape, dtype, compute, is_buffer=False, blocks=None):
    return TensorEntry(tuple(int(d) for d in shape), _numpy_dtype(dtype), compute, is_buffer,
                       blocks or (lambda: (compute(),)))


def _variable_row_blocks(variable):
    """`fn()` yielding a variable's row blocks (`read_blocks`), or `None` for a variable read whole."""
    blocks = read_blocks(variable)
    if blocks is None:
        return None
    return lambda: (read_rows(variable, start, stop) for start, stop in blocks)


def hf_tensor_plan(model):
    """Returns `{hf_key: TensorEntry}`: each checkpoint tensor, computed only when `entry.compute()` is called.

    `entry.shape` / `entry.dtype` (and `entry.nbytes` / `entry.numel`) are
    the tensor's in the checkpoint, known from the variables' shapes and the
    table's transforms (`Transform.hf_shape`; a fused key's shape covers all
    its parts) without reading them, so shards and safetensors headers can be
    written before any tensor exists; `entry.is_buffer` marks the reference's
    constant buffers (not parameters). The tensors are in Hugging Face names
    and layouts (contiguous); rows fused into one key (`mapping.FusedPart`)
    are merged. Calling the functions one at a time holds one tensor besides
    the model; `entry.blocks()` holds one row block of a large variable
    whose layout the checkpoint keeps (identity transform).
    """
    model.build_from_dummy_inputs()
    table = weight_table_for(model)
    check_table_covers_model(model, table)
    plan, fused = {}, {}

    def single(param):
        variable = resolve_variable(model, param.keras_path)
        shape = param.transform.hf_shape(tuple(variable.shape))
        identity = type(param.transform).to_hf is Transform.to_hf  # the checkpoint rows are the variable's rows
        return _entry(shape, variable.dtype,
                      lambda: _contiguous(param.transform.to_hf(variable_to_numpy(variable))),
                      blocks=_variable_row_blocks(variable) if identity else None)

    def merged(params):
        params = sorted(params, key=lambda p: p.transform.part)
        variables = [resolve_variable(model, p.keras_path) for p in params]

        def fn():
            pieces = [p.transform.to_hf(variable_to_numpy(v)) for p, v in zip(params, variables)]
            return _contiguous(params[0].transform.merge(pieces))

        return _entry(params[0].transform.hf_shape(tuple(variables[0].shape)), variables[0].dtype, fn)

    for param in table.params:
        if hasattr(param.transform, "merge"):  # several rows fill one key (`mapping.FusedPart`)
            fused.setdefault(param.hf_key, []).append(param)
            continue
        plan[param.hf_key] = single(param)
    for key, params in fused.items():
        plan[key] = merged(params)
    for key, value in table.buffers.items():  # constant buffers of the reference's state dict
        value = np.asarray(value)
        plan[key] = _entry(value.shape, value.dtype, lambda value=value: _contiguous(value), is_buffer=True)
    return plan


def hf_tensor_sources(model):
    """Returns `{hf_key: fn() -> np.ndarray}`: each checkpoint tensor, computed only when called.

    See `hf_tensor_plan`; calling the functions one at a time holds one tensor besides the model.
    """
    return {key: entry.compute for key, entry in hf_tensor_plan(model).items()}


def hf_state_dict(model):
    """Returns `{hf_key: np.ndarray}` in Hugging Face names and layouts (float32, contiguous)."""
    return {key: fn() for key, fn in hf_tensor_sources(model).items()}


def write_atomically(directory, writers):
    """Writes files into `directory` so a failure leaves existing files untouched.

    Each file is written to a temporary name in the same directory and only
    renamed into place once every file was written successfully.

    Args:
        directory: target directory (created if missing).
        writers: `{file_name: fn(path)}`; each `fn` writes one file at `path`.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    temporary = {}
    try:
        for name, write in writers.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
            os.close(fd)
            temporary[name] = tmp
            write(tmp)
        for name, tmp in temporary.items():
            os.replace(tmp, directory / name)
    finally:
        for tmp in temporary.values():
            if os.path.exists(tmp):
                os.remove(tmp)


def _write_json(data):
    def write(path):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")

    return write


# `transformers.PreTrainedModel.save_pretrained`'s default in the pinned version (5.x).
DEFAULT_MAX_SHARD_SIZE = "50GB"
_SHARD_PATTERN = re.compile(r"^model-\d{5}-of-\d{5}\.safetensors$")


def parse_shard_size(size):
    """Converts `max_shard_size` to bytes, as `transformers.utils.hub.convert_file_size_to_int` does.

    Accepts an int (bytes) or a string of digits and a unit: `"5GB"` (10**9),
    `"200MB"`, `"10KB"`, `"1GiB"` (2**30), `"MiB"`, `"KiB"`; a lower-case `b`
    means bits (`"5Gb"` is 5 * 10**9 / 8 bytes).

    Raises:
        ValueError: for a non-positive size or a string in another format.
        TypeError: for anything but an int or a string.
    """
    if isinstance(size, bool) or not isinstance(size, (int, str)):
        raise TypeError(f"max_shard_size must be an int (bytes) or a string such as '5GB'. Received: {size!r}.")
    if isinstance(size, str):
        match = re.fullmatch(r"\s*(\d+)\s*([KMGT]i?[Bb])\s*", size, flags=re.IGNORECASE)
        if match is None:
            raise ValueError(
                f"max_shard_size={size!r} is not a valid size. Use an int (bytes) or digits followed by a unit: "
                "'5GB', '200MB', '10KB', '1GiB', '512MiB'."
            )
        digits, unit = match.groups()
        binary = "i" in unit.lower()
        power = "KMGT".index(unit[0].upper()) + 1
        value = int(digits) * (2 ** (10 * power) if binary else 10 ** (3 * power))
        size = value // 8 if (unit.endswith("b") and not binary) else value
    if size <= 0:
        raise ValueError(f"max_shard_size must be positive. Received: {size!r}.")
    return size


def plan_shards(sizes, max_shard_size):
    """Groups checkpoint keys into shards as `huggingface_hub.split_state_dict_into_shards_factory` does.

    Keys are taken in order; a shard is closed when the next tensor would take
    it over `max_shard_size`; a tensor bigger than the limit gets a shard of its own.

    Args:
        sizes: `{hf_key: nbytes}` in checkpoint order.
        max_shard_size: int, bytes.

    Returns:
        list of lists of keys, one per shard.
    """
    shards, current, current_size = [], [], 0
    for key, size in sizes.items():
        if size > max_shard_size:
            shards.append([key])
            continue
        if current and current_size + size > max_shard_size:
            shards.append(current)
            current, current_size = [], 0
        current.append(key)
        current_size += size
    if current or not shards:
        shards.append(current)
    return shards


def _shard_writer(plan, keys):
    """`fn(path)` that streams one shard: its header from the plan, then each tensor computed, written, let go."""

    def write(path):
        safetensors_writer.write_file(path, {
            key: safetensors_writer.StreamedTensor(plan[key].shape, plan[key].dtype, plan[key].blocks)
            for key in keys})

    return write


def save_pretrained(model, directory, max_shard_size=DEFAULT_MAX_SHARD_SIZE):
    """Writes `config.json` + `model.safetensors` (or shards and their index) that `transformers` (PyTorch) loads.

    A model with `generate()` also gets `generation_config.json`: its
    `generation_config` (what `from_pretrained` read), else the generation
    fields of its config, in `transformers`' format
    (`tfmodels.generation.config.to_json_dict`).

    Keys and layouts are Hugging Face's (the architecture's weight table read
    backwards); the safetensors metadata says `format: pt`. When the tensors
    take more than `max_shard_size` bytes, they are split as `transformers`
    splits them: `model-00001-of-0000N.safetensors` files and
    `model.safetensors.index.json` (`metadata.total_size`,
    `metadata.total_parameters`, `weight_map`).

    Each file is streamed (`safetensors_writer`): its header is written from
    the tensors' shapes and dtypes, known from the variables and the table's
    transforms, then each tensor is computed, written and let go before the
    next. The save holds one tensor besides the model (two copies of it while
    a transposed layout is made contiguous; a large variable the checkpoint
    keeps in its layout, such as the word embeddings, is read in 4 MiB row
    blocks). The bytes are those `safetensors.numpy.save_file` writes. For
    BERT-base (418 MiB) the save adds 18 MiB (0.04x the model size) to the
    process holding the model; the process's peak during the save is 1.25x
    the model size over its memory before loading
    (`benchmarks/convert_memory.py`). Files are written under
    temporary names and renamed at the end: a failure never leaves a
    half-written file or replaces what was there. Weight files of an earlier
    save that the new one does not replace (a stale `model.safetensors`, index
    or shards) are removed after the rename, as `transformers` does.

    Args:
        model: a tfmodels model.
        directory: output directory, created if missing.
        max_shard_size: int (bytes) or string (`"5GB"`, `"200MB"`, `"1GiB"`);
            default `"50GB"`, the pinned `transformers`' default. A tensor
            bigger than it gets a shard of its own.

    Returns:
        `pathlib.Path` of the directory.

    Raises:
        ValueError / TypeError: for an invalid `max_shard_size`.
    """
    limit = parse_shard_size(max_shard_size)
    plan = hf_tensor_plan(model)
    shards = plan_shards({key: entry.nbytes for key, entry in plan.items()}, limit)
    writers = {files.CONFIG_NAME: _write_json(model.hf_config())}
    if hasattr(model, "generate"):  # the generation defaults, as `transformers` saves them
        fields = getattr(model, "generation_config", None)
        model_config = model._generation_model_config()
        if fields is None:
            fields = generation_config.from_model_config(model_config)
        writers[generation_config.GENERATION_CONFIG_NAME] = _write_json(
            generation_config.to_json_dict(dict(fields), model_config))
    if len(shards) == 1:
        writers[files.SAFETENSORS_NAME] = _shard_writer(plan, shards[0])
    else:
        names = [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))]
        for name, keys in zip(names, shards):
            writers[name] = _shard_writer(plan, keys)
        weight_map = {key: name for name, keys in zip(names, shards) for key in keys}
        metadata = {
            "total_size": sum(entry.nbytes for entry in plan.values()),
            "total_parameters": sum(entry.numel for entry in plan.values() if not entry.is_buffer),
        }
        writers[files.SAFETENSORS_INDEX_NAME] = _write_json({
            "metadata": metadata,
            "weight_map": weight_map,
        })
    write_atomically(directory, writers)
    _remove_stale_weights(Path(directory), set(writers))
    logger.info("Saved %s (%d tensors, %d file(s)) to %s", type(model).__name__, len(plan), len(shards), directory)
    return Path(directory)


def _remove_stale_weights(directory, written):
    """Removes safetensors weight files of an earlier save that this save did not write."""
    for path in directory.iterdir():
        name = path.name
        stale = name in (files.SAFETENSORS_NAME, files.SAFETENSORS_INDEX_NAME) or _SHARD_PATTERN.match(name)
        if stale and name not in written and path.is_file():
            path.unlink()


def write_config(config, directory):
    """Writes `directory/config.json` from a dict (temporary name, renamed at the end).

    Returns:
        `pathlib.Path` of the directory.
    """
    write_atomically(directory, {files.CONFIG_NAME: _write_json(config)})
    return Path(directory)


def save_keras_weights(model, directory):
    """Writes `config.json` + Keras `model.weights.h5` (what `tfmodels convert` produces)."""
    model.build_from_dummy_inputs()
    config = model.hf_config()

    def write_weights(path):
        keras_path = path + ".weights.h5"
        try:
            with files.low_memory_allocation():
                model.save_weights(keras_path)
            os.replace(keras_path, path)
        finally:
            if os.path.exists(keras_path):
                os.remove(keras_path)

    write_atomically(directory, {files.CONFIG_NAME: _write_json(config), files.KERAS_WEIGHTS_NAME: write_weights})
    return Path(directory)
