"""Grouped linear layer: block-diagonal dense projection (ConvBERT)."""

import keras
from keras import ops

from tfmodels.layers.utils import clone_initializer


@keras.saving.register_keras_serializable(package="tfmodels")
class GroupedDense(keras.layers.Layer):
    """Splits the features into `num_groups` groups and projects each with its own kernel.

    `y[..., g, :] = x[..., g, :] @ kernel[g] `, concatenated, plus a bias:
    a dense layer with a block-diagonal kernel and `num_groups` times fewer
    parameters.

    Args:
        units: int, output features (divisible by `num_groups`).
        num_groups: int, groups `G`.
        kernel_initializer: initializer of the kernel `(G, in / G, units / G)`.
        bias_initializer: initializer of the bias `(units,)`.
        **kwargs: base layer arguments.

    Call args:
        x: float tensor `(..., in_features)`.

    Returns:
        float tensor `(..., units)`.

    References:
        Jiang et al., "ConvBERT: Improving BERT with Span-based Dynamic
        Convolution", NeurIPS 2020. Parity reference:
        `transformers.models.convbert.modeling_convbert.GroupedLinearLayer`.
    """

    def __init__(self, units, num_groups, kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if units % num_groups:
            raise ValueError(f"units must be divisible by num_groups. Received: units={units}, num_groups={num_groups}")
        self.units = units
        self.num_groups = num_groups
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        in_features = input_shape[-1]
        if in_features % self.num_groups:
            raise ValueError(
                f"Input features must be divisible by num_groups. Received: {in_features} features, "
                f"num_groups={self.num_groups}"
            )
        g = self.num_groups
        self.kernel = self.add_weight(shape=(g, in_features // g, self.units // g), name="kernel",
                                      initializer=clone_initializer(self.kernel_initializer))
        self.bias = self.add_weight(shape=(self.units,), name="bias",
                                    initializer=clone_initializer(self.bias_initializer))
        self.built = True

    def call(self, x):
        grouped = ops.reshape(x, (*ops.shape(x)[:-1], self.num_groups, -1))  # (..., G, in / G)
        y = ops.einsum("...gi,gio->...go", grouped, ops.cast(self.kernel, x.dtype))
        return ops.reshape(y, (*ops.shape(x)[:-1], self.units)) + ops.cast(self.bias, x.dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "num_groups": self.num_groups,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
