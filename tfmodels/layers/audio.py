"""Speech front ends: the convolutional feature encoder over raw audio, the
convolutional relative position embedding (a weight-normalised grouped convolution),
and the strided convolutional subsampler over filter-bank frames (Speech2Text).

Size glossary: `B` batch, `S` audio samples, `T` feature frames, `C` feature
channels (`conv_dim[-1]`), `D` hidden size, `K` kernel width, `G` groups.

References:
    Baevski et al., "wav2vec 2.0: A Framework for Self-Supervised Learning of
    Speech Representations", 2020. Salimans & Kingma, "Weight Normalization",
    2016. Wang et al., "fairseq S2T: Fast Speech-to-Text Modeling with fairseq",
    2020 (the subsampler). Parity references: `transformers.models.wav2vec2.modeling_wav2vec2`
    (`Wav2Vec2FeatureEncoder`, `Wav2Vec2PositionalConvEmbedding`),
    `transformers.models.speech_to_text.modeling_speech_to_text.Conv1dSubsampler`.
"""

import keras
from keras import ops

from tfmodels.layers.activations import get_activation
from tfmodels.layers.normalization import LayerNormalization

FEATURE_NORMS = ("group", "layer")


def conv_output_lengths(lengths, conv_kernel, conv_stride):
    """Frames left after a stack of unpadded 1-D convolutions: `floor((n - k) / s) + 1` per layer.

    Args:
        lengths: int tensor or int, valid samples per example `(B,)`.
        conv_kernel, conv_stride: sequences of ints, one per layer.

    Returns:
        lengths after the stack, same type (`_get_feat_extract_output_lengths` in the reference).
    """
    for kernel, stride in zip(conv_kernel, conv_stride):
        lengths = (lengths - kernel) // stride + 1
    return lengths


def frame_mask(attention_mask, num_frames, conv_kernel, conv_stride):
    """Boolean frame mask `(B, T)` from a sample mask `(B, S)`: the first `conv_output_lengths(sum(mask))`
    frames of each row are valid (right padding, as the reference's `_get_feature_vector_attention_mask`)."""
    lengths = ops.sum(ops.cast(attention_mask, "int32"), axis=-1)
    return lengths_mask(conv_output_lengths(lengths, conv_kernel, conv_stride), num_frames)


def lengths_mask(lengths, num_frames, empty_rows_attend=False):
    """Boolean `(B, T)` mask of the first `lengths[b]` of `num_frames` positions (right padding).

    Args:
        lengths: int tensor `(B,)`.
        num_frames: int or scalar int tensor, `T`.
        empty_rows_attend: bool, a row of length 0 gets every position (Speech2Text's
            `_get_feature_vector_attention_mask` writes its 1 at index `length - 1 = -1`, the last frame).
    """
    lengths = ops.cast(lengths, "int32")
    if empty_rows_attend:
        lengths = ops.where(lengths > 0, lengths, num_frames)
    return ops.arange(num_frames, dtype="int32")[None, :] < lengths[:, None]



def span_mask(lengths, size, mask_prob, mask_length, min_masks=0, seed=None):
    """SpecAugment span masks, in-graph: random spans of `mask_length` positions over the first `lengths`.

    The rule of the reference's `_compute_mask_indices`: each row gets
    `int(mask_prob * length / mask_length + u)` spans (`u ~ U[0, 1)`, one draw
    per call), at least `min_masks`, at most `size // mask_length` and
    `length - mask_length + 1`; span starts are drawn uniformly without
    replacement from `[0, length - mask_length]`; spans may overlap. The draws
    are TensorFlow's, so the masks are not the reference's NumPy ones.

    Args:
        lengths: int tensor `(batch,)`, valid positions per row (frames, or `size` for feature masks).
        size: int, the static axis length `T` (or features).
        mask_prob, mask_length, min_masks: the `mask_time_*` / `mask_feature_*` config fields.
        seed: a `keras.random.SeedGenerator` or int.

    Returns:
        bool tensor `(batch, size)`, `True` = masked.

    Raises:
        ValueError: `mask_length < 1` or `mask_length > size`.

    References:
        Park et al., "SpecAugment", 2019; `transformers.models.wav2vec2.modeling_wav2vec2._compute_mask_indices`.
    """
    if mask_length < 1:
        raise ValueError(f"mask_length must be at least 1. Received: mask_length={mask_length}")
    if mask_length > size:
        raise ValueError(f"mask_length must not exceed the masked axis ({size}). Received: mask_length={mask_length}")
    lengths = ops.cast(lengths, "int32")
    batch = ops.shape(lengths)[0]
    epsilon = keras.random.uniform((), seed=seed)
    spans = ops.cast(mask_prob * ops.cast(lengths, "float32") / mask_length + epsilon, "int32")
    spans = ops.minimum(ops.maximum(spans, min_masks), size // mask_length)
    spans = ops.minimum(spans, ops.maximum(lengths - (mask_length - 1), 0))  # (batch,)
    starts = ops.arange(size, dtype="int32")[None, :]
    allowed = starts < (lengths - (mask_length - 1))[:, None]  # (batch, size)
    scores = ops.where(allowed, keras.random.uniform((batch, size), seed=seed), -1.0)
    rank = ops.argsort(ops.argsort(-scores, axis=-1), axis=-1)  # 0 = highest score
    chosen = ops.cast(allowed & (rank < spans[:, None]), "int32")  # span starts
    covered = ops.cumsum(chosen, axis=-1)
    before = ops.pad(covered, ((0, 0), (mask_length, 0)))[:, :size]  # starts more than mask_length - 1 back
    return (covered - before) > 0


@keras.saving.register_keras_serializable(package="tfmodels")
class ChannelGroupNormalization(keras.layers.Layer):
    """Group normalisation with one channel per group over channels-last `(B, T, C)`:
    each channel of each example is normalised over time, then scaled and shifted per channel.

    Statistics are computed in float32 (as `torch.nn.GroupNorm(C, C)` in float32).

    Args:
        epsilon: float, added to the variance (PyTorch's default 1e-5).
        **kwargs: base layer arguments.
    """

    def __init__(self, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        channels = input_shape[-1]
        self.gamma = self.add_weight(name="gamma", shape=(channels,), initializer="ones")
        self.beta = self.add_weight(name="beta", shape=(channels,), initializer="zeros")
        self.built = True

    def call(self, x):
        x = ops.cast(x, "float32")
        mean = ops.mean(x, axis=1, keepdims=True)  # (B, 1, C)
        centered = x - mean
        variance = ops.mean(ops.square(centered), axis=1, keepdims=True)
        x = centered * ops.rsqrt(variance + self.epsilon)
        x = x * ops.cast(self.gamma, "float32") + ops.cast(self.beta, "float32")
        return ops.cast(x, self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="tfmodels")
class ConvFeatureEncoder(keras.layers.Layer):
    """Raw audio `(B, S)` -> features `(B, T, C)`: a stack of unpadded strided 1-D convolutions.

    Each layer is `activation(norm(conv(x)))`; `feat_extract_norm="group"`
    normalises the first layer only (`ChannelGroupNormalization`, wav2vec 2.0
    base), `"layer"` every layer with a LayerNorm over channels (large / XLSR).

    Args:
        conv_dim, conv_kernel, conv_stride: sequences of ints of one length, the
            channels, widths and strides of the layers.
        conv_bias: bool, convolution biases.
        feat_extract_norm: `"group"` or `"layer"`.
        feat_extract_activation: str, Hugging Face activation name.
        kernel_initializer: initializer of the convolution kernels.
        **kwargs: base layer arguments.

    Call args:
        input_values: float tensor `(B, S)`.

    Returns:
        float tensor `(B, T, conv_dim[-1])`, `T = conv_output_lengths(S, ...)`.

    Raises:
        ValueError: unknown `feat_extract_norm`, or the three sequences differ in length.
    """

    def __init__(self, conv_dim, conv_kernel, conv_stride, conv_bias=False, feat_extract_norm="group",
                 feat_extract_activation="gelu", kernel_initializer="he_normal", **kwargs):
        super().__init__(**kwargs)
        if feat_extract_norm not in FEATURE_NORMS:
            raise ValueError(f"feat_extract_norm must be one of {list(FEATURE_NORMS)}. "
                             f"Received: feat_extract_norm={feat_extract_norm!r}")
        if not len(conv_dim) == len(conv_kernel) == len(conv_stride):
            raise ValueError("conv_dim, conv_kernel and conv_stride must have one entry per layer. Received: "
                             f"conv_dim={list(conv_dim)}, conv_kernel={list(conv_kernel)}, "
                             f"conv_stride={list(conv_stride)}")
        self.conv_dim = [int(c) for c in conv_dim]
        self.conv_kernel = [int(k) for k in conv_kernel]
        self.conv_stride = [int(s) for s in conv_stride]
        self.conv_bias = conv_bias
        self.feat_extract_norm = feat_extract_norm
        self.feat_extract_activation = feat_extract_activation
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self._activation = get_activation(feat_extract_activation)
        self.conv_layers = [
            keras.layers.Conv1D(dim, kernel, strides=stride, use_bias=conv_bias, padding="valid",
                                kernel_initializer=self.kernel_initializer, dtype=self.dtype_policy, name=f"conv_{i}")
            for i, (dim, kernel, stride) in enumerate(zip(self.conv_dim, self.conv_kernel, self.conv_stride))
        ]
        if feat_extract_norm == "group":
            self.norm_layers = [ChannelGroupNormalization(dtype=self.dtype_policy, name="norm_0")]
        else:
            self.norm_layers = [LayerNormalization(epsilon=1e-5, dtype=self.dtype_policy, name=f"norm_{i}")
                                for i in range(len(self.conv_dim))]

    def build(self, input_shape):
        channels = 1
        for i, conv in enumerate(self.conv_layers):
            conv.build((None, None, channels))
            channels = self.conv_dim[i]
            if i < len(self.norm_layers):
                self.norm_layers[i].build((None, None, channels))
        self.built = True

    def call(self, input_values):
        x = input_values[:, :, None]  # (B, S, 1)
        for i, conv in enumerate(self.conv_layers):
            x = conv(x)  # (B, T_i, conv_dim[i])
            if i < len(self.norm_layers):
                x = self.norm_layers[i](x)
            x = self._activation(x)
        return x

    def output_lengths(self, lengths):
        """`conv_output_lengths` of this stack."""
        return conv_output_lengths(lengths, self.conv_kernel, self.conv_stride)

    def compute_output_shape(self, input_shape):
        samples = input_shape[1]
        frames = None if samples is None else self.output_lengths(samples)
        return (input_shape[0], frames, self.conv_dim[-1])

    def get_config(self):
        return {
            **super().get_config(), "conv_dim": self.conv_dim, "conv_kernel": self.conv_kernel,
            "conv_stride": self.conv_stride, "conv_bias": self.conv_bias, "feat_extract_norm": self.feat_extract_norm,
            "feat_extract_activation": self.feat_extract_activation,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


@keras.saving.register_keras_serializable(package="tfmodels")
class PositionalConvEmbedding(keras.layers.Layer):
    """Convolutional relative position embedding: `activation(conv(x))`, same length as `x`.

    The convolution is grouped (`num_groups`), zero-padded by `K // 2` on both
    sides (the extra last frame of an even `K` is dropped) and weight-normalised
    over everything but the kernel position::

        kernel[k] = weight_g[k] * weight_v[k] / ||weight_v[k]||   # norm over (in / G, out)

    Variables (Keras layout, channels last): `weight_v (K, D / G, D)`,
    `weight_g (K, 1, 1)`, `bias (D,)`.

    Args:
        hidden_size: int, `D` (input and output channels).
        kernel_size: int, `K` (`num_conv_pos_embeddings`).
        num_groups: int, `G` (`num_conv_pos_embedding_groups`), divides `D`.
        activation: str, Hugging Face activation name.
        **kwargs: base layer arguments.

    Call args:
        x: float tensor `(B, T, D)`.

    Returns:
        float tensor `(B, T, D)`, the position embeddings (added to `x` by the caller).

    Raises:
        ValueError: `num_groups` does not divide `hidden_size`.
    """

    def __init__(self, hidden_size, kernel_size=128, num_groups=16, activation="gelu", **kwargs):
        super().__init__(**kwargs)
        if hidden_size % num_groups:
            raise ValueError("num_conv_pos_embedding_groups must divide hidden_size. Received: "
                             f"hidden_size={hidden_size}, num_conv_pos_embedding_groups={num_groups}")
        self.hidden_size = hidden_size
        self.kernel_size = kernel_size
        self.num_groups = num_groups
        self.activation = activation
        self._activation = get_activation(activation)

    def build(self, input_shape):
        k, d, g = self.kernel_size, self.hidden_size, self.num_groups
        std = 2.0 * (1.0 / (k * d)) ** 0.5  # the reference's init of the unnormalised weight
        self.weight_v = self.add_weight(name="weight_v", shape=(k, d // g, d),
                                        initializer=keras.initializers.RandomNormal(stddev=std))
        self.weight_g = self.add_weight(name="weight_g", shape=(k, 1, 1), initializer="ones")
        self.bias = self.add_weight(name="bias", shape=(d,), initializer="zeros")
        self.built = True

    def kernel(self):
        """The weight-normalised kernel `(K, D / G, D)` in float32."""
        v = ops.cast(self.weight_v, "float32")
        norm = ops.sqrt(ops.sum(ops.square(v), axis=(1, 2), keepdims=True))  # (K, 1, 1)
        return v * (ops.cast(self.weight_g, "float32") / norm)

    def call(self, x):
        pad = self.kernel_size // 2
        padded = ops.pad(x, ((0, 0), (pad, pad), (0, 0)))  # (B, T + 2 * pad, D)
        kernel = ops.cast(self.kernel(), self.compute_dtype)
        out = ops.conv(padded, kernel, strides=1, padding="valid", data_format="channels_last")  # grouped by kernel
        out = out + ops.cast(self.bias, out.dtype)
        if self.kernel_size % 2 == 0:
            out = out[:, :-1]  # (B, T, D)
        return self._activation(out)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "hidden_size": self.hidden_size, "kernel_size": self.kernel_size,
                "num_groups": self.num_groups, "activation": self.activation}


@keras.saving.register_keras_serializable(package="tfmodels")
class Conv1dSubsampler(keras.layers.Layer):
    """Filter-bank frames `(B, T, F)` -> `(B, T', D)`: 1-D convolutions of stride 2, each followed by a GLU.

    Layer `i` is a `Conv1D` of width `kernel_sizes[i]`, stride 2, zero-padded by
    `kernel_sizes[i] // 2` on both sides (PyTorch's symmetric padding, not
    TensorFlow's "same"), with `conv_channels` outputs (the last layer
    `2 * out_channels`), then the gated linear unit over channels,
    `GLU([a, b]) = a * sigmoid(b)`, which halves them: the next layer reads
    `conv_channels // 2` channels. Variables: `conv_layers.{i}.kernel (k, in, out)`, `.bias (out,)`.

    Args:
        conv_channels: int, even, outputs of every layer but the last (`conv_channels`).
        out_channels: int, channels after the last GLU (`d_model`).
        kernel_sizes: sequence of ints, one per layer (`conv_kernel_sizes`).
        kernel_initializer: initializer of the kernels.
        **kwargs: base layer arguments.

    Call args:
        input_features: float tensor `(B, T, F)`.

    Returns:
        float tensor `(B, T', out_channels)`, `T' = output_lengths(T)` for odd kernel sizes.

    Raises:
        ValueError: odd `conv_channels` with more than one layer (the GLU halves them), no layers.

    References:
        Dauphin et al., "Language Modeling with Gated Convolutional Networks", 2017 (GLU);
        `transformers.models.speech_to_text.modeling_speech_to_text.Conv1dSubsampler`.
    """

    def __init__(self, conv_channels, out_channels, kernel_sizes, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.kernel_sizes = [int(k) for k in kernel_sizes]
        if not self.kernel_sizes:
            raise ValueError(f"Conv1dSubsampler needs at least one layer. Received: kernel_sizes={kernel_sizes}")
        if len(self.kernel_sizes) > 1 and conv_channels % 2:
            raise ValueError(f"conv_channels must be even (the GLU halves them). Received: conv_channels={conv_channels}")
        self.conv_channels = int(conv_channels)
        self.out_channels = int(out_channels)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        last = len(self.kernel_sizes) - 1
        self.conv_layers = [
            keras.layers.Conv1D(self.conv_channels if i < last else 2 * self.out_channels, k, strides=2,
                                padding="valid", kernel_initializer=self.kernel_initializer, dtype=self.dtype_policy,
                                name=f"conv_layers_{i}")
            for i, k in enumerate(self.kernel_sizes)
        ]

    def build(self, input_shape):
        channels = input_shape[-1]
        for conv in self.conv_layers:
            conv.build((None, None, channels))
            channels = conv.filters // 2
        self.built = True

    def call(self, input_features):
        x = input_features
        for kernel, conv in zip(self.kernel_sizes, self.conv_layers):
            x = conv(ops.pad(x, ((0, 0), (kernel // 2, kernel // 2), (0, 0))))  # (B, T_i, 2 * C_i)
            value, gate = ops.split(x, 2, axis=-1)
            x = value * ops.sigmoid(gate)  # GLU over channels: (B, T_i, C_i)
        return x

    def output_lengths(self, lengths):
        """`(n - 1) // 2 + 1` per layer: the reference's `_get_feat_extract_output_lengths` (the output length
        of each padded stride-2 convolution for odd kernel sizes; the reference uses it for even ones too)."""
        for _ in self.kernel_sizes:
            lengths = (lengths - 1) // 2 + 1
        return lengths

    def compute_output_shape(self, input_shape):
        frames = input_shape[1]
        if frames is not None:
            for kernel in self.kernel_sizes:
                frames = (frames + 2 * (kernel // 2) - kernel) // 2 + 1
        return (input_shape[0], frames, self.out_channels)

    def get_config(self):
        return {**super().get_config(), "conv_channels": self.conv_channels, "out_channels": self.out_channels,
                "kernel_sizes": self.kernel_sizes,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}
