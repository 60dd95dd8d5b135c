"""The tiny image encoder of the MMBT fixtures, in Keras (its PyTorch twin: `TinyImageEncoder` in
`scripts/make_retribert_mmbt_fixtures.py`)."""

import keras
from keras import ops

from tfmodels.converters.mapping import TORCH_CONV2D, Param


@keras.saving.register_keras_serializable(package="tests")
class TinyImageEncoder(keras.layers.Layer):
    """`(batch, 3, 8, 8)` pixels -> `(batch, 2, channels)`: a 4x4 stride-4 convolution (`conv`), then the
    mean over the width, one token per row (PyTorch: `AdaptiveAvgPool2d((2, 1))`, flatten, transpose)."""

    input_modal_shape = (3, 8, 8)

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels
        self.conv = keras.layers.Conv2D(channels, 4, strides=4, dtype=self.dtype_policy, name="conv")

    def build(self, input_shape):
        self.conv.build((input_shape[0], input_shape[2], input_shape[3], input_shape[1]))
        self.built = True

    def call(self, pixels):
        x = self.conv(ops.transpose(pixels, (0, 2, 3, 1)))  # NCHW -> NHWC, (batch, 2, 2, channels)
        return ops.mean(x, axis=2)  # (batch, 2, channels)

    def weight_rows(self):
        """The checkpoint keys of `conv` (relative to `modal_encoder.encoder.`)."""
        return [Param("conv.weight", "conv.kernel", TORCH_CONV2D), Param("conv.bias", "conv.bias")]

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}
