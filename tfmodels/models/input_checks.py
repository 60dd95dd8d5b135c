"""Checks of model inputs and config values that turn deep TensorFlow errors into clear ones.

Used by `PreTrainedModel` (`_prepare_inputs`, `_record_config`). Token-id
ranges are checked where the lookup happens, in
`tfmodels.layers.embeddings.checked_lookup`; attention masks given to layers
in `tfmodels.layers.masks.attention_mask_to_bool`.
"""

import inspect
import numbers


def check_input_shapes(model_name, inputs, rank, cached=False):
    """Static shape checks of `input_ids` and `attention_mask`; sizes unknown in a graph are skipped.

    Args:
        model_name: class name used in messages.
        inputs: dict of tensors with `input_ids` and optionally `attention_mask`.
        rank: rank the model takes `input_ids` in (2; 3 for multiple choice).
        cached: the call attends over a KV cache, so the mask may be longer.

    Raises:
        ValueError: `input_ids` has another rank or no tokens, or
            `attention_mask` does not match it.
    """
    ids_shape = tuple(inputs["input_ids"].shape)
    layout = "(batch, seq_len)" if rank == 2 else "(batch, num_choices, seq_len)"
    if len(ids_shape) != rank:
        hint = " For one sequence, add a batch axis: input_ids[None, :]." if len(ids_shape) == rank - 1 else ""
        raise ValueError(f"{model_name} expects `input_ids` of rank {rank}, shape {layout}.{hint} "
                         f"Received: input_ids with shape {ids_shape}.")
    if 0 in ids_shape:
        raise ValueError(f"{model_name} got an empty `input_ids`: every sequence needs at least one "
                         f"token, shape {layout}. Received: input_ids with shape {ids_shape}.")
    mask = inputs.get("attention_mask")
    if mask is None:
        return
    mask_shape = tuple(mask.shape)
    if len(mask_shape) == rank:
        expected = ids_shape[:-1] + ((None if cached else ids_shape[-1]),)
        form = f"{layout} like input_ids"
    elif len(mask_shape) == rank + 1 == 3:
        expected = (ids_shape[0], ids_shape[1], None if cached else ids_shape[1])
        form = "(batch, seq_len, seq_len) per-query"
    else:
        expected, form = None, f"{layout} like input_ids"
    if expected is None or any(m is not None and e is not None and m != e for m, e in zip(mask_shape, expected)):
        wanted = f"{form}, i.e. {_shape_text(expected)}" if expected else form
        raise ValueError(f"{model_name} expects `attention_mask` of shape {wanted}. Received: "
                         f"attention_mask with shape {mask_shape} for input_ids of shape {ids_shape}.")


def _shape_text(shape):
    return "(" + ", ".join("any" if d is None else str(d) for d in shape) + ")"


def check_numeric_fields(cls, fields):
    """Refuses strings for constructor arguments whose default is a number (int or float, not bool).

    A hand-edited `config.json` with `"hidden_size": "abc"` would otherwise fail
    deep inside layer construction. Other types (lists of EOS ids, `None`)
    are left to the layers.

    Args:
        cls: the model class (its `__init__` defaults, along the MRO).
        fields: dict of the recorded constructor arguments.

    Raises:
        TypeError: a string where the default is a number.
    """
    defaults = {}
    for klass in cls.__mro__:
        if "__init__" in vars(klass) and klass is not object:
            for name, parameter in inspect.signature(klass.__init__).parameters.items():
                defaults.setdefault(name, parameter.default)
    for name, value in fields.items():
        default = defaults.get(name)
        if isinstance(value, (str, bytes)) and isinstance(default, numbers.Number) and not isinstance(default, bool):
            kind = "an integer" if isinstance(default, int) else "a number"
            raise TypeError(f"{cls.__name__} config field `{name}` must be {kind} (default {default!r}). "
                            f"Received: {name}={value!r} ({type(value).__name__}).")
