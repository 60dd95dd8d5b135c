"""Inputs of models with segment-level memory (`mems`): Transformer-XL, XLNet."""

import tensorflow as tf
from keras import ops

from tfmodels.models.base import PreTrainedModel

# Float inputs next to the integer ids (`PreTrainedModel._prepare_inputs` only accepts integers).
FLOAT_INPUTS = ("mems", "perm_mask", "target_mapping", "input_mask")


def prepare_memory_inputs(model, inputs, kwargs=None):
    """`PreTrainedModel._prepare_inputs` plus the float inputs of memory models.

    `mems` may be a list/tuple of `(mem_len, batch, d_model)` tensors or one
    stacked `(n_layer, mem_len, batch, d_model)` tensor.
    """
    if inputs is not None and not (isinstance(inputs, dict) or hasattr(inputs, "keys")):
        inputs = {"input_ids": inputs}
    inputs = dict(inputs or {})
    floats = {k: inputs.pop(k) for k in FLOAT_INPUTS if inputs.get(k) is not None}
    prepared = PreTrainedModel._prepare_inputs(model, inputs, kwargs)
    for key, value in floats.items():
        if key == "mems":
            prepared[key] = [tf.convert_to_tensor(m) for m in (value if isinstance(value, (list, tuple))
                                                               else tf.unstack(value))]
        else:
            prepared[key] = tf.convert_to_tensor(value)
    return prepared


def block_memories(mems, num_layers):
    """The blocks' per-layer `memory` inputs: `(mem_len, batch, d_model)` mems -> `(batch, mem_len, d_model)`.

    Returns:
        list of `num_layers` tensors, or of `None`s without `mems`.
    """
    if not mems:
        return [None] * num_layers
    return [ops.transpose(m, (1, 0, 2)) for m in mems]
