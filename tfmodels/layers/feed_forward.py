"""Position-wise feed-forward network."""

import keras

from tfmodels.layers.activations import get_activation
from tfmodels.layers.grouped_dense import GroupedDense
from tfmodels.layers.utils import clone_initializer


@keras.saving.register_keras_serializable(package="tfmodels")
class FeedForward(keras.layers.Layer):
    """`output_dense(activation(intermediate_dense(x)))`.

    Dropout and the residual connection belong to the enclosing block.

    Args:
        intermediate_size: int, inner width `F`.
        activation: str, a Hugging Face activation name (`"gelu"`, `"relu"`, ...).
        output_size: int, output width; defaults to the input width.
        use_bias: bool, whether both dense layers have biases.
        num_groups: int; `> 1` makes both projections `GroupedDense`
            (block-diagonal, ConvBERT), which always have biases.
        kernel_initializer: initializer for both kernels.
        **kwargs: base layer arguments.

    Call args:
        x: float tensor `(batch, seq_len, hidden_size)`.

    Returns:
        float tensor `(batch, seq_len, output_size)`.
    """

    def __init__(
        self,
        intermediate_size,
        activation="gelu",
        output_size=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        num_groups=1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_groups = num_groups
        self.intermediate_size = intermediate_size
        self.activation = activation
        self.output_size = output_size
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self._activation_fn = get_activation(activation)

    def _dense(self, units, name):
        """Creates one projection; the override point for variants (grouped projections)."""
        if self.num_groups > 1:
            return GroupedDense(units, self.num_groups, kernel_initializer=clone_initializer(self.kernel_initializer),
                                dtype=self.dtype_policy, name=name)
        return keras.layers.Dense(
            units, use_bias=self.use_bias, kernel_initializer=clone_initializer(self.kernel_initializer),
            dtype=self.dtype_policy, name=name,
        )

    def build(self, input_shape):
        output_size = self.output_size or input_shape[-1]
        self.intermediate_dense = self._dense(self.intermediate_size, "intermediate_dense")
        self.intermediate_dense.build(input_shape)
        self.output_dense = self._dense(output_size, "output_dense")
        self.output_dense.build((*input_shape[:-1], self.intermediate_size))
        self.built = True

    def call(self, x):
        return self.output_dense(self._activation_fn(self.intermediate_dense(x)))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.output_size or input_shape[-1])

    def get_config(self):
        return {
            **super().get_config(),
            "intermediate_size": self.intermediate_size,
            "activation": self.activation,
            "output_size": self.output_size,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "num_groups": self.num_groups,
        }
