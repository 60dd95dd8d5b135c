"""SavedModel export for TF Serving and `tf.saved_model.load`."""

import os
import shutil
import tempfile
from pathlib import Path

import tensorflow as tf

# Inputs a serving client sends; position ids are derived in-graph.
_SERVING_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def serving_input_names(model):
    """The int32 inputs of `model`'s serving signature, in order."""
    names = [name for name in _SERVING_INPUTS if name in model.input_names]
    return names + [name for name in serving_extra_inputs(model) if name not in names]


def serving_extra_inputs(model):
    """`{name: trailing_dims}` of architecture-specific serving inputs, e.g. LayoutLM's
    `bbox` `(batch, seq_len, 4)` -> `{"bbox": (4,)}`; a model declares them in
    its `serving_extra_inputs` attribute (or property)."""
    return dict(getattr(model, "serving_extra_inputs", None) or {})


def _input_rank(model):
    return len(next(iter(model.dummy_inputs().values())).shape)


def make_serving_function(model, output_names=None):
    """Returns a `tf.function` over dynamic int32 inputs `[None, None]` (or
    `[None, None, None]` for multiple choice) that returns a dict of the
    model's serving outputs."""
    model.build_from_dummy_inputs()
    names = serving_input_names(model)
    output_names = list(output_names or model.serving_outputs)
    rank = _input_rank(model)
    extra = serving_extra_inputs(model)
    signature = [tf.TensorSpec([None] * rank + list(extra.get(name, ())), tf.int32, name=name) for name in names]

    @tf.function(input_signature=signature)
    def serve(*tensors):
        outputs = model(dict(zip(names, tensors)), training=False)
        return {name: outputs[name] for name in output_names}

    return serve


def export_saved_model(model, directory, output_names=None, overwrite=False):
    """Exports `model` as a SavedModel with a `serving_default` signature.

    The signature takes int32 tensors with dynamic batch and sequence
    dimensions, `input_ids`, `attention_mask` and `token_type_ids` (as the
    model accepts them), shape `(batch, seq_len)` (`(batch, num_choices,
    seq_len)` for multiple choice), plus the model's `serving_extra_inputs`
    (LayoutLM's `bbox` `(batch, seq_len, 4)`, XLM's `langs`), and returns the model's serving outputs
    (`last_hidden_state`/`pooler_output` for a backbone, `logits` for
    classifiers, `start_logits`/`end_logits` for QA). The result loads with
    `tf.saved_model.load` in a process that never imports tfmodels, and TF
    Serving serves it as it is.

    The SavedModel is written to a temporary directory next to `directory`
    and renamed into place when complete.

    Args:
        model: a tfmodels model (built or not).
        directory: output directory.
        output_names: outputs to export; default `model.serving_outputs`.
        overwrite: replace an existing non-empty `directory`.

    Returns:
        `pathlib.Path` of the SavedModel directory.

    Raises:
        FileExistsError: `directory` exists, is not empty and `overwrite` is False.
    """
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()) and not overwrite:
        raise FileExistsError(f"{directory} exists and is not empty; pass overwrite=True to replace it.")
    serve = make_serving_function(model, output_names)
    module = tf.Module()
    module.model = model
    module.serve = serve
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        tf.saved_model.save(module, str(tmp), signatures={"serving_default": serve})
        if directory.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old.", dir=directory.parent))
            os.replace(directory, old / directory.name)
            os.replace(tmp, directory)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, directory)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return directory
