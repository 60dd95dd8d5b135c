"""Image preprocessing from `preprocessor_config.json`: resize, center crop, rescale, normalize.

The NumPy/Pillow path of the design (`DESIGN.md`, processors/): the same
arrays as the `transformers` image processors' Pillow backend
(`ViTImageProcessorPil`, `DeiTImageProcessorPil`, `CLIPImageProcessorPil`, what
`ViTImageProcessor` & co. fall back to without torchvision), step by step:

1. `do_convert_rgb`: RGB, transparency composited onto white.
2. `do_resize`: Pillow's `Image.resize` with `resample` to `size`
   (`{"height", "width"}`, or `{"shortest_edge"}`: the short side to that
   length, the long side `int(shortest_edge * long / short)`).
3. `do_center_crop`: the central `crop_size` window (zero-padded when the
   image is smaller).
4. `do_rescale`: `float64(pixels) * rescale_factor`, then float32.
5. `do_normalize`: `(x - image_mean) / image_std` per channel, in float32.

Images are decoded by Pillow (pass `PIL.Image.Image`s, or uint8 `(height,
width, channels)` arrays). The same steps in TensorFlow ops, for SavedModels
that take raw or encoded images, are `tfmodels.processors.image_graph`
(`InGraphImageProcessor`, Pillow's resampling rebuilt in TF ops: equal arrays).

References:
    `transformers.image_processing_backends.PilBackend` and
    `transformers.image_transforms` (the parity reference).
"""

import json
import math
import os

import numpy as np

PREPROCESSOR_CONFIG_NAME = "preprocessor_config.json"

IMAGENET_STANDARD_MEAN = (0.5, 0.5, 0.5)
IMAGENET_STANDARD_STD = (0.5, 0.5, 0.5)
OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
_BILINEAR, _BICUBIC = 2, 3  # PIL.Image.Resampling values, as stored in `resample`

# Class defaults of the Hugging Face image processors, for fields a config leaves out.
_DEFAULTS = {
    "ViTImageProcessor": dict(resample=_BILINEAR, size={"height": 224, "width": 224}, do_center_crop=False,
                              image_mean=IMAGENET_STANDARD_MEAN, image_std=IMAGENET_STANDARD_STD),
    "DeiTImageProcessor": dict(resample=_BICUBIC, size={"height": 256, "width": 256}, do_center_crop=True,
                               crop_size={"height": 224, "width": 224}, image_mean=IMAGENET_STANDARD_MEAN,
                               image_std=IMAGENET_STANDARD_STD),
    "CLIPImageProcessor": dict(resample=_BICUBIC, size={"shortest_edge": 224}, default_to_square=False,
                               do_center_crop=True, crop_size={"height": 224, "width": 224}, do_convert_rgb=True,
                               image_mean=OPENAI_CLIP_MEAN, image_std=OPENAI_CLIP_STD),
}


def read_preprocessor_config(directory, kind, class_name):
    """The dict in `directory/preprocessor_config.json` (or in the file `directory`).

    Raises:
        FileNotFoundError: no such file; the message names how to make one (`kind`, `class_name`).
    """
    path = os.path.join(directory, PREPROCESSOR_CONFIG_NAME) if os.path.isdir(directory) else directory
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No {PREPROCESSOR_CONFIG_NAME} at {directory}. Save one with the "
                                f"transformers {kind}'s save_pretrained(), or build {class_name}(...).")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _size_dict(size, default_to_square, name):
    """Hugging Face's `get_size_dict` for the forms found in configs (int, dict, `[h, w]`)."""
    if size is None:
        return None
    if isinstance(size, int):
        return {"height": size, "width": size} if default_to_square else {"shortest_edge": size}
    if isinstance(size, (list, tuple)) and len(size) == 2:
        return {"height": int(size[0]), "width": int(size[1])}
    if isinstance(size, dict) and ({"height", "width"} <= set(size) or "shortest_edge" in size):
        return dict(size)
    raise ValueError(f"{name} must be an int, [height, width], {{'height', 'width'}} or {{'shortest_edge'}}. "
                     f"Received: {name}={size!r}")


def _pil():
    try:
        import PIL.Image
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("tfmodels.processors.ImageProcessor needs Pillow: pip install pillow") from None
    return PIL.Image


class ImageProcessor:
    """Turns Pillow images into the `pixel_values` a vision model takes.

    Args (the `preprocessor_config.json` fields; defaults of the class named by
    `image_processor_type` fill the missing ones):
        do_resize, size, resample (a `PIL.Image.Resampling` value),
        do_center_crop, crop_size, do_rescale, rescale_factor, do_normalize,
        image_mean, image_std, do_convert_rgb, default_to_square,
        image_processor_type. Other fields are kept in `extra_config`.

    Call args:
        images: a `PIL.Image.Image`, a uint8 array `(height, width, channels)`,
            or a list of them.
        data_format: `"channels_first"` (default) or `"channels_last"`.

    Returns:
        `{"pixel_values": np.ndarray float32 (batch, channels, height, width)}`
        (channels last with `data_format="channels_last"`).

    Raises:
        ValueError: unsupported size forms, images of different output sizes,
            or an unknown `data_format`.
        TypeError: inputs that are neither Pillow images nor uint8 arrays.
        ImportError: Pillow is not installed.
    """

    def __init__(self, do_resize=True, size=None, resample=None, do_center_crop=None, crop_size=None,
                 do_rescale=True, rescale_factor=1 / 255, do_normalize=True, image_mean=None, image_std=None,
                 do_convert_rgb=None, default_to_square=None, image_processor_type=None, **extra_config):
        defaults = _DEFAULTS.get((image_processor_type or "ViTImageProcessor").removesuffix("Fast").removesuffix("Pil"),
                                 _DEFAULTS["ViTImageProcessor"])

        def pick(value, name, fallback=None):
            return value if value is not None else defaults.get(name, fallback)

        self.image_processor_type = image_processor_type
        self.default_to_square = pick(default_to_square, "default_to_square", True)
        self.do_resize = do_resize
        self.size = _size_dict(pick(size, "size"), self.default_to_square, "size")
        self.resample = int(pick(resample, "resample", _BILINEAR))
        self.do_center_crop = bool(pick(do_center_crop, "do_center_crop", False))
        self.crop_size = _size_dict(pick(crop_size, "crop_size"), True, "crop_size")
        self.do_rescale = do_rescale
        self.rescale_factor = rescale_factor
        self.do_normalize = do_normalize
        self.image_mean = tuple(pick(image_mean, "image_mean"))
        self.image_std = tuple(pick(image_std, "image_std"))
        self.do_convert_rgb = bool(pick(do_convert_rgb, "do_convert_rgb", False))
        self.extra_config = extra_config

    @classmethod
    def from_pretrained(cls, directory, **overrides):
        """Reads `preprocessor_config.json` from a local checkpoint directory (or the file itself).

        Raises:
            FileNotFoundError: no `preprocessor_config.json` there.
        """
        return cls.from_dict({**read_preprocessor_config(directory, "image processor", cls.__name__), **overrides})

    @classmethod
    def from_dict(cls, config):
        """Builds the processor from a `preprocessor_config.json` dict."""
        return cls(**config)

    def __call__(self, images, data_format="channels_first"):
        if data_format not in ("channels_first", "channels_last"):
            raise ValueError(f"data_format must be 'channels_first' or 'channels_last'. Received: {data_format!r}")
        single = not isinstance(images, (list, tuple))
        arrays = [self.preprocess(image) for image in ([images] if single else images)]
        shapes = {a.shape for a in arrays}
        if len(shapes) != 1:
            raise ValueError(f"Preprocessed images have different shapes {sorted(shapes)}; set a fixed size "
                             "(size={'height', 'width'} or do_center_crop) to batch them.")
        pixel_values = np.stack(arrays)  # (batch, channels, height, width)
        if data_format == "channels_last":
            pixel_values = np.ascontiguousarray(pixel_values.transpose(0, 2, 3, 1))
        return {"pixel_values": pixel_values}

    def preprocess(self, image):
        """One image -> float32 `(channels, height, width)` (or uint8 when neither rescaled nor normalised)."""
        pil = _pil()
        if self.do_convert_rgb:
            image = _to_rgb(image, pil)
        if isinstance(image, pil.Image):
            array = np.array(image)
        elif isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim in (2, 3):
            array = image
        else:
            raise TypeError("ImageProcessor takes PIL images or uint8 (height, width, channels) arrays. "
                            f"Received: {type(image).__name__}" + (f" of dtype {image.dtype}" if hasattr(image, "dtype")
                                                                  else ""))
        array = array[None] if array.ndim == 2 else np.moveaxis(array, -1, 0)  # (channels, height, width)
        if self.do_resize:
            array = self._resize(array, pil)
        if self.do_center_crop:
            array = _center_crop(array, self.crop_size["height"], self.crop_size["width"])
        if self.do_rescale:
            array = (array.astype(np.float64) * self.rescale_factor).astype(np.float32)
        if self.do_normalize:
            if not np.issubdtype(array.dtype, np.floating):
                array = array.astype(np.float32)
            mean = np.array(self.image_mean, dtype=array.dtype)
            std = np.array(self.image_std, dtype=array.dtype)
            array = ((array.T - mean) / std).T
        return array

    def output_size(self, height, width):
        """`(height, width)` after `do_resize`, Hugging Face's rule for each `size` form."""
        size = self.size
        if "shortest_edge" in size and not {"height", "width"} <= set(size):
            if "longest_edge" in size:
                raise ValueError(f"size with both shortest_edge and longest_edge is not supported. Received: {size}")
            short, long = (width, height) if width <= height else (height, width)
            new_short, new_long = size["shortest_edge"], int(size["shortest_edge"] * long / short)
            return (new_long, new_short) if width <= height else (new_short, new_long)
        return size["height"], size["width"]

    def _resize(self, array, pil):
        height, width = self.output_size(array.shape[1], array.shape[2])
        hwc = np.moveaxis(array, 0, -1)
        hwc = hwc[..., 0] if hwc.shape[-1] == 1 else hwc
        resized = np.array(pil.fromarray(hwc).resize((width, height), resample=self.resample))
        return resized[None] if resized.ndim == 2 else np.moveaxis(resized, -1, 0)

    def to_dict(self):
        """The `preprocessor_config.json` fields."""
        return {
            "image_processor_type": self.image_processor_type, "do_resize": self.do_resize, "size": self.size,
            "resample": self.resample, "do_center_crop": self.do_center_crop, "crop_size": self.crop_size,
            "do_rescale": self.do_rescale, "rescale_factor": self.rescale_factor, "do_normalize": self.do_normalize,
            "image_mean": list(self.image_mean), "image_std": list(self.image_std),
            "do_convert_rgb": self.do_convert_rgb, "default_to_square": self.default_to_square, **self.extra_config,
        }


def _to_rgb(image, pil):
    """RGB, with transparency composited onto white (as `transformers.image_transforms.convert_to_rgb`)."""
    if not isinstance(image, pil.Image):
        if isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[-1] == 3:
            return image
        image = pil.fromarray(image)
    if "A" in image.getbands() or image.info.get("transparency") is not None:
        image = image.convert("RGBA")
        background = pil.new("RGBA", image.size, (255, 255, 255, 255))
        return pil.alpha_composite(background, image).convert("RGB")
    return image.convert("RGB")


def _center_crop(array, crop_height, crop_width):
    """The central `(crop_height, crop_width)` window of `(channels, height, width)`, zero-padded if smaller."""
    height, width = array.shape[-2:]
    top, left = (height - crop_height) // 2, (width - crop_width) // 2
    if top >= 0 and left >= 0:
        return array[..., top:top + crop_height, left:left + crop_width]
    new_height, new_width = max(crop_height, height), max(crop_width, width)
    padded = np.zeros_like(array, shape=array.shape[:-2] + (new_height, new_width))
    top_pad, left_pad = math.ceil((new_height - height) / 2), math.ceil((new_width - width) / 2)
    padded[..., top_pad:top_pad + height, left_pad:left_pad + width] = array
    top, left = top + top_pad, left + left_pad
    bottom, right = top + crop_height, left + crop_width
    return padded[..., max(0, top):min(new_height, bottom), max(0, left):min(new_width, right)]
