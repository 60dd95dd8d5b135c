"""Vision Transformer inputs: patch embedding, class (and distillation) tokens, learned positions.

Size glossary:
    B: batch size
    C: image channels (`num_channels`)
    P: patch size (`patch_size`), the convolution's kernel and stride
    D: hidden size
    S: special tokens in front of the patches (1: [CLS]; 2: [CLS] + DeiT's distillation token)
"""

import keras
from keras import ops

from tfmodels.layers.position.interpolation import interpolate_grid
from tfmodels.layers.utils import clone_initializer

_DATA_FORMATS = ("channels_first", "channels_last")


def _pair(value, name):
    if isinstance(value, int):
        return (value, value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return tuple(value)
    raise ValueError(f"{name} must be an int or a pair of ints. Received: {name}={value!r}")


def check_data_format(data_format):
    """Raises a clear error unless `data_format` is "channels_first" or "channels_last"."""
    if data_format not in _DATA_FORMATS:
        raise ValueError(f"data_format must be one of {_DATA_FORMATS}. Received: data_format={data_format!r}")
    return data_format


@keras.saving.register_keras_serializable(package="tfmodels")
class PatchEmbedding(keras.layers.Layer):
    """Cuts an image into non-overlapping `P x P` patches and projects each to `D` features.

    A `Conv2D` with kernel size = stride = `patch_size` and "valid" padding:
    rows and columns that do not fill a whole patch are dropped, as in
    PyTorch's `nn.Conv2d(kernel_size=P, stride=P)`. The convolution runs
    channels-last (what TensorFlow's CPU kernels support); channels-first
    inputs are transposed first.

    Args:
        hidden_size: int, output features `D`.
        patch_size: int or `(height, width)` pair.
        num_channels: int, image channels `C`.
        use_bias: bool, convolution bias (ViT: yes, CLIP: no).
        data_format: `"channels_first"` (`(B, C, H, W)`, Hugging Face's
            `pixel_values`) or `"channels_last"` (`(B, H, W, C)`).
        kernel_initializer: initializer of the convolution kernel.
        **kwargs: base layer arguments.

    Call args:
        pixel_values: float tensor `(B, C, H, W)` or `(B, H, W, C)`.

    Returns:
        float tensor `(B, (H // P) * (W // P), D)`, patches in row-major order.

    Raises:
        ValueError: for a channel count other than `num_channels`.

    References:
        Dosovitskiy et al., "An Image is Worth 16x16 Words", 2021. Parity
        reference: `transformers.models.vit.modeling_vit.ViTPatchEmbeddings`.
    """

    def __init__(self, hidden_size, patch_size, num_channels=3, use_bias=True, data_format="channels_first",
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.patch_size = _pair(patch_size, "patch_size")
        self.num_channels = num_channels
        self.use_bias = use_bias
        self.data_format = check_data_format(data_format)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.projection = keras.layers.Conv2D(
            hidden_size, self.patch_size, strides=self.patch_size, padding="valid", use_bias=use_bias,
            data_format="channels_last", kernel_initializer=clone_initializer(self.kernel_initializer),
            dtype=self.dtype_policy, name="projection",
        )

    def build(self, input_shape):
        self.projection.build((None, None, None, self.num_channels))
        self.built = True

    def to_channels_last(self, pixel_values):
        """`(B, C, H, W)` -> `(B, H, W, C)` for channels-first inputs; checks the channel count.

        Raises:
            ValueError: for a rank other than 4 or a channel count other than `num_channels`.
        """
        if len(pixel_values.shape) != 4:
            layout = "(batch, channels, height, width)" if self.data_format == "channels_first" else \
                "(batch, height, width, channels)"
            raise ValueError(f"pixel_values must have rank 4, {layout}. Received: shape {tuple(pixel_values.shape)}")
        if self.data_format == "channels_first":
            pixel_values = ops.transpose(pixel_values, (0, 2, 3, 1))
        channels = pixel_values.shape[-1]
        if channels is not None and channels != self.num_channels:
            raise ValueError(
                f"pixel_values has {channels} channels but the model takes num_channels={self.num_channels} "
                f"(data_format={self.data_format!r}). Received: shape {tuple(pixel_values.shape)}"
            )
        return pixel_values

    def call(self, pixel_values):
        x = self.projection(self.to_channels_last(pixel_values))  # (B, H // P, W // P, D)
        return ops.reshape(x, (ops.shape(x)[0], -1, self.hidden_size))  # (B, patches, D)

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_size": self.hidden_size,
            "patch_size": self.patch_size,
            "num_channels": self.num_channels,
            "use_bias": self.use_bias,
            "data_format": self.data_format,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


@keras.saving.register_keras_serializable(package="tfmodels")
class ImageEmbeddings(keras.layers.Layer):
    """`[CLS] (+ [DIST]) + patches`, plus learned absolute positions, then dropout.

    ViT: one class token; DeiT: a class and a distillation token
    (`distillation_token=True`); CLIP: one class token, no patch bias. With
    `use_mask_token=True` (SimMIM masked image modelling) the patches where
    `bool_masked_pos` is set are replaced by a learned mask token, as
    `patch * (1 - mask) + mask_token * mask`.

    The position table covers the `S` special tokens and a square grid of
    `(image_size // P)^2` patches. With `interpolate_pos_encoding=True` the
    patch part is resized bicubically to the input's grid
    (`tfmodels.layers.position.interpolation`, PyTorch's exact rule), so the
    model runs at other resolutions; otherwise the input must be
    `image_size x image_size`.

    Variables (Keras layout; the converters add the checkpoints' unit axes):
        class_token `(D,)`, distillation_embedding `(D,)` (DeiT), mask_token `(D,)`
        (with `use_mask_token`), position_embeddings `(S + patches, D)`, and
        the `patch_embedding` convolution.

    Args:
        hidden_size: int, `D`.
        image_size: int or `(height, width)`, the training resolution.
        patch_size: int, `P`.
        num_channels: int, `C`.
        distillation_token: bool, add DeiT's distillation token after [CLS].
        use_mask_token: bool, create the mask token (`bool_masked_pos` input).
        patch_bias: bool, bias in the patch convolution.
        dropout: float, dropout on the output.
        data_format: layout of `pixel_values`, see `PatchEmbedding`.
        initializer_range: std of the normal initializer of the tokens and positions.
        **kwargs: base layer arguments.

    Call args:
        pixel_values: float tensor `(B, C, H, W)` (or `(B, H, W, C)`), static `H`, `W`.
        bool_masked_pos: optional bool/0-1 tensor `(B, patches)`.
        interpolate_pos_encoding: bool.
        training: bool, enables dropout.

    Returns:
        float tensor `(B, S + patches, D)`.

    Raises:
        ValueError: an image size other than `image_size` without
            `interpolate_pos_encoding`, unknown (dynamic) height/width with it,
            `bool_masked_pos` without a mask token, or a bad channel count.

    References:
        Dosovitskiy et al., 2021 (ViT); Touvron et al., "Training
        data-efficient image transformers & distillation through attention",
        2021 (DeiT); Radford et al., "Learning Transferable Visual Models From
        Natural Language Supervision", 2021 (CLIP). Parity reference:
        `ViTEmbeddings`, `DeiTEmbeddings`, `CLIPVisionEmbeddings` in `transformers`.
    """

    def __init__(self, hidden_size, image_size, patch_size, num_channels=3, distillation_token=False,
                 use_mask_token=False, patch_bias=True, dropout=0.0, data_format="channels_first",
                 initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.image_size = _pair(image_size, "image_size")
        self.patch_size = patch_size
        if not isinstance(patch_size, int):
            raise ValueError(f"patch_size must be an int (square patches). Received: patch_size={patch_size!r}")
        self.num_channels = num_channels
        self.distillation_token = distillation_token
        self.use_mask_token = use_mask_token
        self.patch_bias = patch_bias
        self.dropout = dropout
        self.data_format = check_data_format(data_format)
        self.initializer_range = initializer_range
        self.num_special_tokens = 2 if distillation_token else 1
        self.grid_size = (self.image_size[0] // patch_size, self.image_size[1] // patch_size)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.patch_embedding = PatchEmbedding(
            hidden_size, patch_size, num_channels=num_channels, use_bias=patch_bias, data_format=data_format,
            kernel_initializer=keras.initializers.RandomNormal(stddev=initializer_range),
            dtype=self.dtype_policy, name="patch_embedding",
        )
        self.dropout_layer = keras.layers.Dropout(dropout, dtype=self.dtype_policy)

    def build(self, input_shape):
        init = keras.initializers.RandomNormal(stddev=self.initializer_range)
        self.class_token = self.add_weight(name="class_token", shape=(self.hidden_size,), initializer=init)
        self.distillation_embedding = None
        if self.distillation_token:
            self.distillation_embedding = self.add_weight(name="distillation_token", shape=(self.hidden_size,),
                                                initializer=clone_initializer(init))
        self.mask_token = None
        if self.use_mask_token:
            self.mask_token = self.add_weight(name="mask_token", shape=(self.hidden_size,), initializer="zeros")
        self.position_embeddings = self.add_weight(
            name="position_embeddings", shape=(self.num_special_tokens + self.num_patches, self.hidden_size),
            initializer=clone_initializer(init),
        )
        self.patch_embedding.build(input_shape)
        self.built = True

    def _image_size(self, pixel_values):
        shape = pixel_values.shape
        return (shape[2], shape[3]) if self.data_format == "channels_first" else (shape[1], shape[2])

    def positions(self, height, width, interpolate_pos_encoding=False):
        """The `(S + patches, D)` position table for an image of `height x width` pixels.

        Raises:
            ValueError: see the class docstring.
        """
        if not interpolate_pos_encoding:
            if (height, width) != self.image_size:
                raise ValueError(
                    f"Input image size ({height}*{width}) doesn't match the model's image_size "
                    f"({self.image_size[0]}*{self.image_size[1]}). Resize the images (e.g. with "
                    "tfmodels.processors.ImageProcessor), or pass interpolate_pos_encoding=True to "
                    "resize the position embeddings."
                )
            return self.position_embeddings
        if height is None or width is None:
            raise ValueError("interpolate_pos_encoding=True needs static image height and width. "
                             f"Received: height={height}, width={width}")
        special = self.position_embeddings[: self.num_special_tokens]
        grid_side = int(round(self.num_patches ** 0.5))
        if grid_side * grid_side != self.num_patches:
            raise ValueError(f"interpolate_pos_encoding needs a square position grid. Received: "
                             f"{self.num_patches} patch positions (image_size={self.image_size})")
        grid = ops.reshape(self.position_embeddings[self.num_special_tokens:],
                           (grid_side, grid_side, self.hidden_size))
        grid = interpolate_grid(grid, height // self.patch_size, width // self.patch_size)
        grid = ops.cast(ops.reshape(grid, (-1, self.hidden_size)), special.dtype)
        return ops.concatenate([special, grid], axis=0)

    def call(self, pixel_values, bool_masked_pos=None, interpolate_pos_encoding=False, training=None):
        height, width = self._image_size(pixel_values)
        positions = self.positions(height, width, interpolate_pos_encoding)
        x = self.patch_embedding(pixel_values)  # (B, patches, D)
        batch = ops.shape(x)[0]
        if bool_masked_pos is not None:
            if self.mask_token is None:
                raise ValueError("bool_masked_pos needs a mask token: build the model with use_mask_token=True "
                                 "(ViTForMaskedImageModeling does).")
            mask = ops.cast(bool_masked_pos, x.dtype)[:, :, None]  # (B, patches, 1)
            x = x * (1.0 - mask) + ops.cast(self.mask_token, x.dtype) * mask
        tokens = [self.class_token] + ([self.distillation_embedding] if self.distillation_token else [])
        tokens = ops.concatenate([ops.reshape(t, (1, 1, self.hidden_size)) for t in tokens], axis=1)  # (1, S, D)
        tokens = ops.cast(tokens, x.dtype)
        x = ops.concatenate([ops.broadcast_to(tokens, (batch, self.num_special_tokens, self.hidden_size)), x], axis=1)
        x = x + ops.cast(positions, x.dtype)[None]
        return self.dropout_layer(x, training=training)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_special_tokens + self.num_patches, self.hidden_size)

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_size": self.hidden_size,
            "image_size": self.image_size,
            "patch_size": self.patch_size,
            "num_channels": self.num_channels,
            "distillation_token": self.distillation_token,
            "use_mask_token": self.use_mask_token,
            "patch_bias": self.patch_bias,
            "dropout": self.dropout,
            "data_format": self.data_format,
            "initializer_range": self.initializer_range,
        }
