"""Grouped linear layer: a block-diagonal dense projection.

One layer for ConvBERT's `GroupedLinearLayer` and SqueezeBERT's grouped 1x1
convolutions (`nn.Conv1d(..., kernel_size=1, groups=G)`): the kernel is
`(G, in / G, out / G)` and converters map either layout onto it.

References:
    Jiang et al., "ConvBERT: Improving BERT with Span-based Dynamic
    Convolution", NeurIPS 2020 (`transformers` `GroupedLinearLayer`);
    Iandola et al., "SqueezeBERT", 2020 (`transformers` SqueezeBERT).
"""

import keras
from keras import ops

from tfmodels.layers.utils import clone_initializer


@keras.saving.register_keras_serializable(package="tfmodels")
class GroupedDense(keras.layers.Layer):
    """Block-diagonal dense layer: `groups` independent `C_in/g -> units/g` projections.

    Args:
        units: int, output features (divisible by `groups`).
        groups: int, number of blocks.
        input_axes: int, trailing input axes flattened into the features
            (2 for a `(batch, seq, heads, head_dim)` attention context).
        output_heads: optional `(num_heads, head_dim)`: reshape the output to
            `(..., num_heads, head_dim)` (attention query/key/value).
        use_bias: bool.
        kernel_initializer, bias_initializer: initializers.

    Call args:
        x: float tensor `(batch, seq_len, ...features)`.

    Returns:
        float tensor `(batch, seq_len, units)` or `(batch, seq_len, *output_heads)`.

    The kernel is `(groups, C_in / groups, units / groups)`.
    """

    def __init__(self, units, groups=1, input_axes=1, output_heads=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if units % groups:
            raise ValueError(f"units must be divisible by groups. Received: units={units}, groups={groups}")
        self.units = units
        self.groups = groups
        self.input_axes = input_axes
        self.output_heads = tuple(output_heads) if output_heads else None
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        in_features = 1
        for dim in input_shape[len(input_shape) - self.input_axes:]:
            in_features *= dim
        if in_features % self.groups:
            raise ValueError(
                f"Input features must be divisible by groups. Received: {in_features} features, groups={self.groups}"
            )
        self.kernel = self.add_weight(
            shape=(self.groups, in_features // self.groups, self.units // self.groups), name="kernel",
            initializer=clone_initializer(self.kernel_initializer),
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.units,), name="bias",
                                        initializer=clone_initializer(self.bias_initializer))
        self.built = True

    def call(self, x):
        batch_dims = ops.shape(x)[: len(x.shape) - self.input_axes]
        x = ops.reshape(x, (*batch_dims, self.groups, -1))  # (..., groups, C_in / groups)
        y = ops.einsum("...gi,gio->...go", x, ops.cast(self.kernel, x.dtype))
        y = ops.reshape(y, (*batch_dims, self.units))
        if self.bias is not None:
            y = y + ops.cast(self.bias, y.dtype)
        return ops.reshape(y, (*batch_dims, *self.output_heads)) if self.output_heads else y

    def compute_output_shape(self, input_shape):
        batch_dims = tuple(input_shape[: len(input_shape) - self.input_axes])
        return (*batch_dims, *(self.output_heads or (self.units,)))

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "groups": self.groups,
            "input_axes": self.input_axes,
            "output_heads": self.output_heads,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
