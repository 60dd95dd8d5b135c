"""Position-wise feed-forward network, plain or gated (GLU variants)."""

import keras

from tfmodels.layers.activations import get_activation
from tfmodels.layers.einsum_dense import Dense
from tfmodels.layers.grouped_dense import GroupedDense
from tfmodels.layers.utils import chunked_call, clone_initializer


@keras.saving.register_keras_serializable(package="tfmodels")
class FeedForward(keras.layers.Layer):
    """`output_dense(activation(intermediate_dense(x)))`, or gated.

    With `gated=True` (GLU variants: T5 v1.1 / mT5 / Flan-T5 `gated-gelu`,
    `gated-silu`)::

        output_dense(activation(intermediate_dense(x)) * linear_dense(x))

    The residual connection and the dropout on the output belong to the
    enclosing block; `dropout` here is the inner dropout on the activations
    `(batch, seq_len, intermediate_size)` that T5 applies before `wo`.

    Args:
        intermediate_size: int, inner width `F`.
        activation: str, a Hugging Face activation name (`"gelu"`, `"relu"`, ...).
        output_size: int, output width; defaults to the input width.
        use_bias: bool, whether both dense layers have biases.
        num_groups: int; `> 1` makes both projections `GroupedDense`
            (block-diagonal, ConvBERT), which always have biases.
        kernel_initializer: initializer for every kernel.
        gated: bool, multiply the activations by a second, linear
            projection `linear_dense` of the input.
        dropout: float, inner dropout rate on the (gated) activations.
        output_dtype: optional dtype policy name of `output_dense` alone
            (e.g. `"float32"`): it then keeps its kernel in, casts its input
            to and returns that dtype whatever the layer's policy (T5's
            `wo` under float16, `_keep_in_fp32_modules` in the reference).
        chunk_size: int; `> 0` runs the network on `chunk_size` positions at
            a time (feed-forward chunking, Reformer's `chunk_size_feed_forward`:
            the same result, a smaller `(batch, chunk_size, intermediate_size)`
            activation at a time); `seq_len` must then be a multiple of it.
        **kwargs: base layer arguments.

    Call args:
        x: float tensor `(batch, seq_len, hidden_size)`.
        training: bool, enables the inner dropout.

    Returns:
        float tensor `(batch, seq_len, output_size)`.

    Raises:
        ValueError: with `chunk_size`, a static `seq_len` that is not a multiple of it.

    References:
        Shazeer, "GLU Variants Improve Transformer", 2020. Parity references:
        `transformers.models.t5.modeling_t5.T5DenseActDense` and
        `T5DenseGatedActDense`.
    """

    def __init__(
        self,
        intermediate_size,
        activation="gelu",
        output_size=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        num_groups=1,
        gated=False,
        dropout=0.0,
        output_dtype=None,
        chunk_size=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.chunk_size = int(chunk_size or 0)
        self.gated = gated
        self.output_dtype = output_dtype
        self.dropout = dropout
        self.num_groups = num_groups
        self.intermediate_size = intermediate_size
        self.activation = activation
        self.output_size = output_size
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self._activation_fn = get_activation(activation)

    def _dense(self, units, name, dtype=None):
        """Creates one projection (`dtype`: its policy, default the layer's); the override point for variants."""
        dtype = dtype or self.dtype_policy
        if self.num_groups > 1:
            return GroupedDense(units, self.num_groups, kernel_initializer=clone_initializer(self.kernel_initializer),
                                dtype=dtype, name=name)
        return Dense(
            units, use_bias=self.use_bias, kernel_initializer=clone_initializer(self.kernel_initializer),
            dtype=dtype, name=name,
        )

    def build(self, input_shape):
        output_size = self.output_size or input_shape[-1]
        self.intermediate_dense = self._dense(self.intermediate_size, "intermediate_dense")
        self.intermediate_dense.build(input_shape)
        if self.gated:
            self.linear_dense = self._dense(self.intermediate_size, "linear_dense")
            self.linear_dense.build(input_shape)
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        self.output_dense = self._dense(output_size, "output_dense", self.output_dtype)
        self.output_dense.build((*input_shape[:-1], self.intermediate_size))
        self.built = True

    def call(self, x, training=None):
        if len(x.shape) == 3:
            return chunked_call(lambda chunk: self._forward(chunk, training), x, self.chunk_size, self.name)
        return self._forward(x, training)

    def _forward(self, x, training):
        if isinstance(self.intermediate_dense, Dense):  # the activation on the 2-D product, fused in graph mode
            hidden = self.intermediate_dense(x, activation=self._activation_fn)  # (batch, seq_len, intermediate)
        else:
            hidden = self._activation_fn(self.intermediate_dense(x))
        if self.gated:
            hidden = hidden * self.linear_dense(x)
        return self.output_dense(self.dropout_layer(hidden, training=training))

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
            "gated": self.gated,
            "dropout": self.dropout,
            "output_dtype": self.output_dtype,
            "chunk_size": self.chunk_size,
        }
