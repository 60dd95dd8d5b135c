"""Normalization layers beyond Keras' own, and a factory keyed by Hugging Face names."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfmodels")
class NoNorm(keras.layers.Layer):
    """Element-wise affine map `x * gamma + beta` (MobileBERT's "no_norm").

    The variables are named like `LayerNormalization`'s, so weight tables
    map Hugging Face `weight`/`bias` the same way for both.

    Call args:
        x: float tensor `(..., features)`.

    Returns:
        float tensor shaped like `x`.

    References:
        Sun et al., "MobileBERT", ACL 2020. Parity reference:
        `transformers.models.mobilebert.modeling_mobilebert.NoNorm`.
    """

    def build(self, input_shape):
        self.gamma = self.add_weight(shape=(input_shape[-1],), name="gamma", initializer="ones")
        self.beta = self.add_weight(shape=(input_shape[-1],), name="beta", initializer="zeros")
        self.built = True

    def call(self, x):
        return x * ops.cast(self.gamma, x.dtype) + ops.cast(self.beta, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape


NORMALIZATION_TYPES = ("layer_norm", "no_norm")


def normalization(kind, epsilon=1e-12, **kwargs):
    """Returns a normalization layer by Hugging Face name (`normalization_type`).

    Args:
        kind: `"layer_norm"` (`keras.layers.LayerNormalization`) or `"no_norm"` (`NoNorm`).
        epsilon: LayerNorm epsilon (ignored by `NoNorm`).
        **kwargs: layer arguments (`name`, `dtype`).

    Raises:
        ValueError: for another `kind`.
    """
    if kind == "layer_norm":
        return keras.layers.LayerNormalization(epsilon=epsilon, **kwargs)
    if kind == "no_norm":
        return NoNorm(**kwargs)
    raise ValueError(f"normalization_type must be one of {NORMALIZATION_TYPES}. Received: {kind!r}")
