"""Layer normalisation computed as PyTorch computes it, in float32."""

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
