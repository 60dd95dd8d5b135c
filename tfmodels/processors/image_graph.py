"""Image preprocessing in TensorFlow ops, for SavedModels that take raw images.

`InGraphImageProcessor` runs the steps of `tfmodels.processors.ImageProcessor`
(the same `preprocessor_config.json` fields) with TensorFlow ops, so a
SavedModel can take uint8 pixels or encoded JPEG/PNG/GIF/BMP files and TF
Serving clients send images, not `pixel_values`:

    images uint8 (batch, height, width, 3)  -> pixel_values float32 (batch, 3, crop_height, crop_width)
    image_bytes string (batch,)             -> the same, each file decoded and resized on its own

The resize is not `tf.image.resize`: `resize_like_pillow` is Pillow's
resampling algorithm (`Image.resize`, the filters of `libImaging/Resample.c`:
support scaled by the downscale factor, coefficients normalised in float64,
quantised to 22-bit fixed point, a horizontal then a vertical pass each
rounded to uint8) written in TensorFlow ops, so the pixels equal Pillow's, and
`pixel_values` equal the reference processors' arrays. `tf.image.resize`
(`antialias=True`) uses the same kernels but keeps float intermediates and
does not round between the passes; on real photographs that differs from
Pillow by up to 1 (bilinear) and 5 (bicubic) uint8 levels, up to 0.07 in
`pixel_values` (tests/test_image_graph.py states the figures). Rescale and
normalise repeat the NumPy path's float64/float32 arithmetic.

Decoding (`decode_image`) is TensorFlow's (`tf.io.decode_image`, first frame
of a GIF); JPEG files are decoded with the accurate integer DCT
(`dct_method="INTEGER_ACCURATE"`), which is what Pillow uses, but TensorFlow's
and Pillow's libjpeg builds may still differ by a level in a few pixels
(measured in the tests). EXIF orientation is not applied, as Pillow's
`Image.open` does not either. Grayscale becomes RGB by copying the channel,
an alpha channel is composited onto white (`do_convert_rgb`, CLIP) or dropped
(Pillow's `convert("RGB")`).

References:
    Pillow `src/libImaging/Resample.c` (`precompute_coeffs`,
    `ImagingResampleHorizontal_8bpc`) and `AlphaComposite.c`;
    `transformers.image_processing_backends.PilBackend` (the parity reference).
"""

import math

import numpy as np
import tensorflow as tf

from tfmodels.processors.image import ImageProcessor

_PRECISION_BITS = 22  # Pillow's fixed point: 32 - 8 - 2
NEAREST, LANCZOS, BILINEAR, BICUBIC, BOX, HAMMING = 0, 1, 2, 3, 4, 5  # PIL.Image.Resampling
_RESAMPLE_NAMES = {LANCZOS: "LANCZOS", BILINEAR: "BILINEAR", BICUBIC: "BICUBIC", BOX: "BOX", HAMMING: "HAMMING"}


def _box(x):
    return tf.where((x > -0.5) & (x <= 0.5), tf.ones_like(x), tf.zeros_like(x))


def _bilinear(x):
    x = tf.abs(x)
    return tf.where(x < 1.0, 1.0 - x, tf.zeros_like(x))


def _bicubic(x):
    a = -0.5
    x = tf.abs(x)
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1
    far = (((x - 5) * x + 8) * x - 4) * a
    return tf.where(x < 1.0, near, tf.where(x < 2.0, far, tf.zeros_like(x)))


def _sinc(x):
    safe = tf.where(tf.equal(x, 0.0), tf.ones_like(x), x) * math.pi
    return tf.where(tf.equal(x, 0.0), tf.ones_like(x), tf.sin(safe) / safe)


def _hamming(x):
    x = tf.abs(x)
    safe = tf.where(tf.equal(x, 0.0), tf.ones_like(x), x) * math.pi
    # Pillow's constants are C floats (0.54f, 0.46f), widened to double.
    window = tf.sin(safe) / safe * (float(np.float32(0.54)) + float(np.float32(0.46)) * tf.cos(safe))
    return tf.where(tf.equal(x, 0.0), tf.ones_like(x), tf.where(x >= 1.0, tf.zeros_like(x), window))


def _lanczos(x):
    return tf.where((x >= -3.0) & (x < 3.0), _sinc(x) * _sinc(x / 3), tf.zeros_like(x))


# resample -> (filter, support), as Pillow's filter table.
_FILTERS = {BOX: (_box, 0.5), BILINEAR: (_bilinear, 1.0), HAMMING: (_hamming, 1.0), BICUBIC: (_bicubic, 2.0),
            LANCZOS: (_lanczos, 3.0)}


def _check_resample(resample):
    if resample not in _FILTERS:
        supported = ", ".join(f"{value} ({name})" for value, name in sorted(_RESAMPLE_NAMES.items()))
        raise ValueError(f"In-graph resizing supports the resample filters {supported}. Received: "
                         f"resample={resample!r}" + (" (NEAREST)" if resample == NEAREST else ""))


def _coefficients(in_size, out_size, resample):
    """Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for one axis.

    Returns:
        `(first, weights)`: int32 `(out_size,)` first source index and int32
        `(out_size, ksize)` fixed-point weights (zero past each window).
    """
    filter_fn, filter_support = _FILTERS[resample]
    scale = tf.cast(in_size, tf.float64) / tf.cast(out_size, tf.float64)
    filterscale = tf.maximum(scale, 1.0)
    support = filter_support * filterscale
    ksize = tf.cast(tf.math.ceil(support), tf.int32) * 2 + 1
    center = (tf.cast(tf.range(out_size), tf.float64) + 0.5) * scale  # (out,)
    ss = 1.0 / filterscale
    first = tf.maximum(tf.cast(center - support + 0.5, tf.int32), 0)  # C casts truncate toward zero
    last = tf.minimum(tf.cast(center + support + 0.5, tf.int32), in_size)
    offsets = tf.range(ksize)
    valid = offsets[None, :] < (last - first)[:, None]  # (out, ksize)
    source = tf.cast(offsets[None, :] + first[:, None], tf.float64)
    weights = tf.where(valid, filter_fn((source - center[:, None] + 0.5) * ss), tf.zeros([], tf.float64))
    # The window sum in C's order (left to right), so the normalised weights agree to the last bit.
    total = tf.foldl(lambda acc, column: acc + column, tf.transpose(weights),
                     initializer=tf.zeros([out_size], tf.float64))
    weights = tf.where(tf.not_equal(total, 0.0)[:, None], weights / total[:, None], weights)
    fixed = weights * float(1 << _PRECISION_BITS)
    fixed = tf.where(weights < 0, fixed - 0.5, fixed + 0.5)
    return first, tf.cast(fixed, tf.int32)  # truncation toward zero, as C's (int)


def _resample_axis(pixels, out_size, axis, resample):
    """One Pillow pass along `axis` of int32 pixels in [0, 255]; returns int32 in [0, 255]."""
    in_size = tf.shape(pixels)[axis]
    first, weights = _coefficients(in_size, out_size, resample)
    ksize = tf.shape(weights)[1]
    rank = len(pixels.shape)
    broadcast = [1] * rank
    broadcast[axis] = -1  # weights of one tap, broadcast along the other axes

    def tap(k, acc):
        index = tf.minimum(first + k, in_size - 1)  # past the window the weight is 0
        return k + 1, acc + tf.gather(pixels, index, axis=axis) * tf.reshape(weights[:, k], broadcast)

    out_shape = tf.tensor_scatter_nd_update(tf.shape(pixels), [[axis]], [out_size])
    acc = tf.fill(out_shape, tf.constant(1 << (_PRECISION_BITS - 1), tf.int32))
    _, acc = tf.while_loop(lambda k, _: k < ksize, tap, (tf.constant(0), acc))
    return tf.clip_by_value(tf.bitwise.right_shift(acc, _PRECISION_BITS), 0, 255)  # Pillow's clip8


def resize_like_pillow(images, height, width, resample=BICUBIC):
    """Resizes uint8 images as Pillow's `Image.resize((width, height), resample)` does, in TensorFlow ops.

    Args:
        images: uint8 tensor `(..., in_height, in_width, channels)` (any
            leading batch dimensions; sizes may be dynamic).
        height: int or int32 scalar tensor, the output height.
        width: int or int32 scalar tensor, the output width.
        resample: `PIL.Image.Resampling` value: 1 (LANCZOS), 2 (BILINEAR),
            3 (BICUBIC), 4 (BOX) or 5 (HAMMING).

    Returns:
        uint8 tensor `(..., height, width, channels)`, equal to Pillow's
        result (BILINEAR, BICUBIC and BOX use only arithmetic, bit for bit
        as Pillow's C code; LANCZOS and HAMMING evaluate `sin`/`cos`, whose
        last bit may differ from the C library's).

    Raises:
        ValueError: for NEAREST (0) or an unknown `resample`.
    """
    _check_resample(resample)
    pixels = tf.cast(images, tf.int32)
    rank = len(pixels.shape)
    pixels = _resample_axis(pixels, width, rank - 2, resample)  # Pillow: horizontal pass first
    pixels = _resample_axis(pixels, height, rank - 3, resample)
    static = [height if isinstance(height, int) else None, width if isinstance(width, int) else None]
    pixels = tf.ensure_shape(pixels, images.shape[:-3] + static + images.shape[-1:])  # keep the known sizes
    return tf.cast(pixels, tf.uint8)


def center_crop(images, crop_height, crop_width):
    """The central `(crop_height, crop_width)` window of `(..., height, width, channels)` images,
    zero-padded where they are smaller (`transformers.image_transforms.center_crop`)."""
    shape = tf.shape(images)
    rank = len(images.shape)
    height, width = shape[rank - 3], shape[rank - 2]
    new_height, new_width = tf.maximum(height, crop_height), tf.maximum(width, crop_width)
    top_pad, left_pad = (new_height - height + 1) // 2, (new_width - width + 1) // 2  # ceil(x / 2)
    padding = [[0, 0]] * (rank - 3) + [[top_pad, new_height - height - top_pad],
                                       [left_pad, new_width - width - left_pad], [0, 0]]
    padded = tf.pad(images, padding)
    top = (height - crop_height) // 2 + top_pad
    left = (width - crop_width) // 2 + left_pad
    begin = [0] * (rank - 3) + [tf.maximum(top, 0), tf.maximum(left, 0), 0]
    size = [-1] * (rank - 3) + [crop_height, crop_width, -1]
    return tf.slice(padded, tf.stack(begin), tf.stack(size))


def composite_on_white(rgba):
    """RGBA uint8 `(..., 4)` -> RGB over an opaque white background, Pillow's integer `alpha_composite`."""
    pixels = tf.cast(rgba, tf.int32)
    rgb, alpha = pixels[..., :3], pixels[..., 3:]
    # With an opaque destination Pillow's coefficients are exact: coef1 = 128 * a, coef2 = 128 * (255 - a).
    mixed = 128 * (rgb * alpha + 255 * (255 - alpha)) + (0x80 << 7)
    out = tf.bitwise.right_shift(tf.bitwise.right_shift(mixed, 8) + mixed, 8)  # SHIFTFORDIV255
    return tf.cast(tf.bitwise.right_shift(out, 7), tf.uint8)


def to_rgb(image, composite_alpha=True):
    """uint8 `(height, width, 1|2|3|4)` -> `(height, width, 3)`: gray copied to the three channels,
    alpha composited onto white (`composite_alpha`) or dropped."""
    channels = tf.shape(image)[-1]
    gray = tf.tile(image[..., :1], [1, 1, 3])
    color = tf.cond(channels >= 3, lambda: image[..., :3], lambda: gray)
    if not composite_alpha:
        return tf.ensure_shape(color, [None, None, 3])
    with_alpha = tf.concat([color, image[..., -1:]], axis=-1)
    has_alpha = tf.equal(channels % 2, 0)  # LA or RGBA
    return tf.ensure_shape(tf.cond(has_alpha, lambda: composite_on_white(with_alpha), lambda: color),
                           [None, None, 3])


def decode_image(contents, composite_alpha=True):
    """An encoded JPEG/PNG/GIF/BMP file (scalar string) -> uint8 RGB `(height, width, 3)`.

    JPEGs use the accurate integer DCT (as Pillow); GIFs give their first frame.
    """
    def jpeg():
        return tf.io.decode_jpeg(contents, channels=3, dct_method="INTEGER_ACCURATE")

    def other():
        return to_rgb(tf.io.decode_image(contents, dtype=tf.uint8, expand_animations=False), composite_alpha)

    return tf.ensure_shape(tf.cond(tf.io.is_jpeg(contents), jpeg, other), [None, None, 3])


class InGraphImageProcessor(tf.Module):
    """`ImageProcessor`'s resize / center crop / rescale / normalize in TensorFlow ops.

    Args:
        processor: an `ImageProcessor`, a `preprocessor_config.json` dict, or
            a checkpoint directory (or the file) holding one.
        data_format: `"channels_first"` (default, `pixel_values (batch, 3,
            height, width)`) or `"channels_last"`.

    Call:
        images: uint8 tensor `(batch, height, width, 3)` (one size per call).

    Returns:
        float32 `pixel_values (batch, 3, out_height, out_width)` (channels
        last with `data_format="channels_last"`), equal to
        `ImageProcessor(...)(images)["pixel_values"]`.

    `from_image_bytes(strings)` decodes a string tensor `(batch,)` of encoded
    files of any sizes (`decode_image`) and preprocesses each.

    Raises:
        ValueError: a `resample` Pillow filter other than BILINEAR, BICUBIC,
            LANCZOS, BOX, HAMMING; an unknown `data_format`.
    """

    def __init__(self, processor, data_format="channels_first", name=None):
        super().__init__(name=name)
        if data_format not in ("channels_first", "channels_last"):
            raise ValueError(f"data_format must be 'channels_first' or 'channels_last'. Received: {data_format!r}")
        if isinstance(processor, dict):
            processor = ImageProcessor.from_dict(processor)
        elif not isinstance(processor, ImageProcessor):
            processor = ImageProcessor.from_pretrained(processor)
        if processor.do_resize:
            _check_resample(processor.resample)
        self.processor = processor
        self.data_format = data_format
        # Variables, not constants: graph optimisers turn a division by a constant into a
        # multiplication by its reciprocal, which is not the NumPy path's float32 division.
        self.image_mean = tf.Variable(processor.image_mean, dtype=tf.float32, trainable=False, name="image_mean")
        self.image_std = tf.Variable(processor.image_std, dtype=tf.float32, trainable=False, name="image_std")

    def output_size(self):
        """`(height, width)` of every output, or `None` when it depends on the input's aspect ratio."""
        p = self.processor
        if p.do_center_crop:
            return p.crop_size["height"], p.crop_size["width"]
        if p.do_resize and {"height", "width"} <= set(p.size):
            return p.size["height"], p.size["width"]
        return None

    def _resized_size(self, height, width):
        """`ImageProcessor.output_size` with tensors: `int(shortest_edge * long / short)` in float64."""
        size = self.processor.size
        if {"height", "width"} <= set(size):
            return size["height"], size["width"]
        if "longest_edge" in size:
            raise ValueError(f"size with both shortest_edge and longest_edge is not supported. Received: {size}")
        short, long = tf.minimum(height, width), tf.maximum(height, width)
        edge = size["shortest_edge"]
        new_long = tf.cast(edge * tf.cast(long, tf.float64) / tf.cast(short, tf.float64), tf.int32)
        portrait = width <= height
        return tf.where(portrait, new_long, edge), tf.where(portrait, edge, new_long)

    def preprocess(self, images):
        """uint8 `(..., height, width, 3)` -> float32 `(..., out_height, out_width, 3)` (channels last)."""
        p = self.processor
        images = tf.convert_to_tensor(images)
        if images.dtype != tf.uint8:
            raise TypeError(f"InGraphImageProcessor takes uint8 pixels. Received: dtype {images.dtype.name}")
        if p.do_resize:
            shape = tf.shape(images)
            rank = len(images.shape)
            height, width = self._resized_size(shape[rank - 3], shape[rank - 2])
            images = resize_like_pillow(images, height, width, p.resample)
        if p.do_center_crop:
            images = center_crop(images, p.crop_size["height"], p.crop_size["width"])
        x = tf.cast(images, tf.float64)
        if p.do_rescale:
            x = x * float(p.rescale_factor)
        x = tf.cast(x, tf.float32)
        if p.do_normalize:
            x = (x - self.image_mean) / self.image_std
        return x

    def _layout(self, pixel_values):
        if self.data_format == "channels_first":
            return tf.transpose(pixel_values, [0, 3, 1, 2])
        return pixel_values

    def __call__(self, images):
        return self._layout(self.preprocess(images))

    def from_image_bytes(self, image_bytes):
        """string `(batch,)` of encoded images -> float32 `pixel_values` (needs a fixed `output_size()`).

        Raises:
            ValueError: the processor's output size depends on the image (no
                center crop, `size={"shortest_edge"}`), so images cannot be batched.
        """
        size = self.output_size()
        if size is None:
            raise ValueError("Encoded images of different sizes need a fixed output size to be batched: a "
                             "processor with do_center_crop or size={'height', 'width'}. Received: "
                             f"size={self.processor.size}, do_center_crop={self.processor.do_center_crop}")
        composite = self.processor.do_convert_rgb
        spec = tf.TensorSpec([size[0], size[1], 3], tf.float32)
        pixels = tf.map_fn(lambda contents: self.preprocess(decode_image(contents, composite)), image_bytes,
                           fn_output_signature=spec)
        return self._layout(pixels)
