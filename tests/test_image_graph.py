"""In-graph image preprocessing (`tfmodels.processors.image_graph`) and the image SavedModel signatures.

The in-graph resize is Pillow's algorithm in TensorFlow ops: on the real photographs of
tests/photographs.py it gives Pillow's pixels exactly, for every filter, downscaling and upscaling,
and the in-graph processor gives the arrays of transformers' ViT / DeiT / CLIP image processors
exactly (max |diff| 0.0 in `pixel_values` units), from uint8 pixels and from JPEG / PNG files
(TensorFlow's JPEG decoder with the accurate DCT gives Pillow's pixels on these files).

For comparison (measured on the four RGB photographs with the default 224x224 processors,
2026-12-01; not asserted): `tf.image.resize(..., antialias=True)` in place of the Pillow algorithm,
rounded to uint8, differs from the reference by up to 1 level (bilinear) and 4-5 levels (bicubic):
max |diff| in `pixel_values` 0.0078 (ViT), 0.031 (DeiT), 0.071 (CLIP), which moves the outputs of
the tiny random models of tests/test_real_photographs.py by 1.3e-4 (ViT logits), 2.3e-4 (DeiT
logits), 1.7e-3 (CLIP image_embeds of magnitude 3.2). The in-graph path here: 0.0 and 0.0.

The exported SavedModel is loaded in a fresh process that imports only TensorFlow.
"""

import io
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

PIL_Image = pytest.importorskip("PIL.Image", reason="the reference image processors need Pillow")
transformers = pytest.importorskip("transformers")

import tfmodels  # noqa: E402
from tests.photographs import RGB_PHOTOS, encoded, photo  # noqa: E402
from tests.tiny_models import TINY_CONFIGS  # noqa: E402
from tfmodels.processors import ImageProcessor, InGraphImageProcessor, resize_like_pillow  # noqa: E402

FILTERS = {"LANCZOS": 1, "BILINEAR": 2, "BICUBIC": 3, "BOX": 4, "HAMMING": 5}
REFERENCES = {"vit": "ViTImageProcessorPil", "deit": "DeiTImageProcessorPil", "clip": "CLIPImageProcessorPil"}


@pytest.mark.parametrize("resample", [name if name in ("BILINEAR", "BICUBIC") else
                                      pytest.param(name, marks=pytest.mark.slow) for name in sorted(FILTERS)])
def test_resize_equals_pillow_on_photographs(resample):
    for name in RGB_PHOTOS[:3]:
        pixels = photo(name)
        for height, width in ((224, 224), (37, 53), (700, 301)):  # down, down (odd), up and down
            expected = np.array(PIL_Image.fromarray(pixels).resize((width, height), resample=FILTERS[resample]))
            got = resize_like_pillow(tf.constant(pixels), height, width, FILTERS[resample]).numpy()
            np.testing.assert_array_equal(got, expected, err_msg=f"{name} -> {height}x{width} {resample}")


@pytest.mark.parametrize("kind", sorted(REFERENCES))
def test_in_graph_processor_equals_transformers_on_photographs(kind):
    """Default (224x224) processors; uint8 pixels and JPEG / PNG files, one photograph per call."""
    reference = getattr(transformers, REFERENCES[kind])()
    processor = InGraphImageProcessor(reference.to_dict())
    from_bytes = tf.function(processor.from_image_bytes)  # traced once (map_fn retraces in eager mode)
    names = RGB_PHOTOS + (("camera",) if kind == "clip" else ())  # grayscale: CLIP converts to RGB
    for name in names:
        pixels = photo(name)
        expected = reference(PIL_Image.fromarray(pixels), return_tensors="np")["pixel_values"]
        rgb = np.array(PIL_Image.fromarray(pixels).convert("RGB"))
        np.testing.assert_array_equal(processor(tf.constant(rgb[None])).numpy(), expected, err_msg=name)
        files = [encoded(pixels, "PNG"), encoded(pixels, "JPEG", quality=90)]
        expected = np.concatenate([reference(PIL_Image.open(io.BytesIO(data)),
                                             return_tensors="np")["pixel_values"] for data in files])
        np.testing.assert_array_equal(from_bytes(tf.constant(files)).numpy(), expected, err_msg=f"{name} PNG / JPEG")


def test_transparency_is_composited_onto_white_as_clip_does():
    reference = transformers.CLIPImageProcessorPil(size={"shortest_edge": 40}, crop_size={"height": 32, "width": 36})
    processor = InGraphImageProcessor(reference.to_dict())
    cat = photo("chelsea")
    alpha = np.random.RandomState(0).randint(0, 256, cat.shape[:2] + (1,)).astype(np.uint8)
    gray = photo("camera")
    files = [encoded(np.concatenate([cat, alpha], -1), "PNG"), encoded(np.stack([gray, gray.T], -1), "PNG")]
    expected = np.concatenate([reference(PIL_Image.open(io.BytesIO(data)), return_tensors="np")["pixel_values"]
                               for data in files])
    np.testing.assert_array_equal(processor.from_image_bytes(tf.constant(files)).numpy(), expected)


def test_center_crop_larger_than_the_image_pads_with_zeros():
    config = transformers.CLIPImageProcessorPil(size={"shortest_edge": 20}, crop_size={"height": 30, "width": 24})
    pixels = photo("coffee")[:50, :61]
    expected = ImageProcessor.from_dict(config.to_dict())(pixels)["pixel_values"]
    got = InGraphImageProcessor(config.to_dict())(tf.constant(pixels[None])).numpy()
    np.testing.assert_array_equal(got, expected)


def test_in_graph_processor_compiles_with_xla():
    """Fixed-size uint8 inputs compile (`jit_compile=True`) and give the same arrays."""
    reference = transformers.CLIPImageProcessorPil(size={"shortest_edge": 40}, crop_size={"height": 32, "width": 36})
    processor = InGraphImageProcessor(reference.to_dict())
    pixels = photo("chelsea")[:120, :90]
    compiled = tf.function(processor.__call__, jit_compile=True)(tf.constant(pixels[None])).numpy()
    expected = reference(pixels, return_tensors="np")["pixel_values"]
    np.testing.assert_array_equal(compiled, expected)


def test_errors():
    with pytest.raises(ValueError, match=r"resample filters .*Received: resample=0 \(NEAREST\)"):
        InGraphImageProcessor({"resample": 0})
    with pytest.raises(TypeError, match="takes uint8 pixels. Received: dtype float32"):
        InGraphImageProcessor({})(tf.zeros((1, 4, 4, 3)))
    processor = InGraphImageProcessor({"image_processor_type": "CLIPImageProcessor", "do_center_crop": False})
    with pytest.raises(ValueError, match="need a fixed output size"):
        processor.from_image_bytes(tf.constant([b""]))
    vit = tfmodels.ViTForImageClassification(**TINY_CONFIGS["vit"])
    with pytest.raises(ValueError, match=r"model's size 30x30.*Received: output size \(224, 224\)"):
        tfmodels.export_saved_model(vit, "unused", image_processor={})
    bert = tfmodels.BertModel(vocab_size=99, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                              intermediate_size=37)
    with pytest.raises(ValueError, match="need a model that takes pixel_values"):
        tfmodels.export_saved_model(bert, "unused", image_processor={"size": {"height": 30, "width": 30}})


# Loads a SavedModel and calls its signatures: argv[1] = {"directory", "calls": {key: (signature, {input: array})}}.
LOAD_AND_SERVE = r"""
import sys
import numpy as np, tensorflow as tf
request = np.load(sys.argv[1], allow_pickle=True).item()
signatures = tf.saved_model.load(request["directory"]).signatures
results = {"tfmodels_imported": "tfmodels" in sys.modules}
for key, (name, feed) in request["calls"].items():
    outputs = signatures[name](**{k: tf.constant(v) for k, v in feed.items()})
    results[key] = {k: v.numpy() for k, v in outputs.items()}
np.save(sys.argv[2], results, allow_pickle=True)
"""


def serve_in_fresh_process(directory, calls, tmp_path):
    """`{key: {output: np.ndarray}}` from the SavedModel at `directory`, in a process that imports only TF."""
    np.save(tmp_path / "request.npy", {"directory": str(directory), "calls": calls}, allow_pickle=True)
    run = subprocess.run([sys.executable, "-c", LOAD_AND_SERVE, str(tmp_path / "request.npy"),
                          str(tmp_path / "results.npy")], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert run.returncode == 0, run.stderr[-3000:]
    results = np.load(tmp_path / "results.npy", allow_pickle=True).item()
    assert results.pop("tfmodels_imported") is False
    return results


def photograph_batches():
    """Two 512x512 photographs as one uint8 batch; three files of three sizes (JPEG, PNG, grayscale PNG)."""
    same_size = np.stack([photo("astronaut"), np.repeat(photo("camera")[:, :, None], 3, axis=-1)])
    files = [encoded(photo("chelsea"), "JPEG", quality=85), encoded(photo("coffee"), "PNG"),
             encoded(photo("camera"), "PNG")]
    return same_size, np.array(files, dtype=object), [PIL_Image.open(io.BytesIO(data)) for data in files]


def test_saved_model_takes_raw_and_encoded_photographs_in_a_fresh_process(tmp_path):
    """An image classifier with a DeiT-style processor (bicubic resize, center crop)."""
    processor = transformers.DeiTImageProcessorPil(size={"height": 34, "width": 34},
                                                   crop_size={"height": 30, "width": 30})
    model = tfmodels.ViTForImageClassification(**TINY_CONFIGS["vit"], id2label={0: "cat", 1: "cup", 2: "person"})
    tfmodels.export_saved_model(model, tmp_path / "vit", image_processor=processor.to_dict())
    images, files, decoded = photograph_batches()
    served = serve_in_fresh_process(tmp_path / "vit", {
        "preprocess": ("preprocess_images", {"images": images}),
        "images": ("serve_images", {"images": images}),
        "bytes": ("serve_image_bytes", {"image_bytes": files}),
        "classify": ("classify_image_bytes", {"image_bytes": files}),
    }, tmp_path)
    pixel_values = processor(list(images), return_tensors="np")["pixel_values"]
    np.testing.assert_array_equal(served["preprocess"]["pixel_values"], pixel_values)
    expected = model({"pixel_values": pixel_values})["logits"].numpy()
    np.testing.assert_allclose(served["images"]["logits"], expected, atol=1e-5, rtol=0)
    pixel_values = processor([image.convert("RGB") for image in decoded], return_tensors="np")["pixel_values"]
    expected = model({"pixel_values": pixel_values})["logits"].numpy()
    np.testing.assert_allclose(served["bytes"]["logits"], expected, atol=1e-5, rtol=0)
    labels = [label.decode() for label in served["classify"]["label"]]
    assert labels == [model.config["id2label"][str(i)] for i in expected.argmax(-1)]


@pytest.mark.slow
def test_clip_saved_model_takes_encoded_photographs_and_token_ids(tmp_path):
    """CLIP: shortest-edge resize, crop, RGB conversion; the text inputs stay inputs of the image signatures."""
    processor = transformers.CLIPImageProcessorPil(size={"shortest_edge": 30}, crop_size={"height": 30, "width": 30})
    processor.save_pretrained(tmp_path / "checkpoint")
    model = tfmodels.CLIPModel(**TINY_CONFIGS["clip"])
    tfmodels.export_saved_model(model, tmp_path / "clip", image_processor=tmp_path / "checkpoint")
    images, files, decoded = photograph_batches()
    text = {"input_ids": np.array([[97, 5, 9, 98, 1], [97, 7, 98, 1, 1]], dtype="int32"),
            "attention_mask": (np.arange(5)[None] < np.array([[4], [3]])).astype("int32")}
    served = serve_in_fresh_process(tmp_path / "clip", {
        "preprocess": ("preprocess_images", {"images": images}),
        "bytes": ("serve_image_bytes", {"image_bytes": files, **text}),
    }, tmp_path)
    np.testing.assert_array_equal(served["preprocess"]["pixel_values"],
                                  processor(list(images), return_tensors="np")["pixel_values"])
    expected = model({"pixel_values": processor(decoded, return_tensors="np")["pixel_values"], **text})
    assert served["bytes"]["logits_per_image"].shape == (3, 2)
    np.testing.assert_allclose(served["bytes"]["logits_per_image"], expected["logits_per_image"].numpy(),
                               atol=1e-5, rtol=0)
