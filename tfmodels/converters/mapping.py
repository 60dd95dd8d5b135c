"""Declarative weight tables: Keras variable <- Hugging Face key + transform.

A table is a list of `Param`s. Each names a checkpoint key, the attribute
path of a Keras variable inside the model (`"bert.encoder_layers.0.
self_attention.query_dense.kernel"`: attributes separated by dots, integers
index lists), and the transform between the two layouts. The same table is
read forwards by the loader and backwards by `save_pretrained`.

Transforms know both directions and the checkpoint shape they expect, so a
shape mismatch is reported before any tensor is read.
"""

import dataclasses
import math
import re

import numpy as np


class Transform:
    """Identity: the checkpoint tensor has the Keras variable's layout."""

    name = "identity"

    def hf_shape(self, keras_shape):
        return tuple(keras_shape)

    def to_keras(self, array, keras_shape):
        return array.reshape(keras_shape)

    def to_hf(self, array):
        return array


class Linear(Transform):
    """PyTorch `nn.Linear` weight `(out, in)` <-> Keras kernel `(in..., out...)`.

    The Keras kernel may split either side into several axes, e.g. a query
    kernel `(hidden, heads, head_dim)` (`in_axes=1`) or an attention output
    kernel `(heads, head_dim, hidden)` (`in_axes=2`): one transpose and one
    reshape either way.

    Args:
        in_axes: how many leading Keras kernel axes form the input features.
    """

    name = "linear"

    def __init__(self, in_axes=1):
        self.in_axes = in_axes

    def _split(self, keras_shape):
        return math.prod(keras_shape[: self.in_axes]), math.prod(keras_shape[self.in_axes :])

    def hf_shape(self, keras_shape):
        n_in, n_out = self._split(keras_shape)
        return (n_out, n_in)

    def to_keras(self, array, keras_shape):
        return array.T.reshape(keras_shape)

    def to_hf(self, array):
        n_in, n_out = self._split(array.shape)
        return array.reshape(n_in, n_out).T


class Flatten(Transform):
    """PyTorch vector `(n,)` <-> Keras tensor of any shape with `n` entries (e.g. a `(heads, head_dim)` bias)."""

    name = "flatten"

    def hf_shape(self, keras_shape):
        return (math.prod(keras_shape),)

    def to_hf(self, array):
        return array.reshape(-1)


class Conv1D(Transform):
    """GPT-2 `Conv1D` weight `(in, out)` <-> Keras kernel `(in..., out...)` (no transpose)."""

    name = "conv1d"

    def __init__(self, in_axes=1):
        self.in_axes = in_axes

    def hf_shape(self, keras_shape):
        return (math.prod(keras_shape[: self.in_axes]), math.prod(keras_shape[self.in_axes :]))

    def to_hf(self, array):
        return array.reshape(self.hf_shape(array.shape))


class Permute(Transform):
    """PyTorch tensor <-> Keras variable with permuted axes (`to_keras` applies `axes`).

    `Permute((2, 1, 0))`: `nn.Conv1d` weight `(out, in / groups, k)` <-> Keras
    `Conv1D` kernel `(k, in / groups, out)`; `Permute((2, 0, 1))`: depthwise
    `nn.Conv1d` weight `(channels, 1, k)` <-> `SeparableConv1D` depthwise
    kernel `(k, channels, 1)`.
    """

    name = "permute"

    def __init__(self, axes):
        self.axes = tuple(axes)
        self.inverse = tuple(int(i) for i in np.argsort(self.axes))

    def hf_shape(self, keras_shape):
        return tuple(keras_shape[i] for i in self.inverse)

    def to_keras(self, array, keras_shape):
        return array.transpose(self.axes)

    def to_hf(self, array):
        return array.transpose(self.inverse)


class AddTrailingAxis(Transform):
    """PyTorch `(n, 1)` (e.g. ConvBERT's separable-convolution bias) <-> Keras `(n,)`."""

    name = "add_trailing_axis"

    def hf_shape(self, keras_shape):
        return (*keras_shape, 1)

    def to_hf(self, array):
        return array[..., None]


class LeadingUnitAxes(Transform):
    """PyTorch parameter with `count` leading unit axes <-> Keras variable without them.

    ViT's `cls_token` `(1, 1, D)` <-> Keras `(D,)`; its `position_embeddings`
    `(1, num_positions, D)` <-> Keras `(num_positions, D)` (CLIP stores the
    same tensors without the axes, so one Keras layout serves both).
    """

    name = "leading_unit_axes"

    def __init__(self, count):
        self.count = count

    def hf_shape(self, keras_shape):
        return (1,) * self.count + tuple(keras_shape)

    def to_hf(self, array):
        return array.reshape(self.hf_shape(array.shape))


class FusedPart(Transform):
    """One of `parts` tensors fused along the output axis of one checkpoint key.

    E.g. DeBERTa v1's `in_proj.weight` `(3 * N * H, D)` holds q, k and v
    interleaved per head (`(N, 3, H, D)`): three rows share the key, each with
    `FusedPart(i, 3, heads=N)`. Loading slices the part out; saving collects
    the rows of one key and `merge`s them back (the saver groups them).

    Args:
        part: int, index of this tensor among the fused ones.
        parts: int, number of fused tensors.
        heads: int, interleaving groups (`1`: parts are contiguous blocks).
        base: transform of one part (`LINEAR` for weights, `FLATTEN` for biases).
        axis: checkpoint axis the parts are fused along (`0`: outputs of an
            `nn.Linear` weight; `1`: its inputs, e.g. ConvBERT's output
            projection over concatenated attention and convolution heads).
    """

    name = "fused_part"

    def __init__(self, part, parts, heads=1, base=None, axis=0):
        self.part, self.parts, self.heads, self.axis = part, parts, heads, axis
        self.base = base or Linear(1)

    def hf_shape(self, keras_shape):
        shape = list(self.base.hf_shape(keras_shape))
        shape[self.axis] *= self.parts
        return tuple(shape)

    def to_keras(self, array, keras_shape):
        array = np.moveaxis(array, self.axis, 0)
        out, *rest = array.shape
        grouped = array.reshape(self.heads, self.parts, out // (self.heads * self.parts), *rest)
        part = np.moveaxis(grouped[:, self.part].reshape(out // self.parts, *rest), 0, self.axis)
        return self.base.to_keras(part, keras_shape)

    def to_hf(self, array):
        return self.base.to_hf(array)

    def merge(self, pieces):
        """Fuses the `to_hf` outputs of all parts (in part order) into the checkpoint tensor."""
        pieces = [np.moveaxis(p, self.axis, 0) for p in pieces]
        out, *rest = pieces[0].shape
        grouped = [p.reshape(self.heads, out // self.heads, *rest) for p in pieces]
        return np.moveaxis(np.stack(grouped, axis=1).reshape(out * self.parts, *rest), 0, self.axis)


def Split(inner, index, count, axis=-1):  # noqa: N802  (reads like the transforms it builds)
    """Part `index` of `count` equal, contiguous parts concatenated along `axis`
    (GPT-2's `c_attn` = [query | key | value]), each converted with `inner`.

    A `FusedPart` with one interleaving group; several rows share one key,
    the loader slices each part, `save_pretrained` concatenates them back.
    """
    if not 0 <= index < count:
        raise ValueError(f"Split index must be in [0, count). Received: index={index}, count={count}")
    return FusedPart(index, count, heads=1, base=inner, axis=axis)


IDENTITY = Transform()
TORCH_CONV1D = Permute((2, 1, 0))
# `nn.Conv2d` weight `(out, in, kh, kw)` <-> Keras `Conv2D` kernel `(kh, kw, in, out)`: Keras convolves
# channels-last with the spatial axes first, PyTorch puts the output channels first.
TORCH_CONV2D = Permute((2, 3, 1, 0))
LINEAR = Linear(1)
LINEAR_FROM_HEADS = Linear(2)
FLATTEN = Flatten()
CONV1D = Conv1D(1)
CONV1D_FROM_HEADS = Conv1D(2)


@dataclasses.dataclass(frozen=True)
class Param:
    """One row of a weight table.

    Attributes:
        hf_key: checkpoint key in Hugging Face PyTorch naming.
        keras_path: attribute path of the Keras variable in the model.
        transform: layout conversion between the two.
        optional: if the key is absent, keep the variable's initial value and
            warn instead of failing (task heads, poolers).
        head: the row belongs to a task head; `ignore_mismatched_sizes=True`
            may re-initialise it when its shape differs.
        aliases: other checkpoint keys holding the same tensor (older or
            tied names), tried in order when `hf_key` is absent.
    """

    hf_key: str
    keras_path: str
    transform: Transform = IDENTITY
    optional: bool = False
    head: bool = False
    aliases: tuple = ()


# Backbone modules a model may be built without (a head with `add_pooling_layer=False`):
# their keys in a checkpoint are unused, like another head's, not unexpected.
OPTIONAL_BACKBONE_KEYS = (r"(^|\.)pooler\.",)


@dataclasses.dataclass
class WeightTable:
    """The table for one model instance plus the checkpoint keys it does not load.

    Every checkpoint key is either loaded by a row, verified by a `checks`
    entry, matched by a documented `ignored_keys` pattern, or reported as
    belonging to another head; anything else is an error.

    Attributes:
        params: the rows. In a head model, rows outside the backbone (keys
            not starting with `base_model_prefix.`) are task-head rows: they
            are made `optional` and `head` here, so any checkpoint of the
            family loads into any head (the head is newly initialised, with a
            warning), as in `transformers`.
        ignored_keys: regexes of checkpoint keys that do not affect outputs,
            each with its reason at the definition (e.g. layers
            `transformers` builds but never calls in this configuration).
        other_head_keys: regexes of keys that belong to heads (or optional
            backbone modules such as the pooler) this model does not have;
            loading reports them as unused. Keys outside the backbone prefix
            of a prefixed checkpoint are always another head's.
        base_model_prefix: prefix of backbone keys in head checkpoints.
        is_head_model: whether backbone keys carry `base_model_prefix`.
        buffers: `{hf_key: np.ndarray}` of constant buffers the reference
            keeps in its state dict (e.g. Transformer-XL's `pos_emb.inv_freq`):
            `save_pretrained` writes them; loading compares them with these
            values (they become `checks`).
        tied: `{regex: source hf_key}`: checkpoint keys of weights tied to a
            row (a decoder tied to the word embeddings); loading checks they
            equal that row's tensor. `source` may omit the backbone prefix.
        checks: `buffers.BufferCheck`s: keys the model recomputes instead of
            loading (sinusoid tables, tied decoders, causal masks); loading
            compares the checkpoint's tensor with the model's value. The
            `position_ids` / `token_type_ids` buffer checks are always added.
        external_variables: model variables no checkpoint key holds, left to
            their owner (MMBT's user-supplied image encoder when it names no
            keys): neither loaded nor saved, and exempt from the check that
            every variable has a row.
        tf_renames: `((regex, replacement), ...)` applied (`re.sub`, in order)
            to the keys of a legacy TF checkpoint once translated from its
            variable names (`tf_h5.pytorch_key`), where this model's TF class
            named them otherwise than its PyTorch class: the main-layer scope
            a TF composite keeps around a sub-model (`encoder.bert.*` ->
            `encoder.*`), a sub-model's one-level variable (`final_logits_bias`
            -> `generator.final_logits_bias`). What `transformers` 4.x did in
            each TF class's `tf_to_pt_weight_rename`.
    """

    params: list
    ignored_keys: tuple = ()
    other_head_keys: tuple = ()
    base_model_prefix: str = None
    is_head_model: bool = False
    buffers: dict = dataclasses.field(default_factory=dict)
    tied: dict = dataclasses.field(default_factory=dict)
    checks: tuple = ()
    external_variables: tuple = ()
    tf_renames: tuple = ()

    def __post_init__(self):
        from tfmodels.converters import buffers  # it imports this module

        self.other_head_keys = tuple(self.other_head_keys) + OPTIONAL_BACKBONE_KEYS
        self.checks = (
            *self.checks,
            *(buffers.constant_buffer(k, v, self.base_model_prefix) for k, v in self.buffers.items()),
            *(buffers.tied_weight(pattern, self._row(source)) for pattern, source in self.tied.items()),
            # A row's alias present next to its key (`cls.predictions.decoder.bias` and `cls.predictions.bias`).
            *(buffers.tied_weight(f"^{re.escape(a)}$", p) for p in self.params for a in p.aliases),
            buffers.position_ids_buffer(),  # every family's (legacy) index buffers
            buffers.token_type_ids_buffer(),
        )
        if self.is_head_model and self.base_model_prefix:
            backbone = f"{self.base_model_prefix}."
            self.params = [
                p if p.hf_key.startswith(backbone) else dataclasses.replace(p, optional=True, head=True)
                for p in self.params
            ]

    def _row(self, hf_key):
        for p in self.params:
            if p.hf_key == hf_key or p.hf_key.endswith("." + hf_key):
                return p
        raise ValueError(f"tfmodels bug: no weight-table row for the tied source key {hf_key!r}.")

    def is_backbone_key(self, key, prefixed_checkpoint):
        """Whether `key` belongs to the backbone in a checkpoint with (or without) the prefix."""
        return not (prefixed_checkpoint and self.base_model_prefix) or key.startswith(f"{self.base_model_prefix}.")


def prefixed(prefix, params):
    """Returns `params` with `prefix` prepended to both key and path."""
    if not prefix:
        return list(params)
    return [
        dataclasses.replace(
            p,
            hf_key=f"{prefix}.{p.hf_key}",
            keras_path=f"{prefix}.{p.keras_path}",
            aliases=tuple(f"{prefix}.{a}" for a in p.aliases),
        )
        for p in params
    ]


def resolve_variable(model, keras_path):
    """Follows a dotted attribute path (`a.b.0.c`) from `model` to a variable.

    Raises:
        AttributeError: naming the path and the first part that is missing.
    """
    obj = model
    for part in keras_path.split("."):
        try:
            obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
        except (AttributeError, IndexError, TypeError):
            raise AttributeError(
                f"{type(model).__name__} has no variable at {keras_path!r} (stopped at {part!r}). "
                "The weight table and the model disagree; this is a tfmodels bug."
            ) from None
    return obj



class GroupedConv1x1(Transform):
    """PyTorch grouped `nn.Conv1d(kernel_size=1)` weight `(C_out, C_in/g, 1)` <->
    `GroupedDense` kernel `(g, C_in/g, C_out/g)`; output channel `o` belongs to group `o // (C_out/g)`."""

    name = "grouped_conv1x1"

    def hf_shape(self, keras_shape):
        groups, block_in, block_out = keras_shape
        return (groups * block_out, block_in, 1)

    def to_keras(self, array, keras_shape):
        groups, block_in, block_out = keras_shape
        return array.reshape(groups, block_out, block_in).transpose(0, 2, 1)

    def to_hf(self, array):
        groups, block_in, block_out = array.shape
        return array.transpose(0, 2, 1).reshape(groups * block_out, block_in, 1)


GROUPED_CONV1X1 = GroupedConv1x1()


def split_head_model(model):
    """`(is_head, backbone)`: whether `model` is a head model (it has a `backbone`), and the backbone
    (the model itself for a bare backbone). Head-model keys carry the `base_model_prefix`."""
    backbone = getattr(model, "backbone", None)
    return (True, backbone) if backbone is not None else (False, model)
