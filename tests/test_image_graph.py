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


LOAD_AND_SERVE = r"""
import json, sys
import numpy as np, tensorflow as tf
inputs = np.load(sys.argv[1], allow_pickle=True).item()
results = {}
vit = tf.saved_model.load(sys.argv[2]).signatures
results["preprocess"] = vit["preprocess_images"](images=tf.constant(inputs["images"]))["pixel_values"].numpy()
results["vit_images"] = vit["serve_images"](images=tf.constant(inputs["images"]))["logits"].numpy()
results["vit_bytes"] = vit["serve_image_bytes"](image_bytes=tf.constant(inputs["files"]))["logits"].numpy()
classify = vit["classify_image_bytes"](image_bytes=tf.constant(inputs["files"]))
results["labels"] = [s.decode() for s in classify["label"].numpy()]
clip_signatures = tf.saved_model.load(sys.argv[3]).signatures
results["clip_preprocess"] = clip_signatures["preprocess_images"](images=tf.constant(inputs["images"]))
results["clip_preprocess"] = results["clip_preprocess"]["pixel_values"].numpy()
out = clip_signatures["serve_image_bytes"](image_bytes=tf.constant(inputs["files"]), input_ids=tf.constant(inputs["input_ids"]),
           attention_mask=tf.constant(inputs["attention_mask"]))
results["clip_logits_per_image"] = out["logits_per_image"].numpy()
results["tfmodels_imported"] = "tfmodels" in sys.modules
np.save(sys.argv[4], results, allow_pickle=True)
"""


def test_saved_models_take_raw_and_encoded_photographs_in_a_fresh_process(tmp_path):
    """ViT (DeiT-style resize + crop) and CLIP (shortest-edge resize, crop, RGB conversion) exports."""
    vit_processor = transformers.DeiTImageProcessorPil(size={"height": 34, "width": 34},
                                                       crop_size={"height": 30, "width": 30})
    clip_processor = transformers.CLIPImageProcessorPil(size={"shortest_edge": 30}, crop_size={"height": 30,
                                                                                               "width": 30})
    vit = tfmodels.ViTForImageClassification(**TINY_CONFIGS["vit"], id2label={0: "cat", 1: "cup", 2: "person"})
    clip = tfmodels.CLIPModel(**TINY_CONFIGS["clip"])
    tfmodels.export_saved_model(vit, tmp_path / "vit", image_processor=vit_processor.to_dict())
    clip_dir = tmp_path / "clip"
    clip_processor.save_pretrained(clip_dir / "checkpoint")
    tfmodels.export_saved_model(clip, clip_dir / "saved", image_processor=clip_dir / "checkpoint")

    same_size = np.stack([photo("astronaut"), np.repeat(photo("camera")[:, :, None], 3, axis=-1)])  # 512 x 512
    photos = [photo("chelsea"), photo("coffee"), photo("camera")]  # three sizes, one grayscale
    files = [encoded(photos[0], "JPEG", quality=85), encoded(photos[1], "PNG"), encoded(photos[2], "PNG")]
    ids = np.array([[97, 5, 9, 98, 1], [97, 7, 98, 1, 1]], dtype="int32")
    inputs = {"images": same_size, "files": np.array(files, dtype=object), "input_ids": ids,
              "attention_mask": (np.arange(5)[None] < np.array([[4], [3]])).astype("int32")}
    np.save(tmp_path / "inputs.npy", inputs, allow_pickle=True)
    run = subprocess.run([sys.executable, "-c", LOAD_AND_SERVE, str(tmp_path / "inputs.npy"), str(tmp_path / "vit"),
                          str(clip_dir / "saved"), str(tmp_path / "results.npy")],
                         capture_output=True, text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert run.returncode == 0, run.stderr[-3000:]
    served = np.load(tmp_path / "results.npy", allow_pickle=True).item()
    assert served["tfmodels_imported"] is False

    def reference_pixels(processor, images):
        return processor(images, return_tensors="np")["pixel_values"]

    decoded = [PIL_Image.open(io.BytesIO(data)) for data in files]
    pixel_values = reference_pixels(vit_processor, list(same_size))
    np.testing.assert_array_equal(served["preprocess"], pixel_values)
    expected = vit({"pixel_values": pixel_values})["logits"].numpy()
    np.testing.assert_allclose(served["vit_images"], expected, atol=1e-5, rtol=0)
    expected = vit({"pixel_values": reference_pixels(vit_processor, [image.convert("RGB") for image in decoded])})
    np.testing.assert_allclose(served["vit_bytes"], expected["logits"].numpy(), atol=1e-5, rtol=0)
    assert served["labels"] == [vit.config["id2label"][str(i)] for i in expected["logits"].numpy().argmax(-1)]
    np.testing.assert_array_equal(served["clip_preprocess"], reference_pixels(clip_processor, list(same_size)))
    expected = clip({"pixel_values": reference_pixels(clip_processor, decoded), "input_ids": inputs["input_ids"],
                     "attention_mask": inputs["attention_mask"]})["logits_per_image"].numpy()
    assert served["clip_logits_per_image"].shape == (3, 2)
    np.testing.assert_allclose(served["clip_logits_per_image"], expected, atol=1e-5, rtol=0)
