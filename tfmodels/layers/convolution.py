"""Convolutional residual branch over the sequence (DeBERTa-v2's `ConvLayer`)."""

import keras
from keras import ops

from tfmodels.layers.activations import get_activation
from tfmodels.layers.normalization import LayerNormalization


@keras.saving.register_keras_serializable(package="tfmodels")
class MaskedConvResidual(keras.layers.Layer):
    """`LN(residual + act(dropout(conv(x) * mask))) * mask`, a 1-D convolution branch.

    DeBERTa-v2 adds it to the output of the first encoder layer: `x` are the
    embeddings, `residual` the first layer's output.

    Args:
        hidden_size: int, input and output channels `D`.
        kernel_size: int, odd convolution width ("same" padding).
        groups: int, channel groups of the convolution.
        activation: str, Hugging Face activation name.
        layer_norm_eps: float, LayerNorm epsilon.
        dropout: float, dropout before the activation.
        **kwargs: base layer arguments.

    Call args:
        x: float tensor `(batch, seq_len, D)` fed to the convolution.
        residual: float tensor `(batch, seq_len, D)`.
        token_mask: optional 0/1 or bool tensor `(batch, seq_len)`; padded positions
            give zeros.
        training: bool, enables dropout.

    Returns:
        float tensor `(batch, seq_len, D)`.

    References:
        He et al., "DeBERTa", 2021 (v2 release notes). Parity reference:
        `transformers.models.deberta_v2.modeling_deberta_v2.ConvLayer`.
    """

    def __init__(self, hidden_size, kernel_size=3, groups=1, activation="tanh", layer_norm_eps=1e-7,
                 dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd to keep the sequence length. Received: kernel_size={kernel_size}")
        self.hidden_size = hidden_size
        self.kernel_size = kernel_size
        self.groups = groups
        self.activation = activation
        self.layer_norm_eps = layer_norm_eps
        self.dropout = dropout
        self._activation_fn = get_activation(activation)
        self.conv = keras.layers.Conv1D(hidden_size, kernel_size, padding="same", groups=groups,
                                        dtype=self.dtype_policy, name="conv")
        self.layer_norm = LayerNormalization(epsilon=layer_norm_eps, dtype=self.dtype_policy,
                                                          name="layer_norm")
        self.dropout_layer = keras.layers.Dropout(dropout, dtype=self.dtype_policy)

    def build(self, x_shape, residual_shape=None, token_mask_shape=None):
        self.conv.build(x_shape)
        self.layer_norm.build(x_shape)
        self.built = True

    def call(self, x, residual, token_mask=None, training=None):
        out = self.conv(x)
        mask = token_mask
        if mask is not None:
            mask = ops.cast(mask, out.dtype)[:, :, None]
            out = out * mask
        out = self._activation_fn(self.dropout_layer(out, training=training))
        out = self.layer_norm(ops.cast(residual, out.dtype) + out)
        return out if mask is None else out * mask

    def compute_output_shape(self, x_shape, residual_shape=None, token_mask_shape=None):
        return x_shape

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_size": self.hidden_size,
            "kernel_size": self.kernel_size,
            "groups": self.groups,
            "activation": self.activation,
            "layer_norm_eps": self.layer_norm_eps,
            "dropout": self.dropout,
        }
