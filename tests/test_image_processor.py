"""`tfmodels.processors.ImageProcessor` gives the arrays of transformers' Pillow image processors."""

import numpy as np
import pytest

PIL_Image = pytest.importorskip("PIL.Image", reason="the image processors need Pillow (the `vision` extra)")
transformers = pytest.importorskip("transformers")

from tfmodels.processors import ImageProcessor  # noqa: E402


def images():
    """Generated images: RGB landscape, RGBA portrait (composited onto white by CLIP), grayscale small."""
    rng = np.random.RandomState(0)
    return [
        PIL_Image.fromarray(rng.randint(0, 256, (37, 53, 3), dtype=np.uint8)),
        PIL_Image.fromarray(rng.randint(0, 256, (61, 29, 4), dtype=np.uint8), "RGBA"),
        PIL_Image.fromarray(rng.randint(0, 256, (20, 20), dtype=np.uint8), "L"),
    ]


CASES = {
    "vit": ("ViTImageProcessorPil", dict(size={"height": 30, "width": 30}), [0]),
    "deit": ("DeiTImageProcessorPil", dict(size={"height": 34, "width": 34}, crop_size={"height": 30, "width": 30}),
             [0]),
    "clip": ("CLIPImageProcessorPil", dict(size={"shortest_edge": 32}, crop_size={"height": 30, "width": 30}),
             [0, 1, 2]),
    # A crop larger than the resized image: zero padding, as the reference.
    "clip-padded-crop": ("CLIPImageProcessorPil", dict(size={"shortest_edge": 20}, crop_size={"height": 30, "width": 24}),
                         [0, 1, 2]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_pixel_values_as_transformers(case, tmp_path):
    class_name, options, which = CASES[case]
    reference = getattr(transformers, class_name)(**options)
    reference.save_pretrained(tmp_path)
    ours = ImageProcessor.from_pretrained(tmp_path)
    for index in which:
        image = images()[index]
        expected = reference(image, return_tensors="np")["pixel_values"]
        got = ours(image)["pixel_values"]
        assert got.dtype == np.float32 and got.shape == expected.shape, (got.shape, expected.shape)
        np.testing.assert_array_equal(got, expected, err_msg=f"{case} image {index} ({image.mode})")


def test_batch_and_channels_last(tmp_path):
    transformers.CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 30, "width": 30}) \
        .save_pretrained(tmp_path)
    processor = ImageProcessor.from_pretrained(tmp_path)
    batch = processor(images())["pixel_values"]
    assert batch.shape == (3, 3, 30, 30)
    last = processor(images(), data_format="channels_last")["pixel_values"]
    np.testing.assert_array_equal(last, batch.transpose(0, 2, 3, 1))


def test_pixel_values_feed_the_model(tmp_path):
    import tfmodels
    from tests.helpers import hf_checkpoint
    from tests.tiny_models import TINY_CONFIGS

    path = hf_checkpoint("ViTModel", transformers.ViTConfig(**TINY_CONFIGS["vit"]), tmp_path)
    transformers.ViTImageProcessorPil(size={"height": 30, "width": 30}).save_pretrained(path)
    pixel_values = ImageProcessor.from_pretrained(path)(images()[:1])["pixel_values"]
    outputs = tfmodels.ViTModel.from_pretrained(path)(pixel_values=pixel_values)
    assert tuple(outputs["last_hidden_state"].shape) == (1, 26, 32)


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No preprocessor_config.json"):
        ImageProcessor.from_pretrained(tmp_path)
    with pytest.raises(TypeError, match="PIL images or uint8"):
        ImageProcessor()(np.zeros((4, 4, 3), dtype="float32"))
    with pytest.raises(ValueError, match="size must be"):
        ImageProcessor(size={"depth": 3})
