"""Image classification and zero-shot image classification pipelines (`transformers` output formats).

Reference: `transformers.pipelines.image_classification` and
`zero_shot_image_classification` (v5.24), whose parameters and results these
follow. Images are read with Pillow (`transformers.image_utils.load_image`
does the same: EXIF orientation applied); `pixel_values` come from the
checkpoint's `preprocessor_config.json` through
`tfmodels.processors.ImageProcessor`, which gives the reference processors'
arrays.
"""

import base64
import io
import os

import numpy as np

from tfmodels.pipelines.base import Pipeline, softmax
from tfmodels.pipelines.text import classification_scores, function_to_apply_name, label_of, model_config
from tfmodels.pipelines.zero_shot import check_hypothesis_template, parse_labels


def load_image(image, timeout=None):
    """A Pillow image from a `PIL.Image.Image`, a file path, an `http(s)://` URL or a base64 string.

    Args:
        image: the image or where to read it.
        timeout: seconds to wait for a URL (`None`: no limit).

    Returns:
        `PIL.Image.Image`, EXIF orientation applied.

    Raises:
        ValueError: a string that is no file, URL or base64 image.
        TypeError: another kind of input.
    """
    from PIL import Image, ImageOps

    if isinstance(image, str):
        if image.startswith(("http://", "https://")):
            import httpx

            image = Image.open(io.BytesIO(httpx.get(image, timeout=timeout, follow_redirects=True).content))
        elif os.path.isfile(image):
            image = Image.open(image)
        else:
            data = image.split(",", 1)[1] if image.startswith("data:image/") else image
            try:
                image = Image.open(io.BytesIO(base64.b64decode(data, validate=True)))
            except Exception as e:
                raise ValueError(f"Incorrect image source: {image[:80]!r} is not an http(s) URL, an existing file or "
                                 f"a base64 image ({e}).") from None
    elif isinstance(image, np.ndarray):
        return image
    elif not isinstance(image, Image.Image):
        raise TypeError(f"An image must be a PIL image, a uint8 array (height, width, channels), a path, an "
                        f"http(s) URL or a base64 string. Received: {type(image).__name__}")
    return ImageOps.exif_transpose(image)


class _ImagePipeline(Pipeline):
    uses_image_processor = True

    def __init__(self, model, tokenizer=None, image_processor=None, **kwargs):
        if image_processor is None:
            raise ValueError(f"{type(self).__name__} needs image_processor= (e.g. "
                             "tfmodels.processors.ImageProcessor.from_pretrained(checkpoint_directory)).")
        super().__init__(model, tokenizer, image_processor=image_processor, **kwargs)

    def __call__(self, inputs=None, **kwargs):
        if "images" in kwargs:
            inputs = kwargs.pop("images")
        if inputs is None:
            raise ValueError(f"Cannot call the {self.task} pipeline without images (inputs= or images=).")
        return super().__call__(inputs, **kwargs)

    def pixel_chunk(self, image, timeout):
        pixel_values = self.image_processor(load_image(image, timeout=timeout))["pixel_values"]
        return {"pixel_values": np.asarray(pixel_values[0], dtype=np.float32)}


class ImageClassificationPipeline(_ImagePipeline):
    """`image-classification` with a `*ForImageClassification` model (ViT, DeiT, ...).

    Call with an image (Pillow image, uint8 `(height, width, channels)` array,
    path, URL or base64 string) or a list of them. Parameters: `top_k`
    (default 5, at most the number of labels), `function_to_apply`
    (`"default"`: softmax, or sigmoid for one label or
    `multi_label_classification`, none for `regression`; `"sigmoid"`,
    `"softmax"`, `"none"`), `timeout` (seconds, for URLs).

    Returns:
        per image a list of `{"label": str, "score": float}`, best first.

    Raises:
        ValueError: unknown `function_to_apply`, no images, unreadable image sources.
    """

    default_task = "image-classification"
    uses_tokenizer = False

    def _sanitize_parameters(self, top_k=None, function_to_apply=None, timeout=None):
        pre, post = {}, {}
        if timeout is not None:
            pre["timeout"] = timeout
        if top_k is not None:
            post["top_k"] = top_k
        if function_to_apply is not None:
            post["function_to_apply"] = function_to_apply_name(function_to_apply)
        return pre, {}, post

    def preprocess(self, image, timeout=None):
        return [self.pixel_chunk(image, timeout)]

    def postprocess(self, chunk_outputs, function_to_apply=None, top_k=5):
        config = model_config(self.model)
        scores, num_labels = classification_scores(config, chunk_outputs[0]["logits"], function_to_apply)
        results = [{"label": label_of(config, i), "score": s.item()} for i, s in enumerate(scores)]
        results.sort(key=lambda x: x["score"], reverse=True)
        return results[:min(top_k, num_labels)] if top_k is not None else results


class ZeroShotImageClassificationPipeline(_ImagePipeline):
    """`zero-shot-image-classification` with a dual encoder (`CLIPModel`).

    Each image is scored against `hypothesis_template.format(label)` for every
    candidate label; the texts are tokenized once per call (`padding=True`)
    and shared by the batch of images.

    Call with an image (as `image-classification` takes them) or a list, and
    `candidate_labels` (a list, or a comma-separated string). Parameters:
    `hypothesis_template` (default `"This is a photo of {}."`),
    `tokenizer_kwargs` (dict), `timeout`.

    Returns:
        per image a list of `{"score": float, "label": str}`, best first
        (softmax of `logits_per_image` over the labels).

    Raises:
        ValueError: no candidate labels, a template without `{}`.
    """

    default_task = "zero-shot-image-classification"

    def _sanitize_parameters(self, candidate_labels=None, hypothesis_template=None, tokenizer_kwargs=None,
                             timeout=None):
        pre, forward = {}, {}
        if timeout is not None:
            pre["timeout"] = timeout
        if candidate_labels is not None:
            forward["candidate_labels"] = parse_labels(candidate_labels)
        if hypothesis_template is not None:
            forward["hypothesis_template"] = hypothesis_template
        if tokenizer_kwargs is not None:
            forward["tokenizer_kwargs"] = dict(tokenizer_kwargs)
        return pre, forward, {}

    def preprocess(self, image, timeout=None):
        return [self.pixel_chunk(image, timeout)]

    def _forward(self, batch, candidate_labels=None, hypothesis_template="This is a photo of {}.",
                 tokenizer_kwargs=None):
        if not candidate_labels:
            raise ValueError("zero-shot-image-classification needs candidate_labels (a list, or a comma-separated "
                             "string).")
        check_hypothesis_template(hypothesis_template, candidate_labels)
        texts = [hypothesis_template.format(label) for label in candidate_labels]
        text_inputs = self.tokenize(texts, **{"padding": True, **(tokenizer_kwargs or {})})
        outputs = self.model_outputs({**{k: np.asarray(v) for k, v in text_inputs.items()}, **batch})
        return {"logits_per_image": outputs["logits_per_image"],
                "candidate_labels": np.array([candidate_labels] * len(outputs["logits_per_image"]), dtype=object)}

    def postprocess(self, chunk_outputs):
        labels = list(chunk_outputs[0]["candidate_labels"])
        scores = softmax(chunk_outputs[0]["logits_per_image"].astype(np.float32)).tolist()
        return [{"score": score, "label": label} for score, label in sorted(zip(scores, labels), key=lambda x: -x[0])]
