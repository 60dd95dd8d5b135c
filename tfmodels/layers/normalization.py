"""Normalization layers: LayerNorm computed as PyTorch computes it (float32), T5's RMS
norm, MobileBERT's `NoNorm`, and a factory keyed by Hugging Face `normalization_type` names."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfmodels")
class LayerNormalization(keras.layers.LayerNormalization):
    """LayerNorm over the last axis: `(x - mean) / sqrt(var + eps) * gamma + beta`.

    Same variables (`gamma`, `beta`) and arguments as
    `keras.layers.LayerNormalization`, with two differences that matter for
    parity and mixed precision:

    - the input is centred before scaling. Keras computes
      `x * inv + (beta - mean * inv)`, which cancels catastrophically when
      `|mean| >> std` (seen on padding positions of real BERT checkpoints:
      3e-5 error vs PyTorch instead of 2e-6);
    - statistics and the affine step are always computed in float32, and the
      result is cast to the layer's compute dtype.

    Args:
        epsilon: float, added to the variance (Hugging Face `layer_norm_eps`).
        **kwargs: other `keras.layers.LayerNormalization` arguments; only
            `axis=-1` is supported.

    Call args:
        x: float tensor `(..., features)`.

    Returns:
        tensor shaped like `x`, in the compute dtype.

    References:
        Ba et al., "Layer Normalization", 2016; parity reference
        `torch.nn.LayerNorm`.
    """

    def __init__(self, epsilon=1e-12, **kwargs):
        axis = kwargs.pop("axis", -1)
        if axis not in (-1, [-1]):
            raise ValueError(f"tfmodels LayerNormalization normalises the last axis only. Received: axis={axis}")
        super().__init__(axis=-1, epsilon=epsilon, **kwargs)

    def call(self, x):
        x = ops.cast(x, "float32")
        mean = ops.mean(x, axis=-1, keepdims=True)
        centered = x - mean
        variance = ops.mean(ops.square(centered), axis=-1, keepdims=True)
        outputs = centered * ops.rsqrt(variance + self.epsilon)
        if self.scale:
            outputs = outputs * ops.cast(self.gamma, "float32")
        if self.center:
            outputs = outputs + ops.cast(self.beta, "float32")
        return ops.cast(outputs, self.compute_dtype)


@keras.saving.register_keras_serializable(package="tfmodels")
class RMSNormalization(keras.layers.Layer):
    """Root-mean-square norm over the last axis: `x / sqrt(mean(x^2) + eps) * gamma`.

    No mean subtraction and no bias (T5's `T5LayerNorm`, also used by mT5,
    Flan-T5, LLaMA-style models). The mean of squares is computed in float32
    whatever the compute dtype, so `mixed_float16`/`mixed_bfloat16` never
    overflow it; the result is cast back to the compute dtype. The scale is
    named `gamma`, like `LayerNormalization`'s, so weight tables map the
    Hugging Face `weight` the same way.

    Args:
        epsilon: float, added to the mean of squares (Hugging Face
            `layer_norm_epsilon`).
        **kwargs: base layer arguments (`name`, `dtype`).

    Call args:
        x: float tensor `(..., features)`.

    Returns:
        tensor shaped like `x`, in the compute dtype.

    References:
        Zhang and Sennrich, "Root Mean Square Layer Normalization", NeurIPS
        2019. Parity reference: `transformers.models.t5.modeling_t5.T5LayerNorm`.
    """

    def __init__(self, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        self.gamma = self.add_weight(shape=(input_shape[-1],), name="gamma", initializer="ones")
        self.built = True

    def call(self, x):
        x = ops.cast(x, "float32")
        variance = ops.mean(ops.square(x), axis=-1, keepdims=True)  # (..., 1)
        outputs = x * ops.rsqrt(variance + self.epsilon) * ops.cast(self.gamma, "float32")
        return ops.cast(outputs, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


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


NORMALIZATION_TYPES = ("layer_norm", "rms_norm", "no_norm")


def normalization(kind, epsilon=1e-12, **kwargs):
    """Returns a normalization layer by Hugging Face name (`normalization_type`).

    Args:
        kind: `"layer_norm"` (`LayerNormalization` above), `"rms_norm"`
            (`RMSNormalization`) or `"no_norm"` (`NoNorm`).
        epsilon: norm epsilon (ignored by `NoNorm`).
        **kwargs: layer arguments (`name`, `dtype`).

    Raises:
        ValueError: for another `kind`.
    """
    if kind == "layer_norm":
        return LayerNormalization(epsilon=epsilon, **kwargs)
    if kind == "rms_norm":
        return RMSNormalization(epsilon=epsilon, **kwargs)
    if kind == "no_norm":
        return NoNorm(**kwargs)
    raise ValueError(f"normalization_type must be one of {NORMALIZATION_TYPES}. Received: {kind!r}")
