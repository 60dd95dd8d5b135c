"""Writing tfmodels models as Hugging Face PyTorch checkpoints, atomically."""

import json
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from tfmodels.converters import files
from tfmodels.converters.loader import check_table_covers_model
from tfmodels.converters.mapping import resolve_variable
from tfmodels.converters.registry import weight_table_for
from tfmodels.layers.utils import variable_to_numpy

logger = logging.getLogger("tfmodels")


def _contiguous(array):
    """A C-contiguous copy-if-needed that keeps 0-d tensors 0-d (`np.ascontiguousarray` makes them 1-d;
    CLIP's `logit_scale` is a scalar)."""
    return np.require(array, requirements="C")


def hf_tensor_sources(model):
    """Returns `{hf_key: fn() -> np.ndarray}`: each checkpoint tensor, computed only when called.

    The tensors are in Hugging Face names and layouts (float32, contiguous);
    rows fused into one key (`mapping.FusedPart`) are merged. Calling the
    functions one at a time holds one tensor besides the model.
    """
    model.build_from_dummy_inputs()
    table = weight_table_for(model)
    check_table_covers_model(model, table)
    sources, fused = {}, {}

    def single(param):
        variable = resolve_variable(model, param.keras_path)
        return lambda: _contiguous(param.transform.to_hf(variable_to_numpy(variable)))

    def merged(params):
        params = sorted(params, key=lambda p: p.transform.part)

        def fn():
            pieces = [p.transform.to_hf(variable_to_numpy(resolve_variable(model, p.keras_path))) for p in params]
            return _contiguous(params[0].transform.merge(pieces))

        return fn

    for param in table.params:
        if hasattr(param.transform, "merge"):  # several rows fill one key (`mapping.FusedPart`)
            fused.setdefault(param.hf_key, []).append(param)
            continue
        sources[param.hf_key] = single(param)
    for key, params in fused.items():
        sources[key] = merged(params)
    for key, value in table.buffers.items():  # constant buffers of the reference's state dict
        sources[key] = lambda value=value: _contiguous(value)
    return sources


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


def save_pretrained(model, directory):
    """Writes `config.json` + `model.safetensors` that `transformers` (PyTorch) loads.

    Keys and layouts are Hugging Face's (the architecture's weight table read
    backwards); the safetensors metadata says `format: pt`. Files are written
    under temporary names and renamed at the end: a failure never leaves a
    half-written file or replaces what was there.

    Args:
        model: a tfmodels model.
        directory: output directory, created if missing.

    Returns:
        `pathlib.Path` of the directory.
    """
    from safetensors.numpy import save_file

    tensors = hf_state_dict(model)
    config = model.hf_config()
    write_atomically(
        directory,
        {
            files.CONFIG_NAME: _write_json(config),
            files.SAFETENSORS_NAME: lambda path: save_file(tensors, path, metadata={"format": "pt"}),
        },
    )
    logger.info("Saved %s (%d tensors) to %s", type(model).__name__, len(tensors), directory)
    return Path(directory)


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
