"""Real photographs end to end: our processor = transformers' processor (equal arrays), then tiny ViT /
DeiT / CLIP models = their PyTorch references (every output, <= 1e-5), and CLIP zero-shot scoring of
real photographs against real captions.

Photographs (tests/photographs.py, shipped inside scikit-image): astronaut, chelsea (a cat), coffee,
rocket, and the grayscale camera (CLIP converts it to RGB). The models are tiny and random (224x224
inputs in 32x32 patches, hidden 32-40), so the zero-shot "predictions" are parity checks, not
recognition: the test compares our scores with PyTorch's, not with the right captions.

The CLIP tokenizer is transformers' `CLIPTokenizer` (its pre-tokenizer, lower-casing, `</w>`
word ends, special tokens) over a small byte-pair vocabulary built here from the captions (no
checkpoint ships with the test environment).
"""

import json

import numpy as np
import pytest

PIL_Image = pytest.importorskip("PIL.Image", reason="the image processors need Pillow")
transformers = pytest.importorskip("transformers")

import tfmodels  # noqa: E402
from tests.helpers import _to_numpy, compare_outputs, hf_checkpoint, torch_outputs  # noqa: E402
from tests.photographs import CAPTIONS, GRAY_PHOTOS, RGB_PHOTOS, photo  # noqa: E402
from tests.tiny_models import TINY_CONFIGS  # noqa: E402
from tfmodels.processors import ImageProcessor  # noqa: E402

VISION = {**TINY_CONFIGS["vit"], "image_size": 224, "patch_size": 32, "encoder_stride": 32, "num_labels": 4}
CLIP_VISION = {**TINY_CONFIGS["clip_vision_model"], "image_size": 224, "patch_size": 32}
PROCESSORS = {"vit": "ViTImageProcessorPil", "deit": "DeiTImageProcessorPil", "clip": "CLIPImageProcessorPil"}
MODELS = {
    "ViTForImageClassification": ("vit", lambda: transformers.ViTConfig(**VISION)),
    "DeiTForImageClassificationWithTeacher": ("deit", lambda: transformers.DeiTConfig(**VISION)),
    "CLIPVisionModelWithProjection": ("clip", lambda: transformers.CLIPVisionConfig(**CLIP_VISION)),
}


def photographs(kind):
    """PIL images; the grayscale one only for CLIP (ViT and DeiT processors keep one channel)."""
    names = RGB_PHOTOS + (GRAY_PHOTOS if kind == "clip" else ())
    return [PIL_Image.fromarray(photo(name)) for name in names]


@pytest.mark.parametrize("kind", sorted(PROCESSORS))
def test_processor_equals_transformers_on_photographs(kind, tmp_path):
    reference = getattr(transformers, PROCESSORS[kind])()  # the released defaults (224 x 224)
    reference.save_pretrained(tmp_path)
    ours = ImageProcessor.from_pretrained(tmp_path)
    images = photographs(kind)
    expected = reference(images, return_tensors="np")["pixel_values"]
    got = ours(images)["pixel_values"]
    assert got.shape == expected.shape == (len(images), 3, 224, 224)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("class_name", sorted(MODELS))
def test_photographs_through_tiny_models_equal_pytorch(class_name, tmp_path):
    kind, config = MODELS[class_name]
    path = hf_checkpoint(class_name, config(), tmp_path)
    getattr(transformers, PROCESSORS[kind])().save_pretrained(path)
    pixel_values = ImageProcessor.from_pretrained(path)(photographs(kind))["pixel_values"]
    inputs = {"pixel_values": pixel_values}
    call = dict(output_hidden_states=True, output_attentions=True)
    reference = torch_outputs(class_name, path, inputs, **call)
    model = getattr(tfmodels, class_name).from_pretrained(path)
    diffs = compare_outputs(_to_numpy(model(inputs, training=False, **call)), reference)
    print(class_name, "max |diff|", max(diffs.values()), diffs)  # shown with `pytest -s`


def caption_tokenizer(directory):
    """A `transformers.CLIPTokenizer` whose byte-pair merges spell each caption word (saved to `directory`)."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    alphabet = list(bytes_to_unicode().values())
    vocab = {token: i for i, token in enumerate(alphabet + [c + "</w>" for c in alphabet])}
    merges = []
    for word in sorted({w for caption in CAPTIONS.values() for w in caption.split()}):
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        while len(pieces) > 1:  # merge left to right: (a, b) -> ab, (ab, c) -> abc, ...
            pair = (pieces[0], pieces[1])
            if " ".join(pair) not in merges:
                merges.append(" ".join(pair))
                vocab.setdefault("".join(pair), len(vocab))
            pieces = ["".join(pair)] + pieces[2:]
    for special in ("<|startoftext|>", "<|endoftext|>"):
        vocab[special] = len(vocab)
    (directory / "vocab.json").write_text(json.dumps(vocab))
    (directory / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    return transformers.CLIPTokenizer(vocab=str(directory / "vocab.json"), merges=str(directory / "merges.txt"))


def test_clip_zero_shot_on_photographs_and_captions(tmp_path):
    tokenizer = caption_tokenizer(tmp_path)
    captions = list(CAPTIONS.values())
    text = tokenizer(captions, padding=True, return_tensors="np")
    ids = text["input_ids"]
    assert ids[0, 0] == tokenizer.bos_token_id and len(set(map(tuple, ids))) == len(captions)
    assert tokenizer.convert_ids_to_tokens(ids[1][: int(text["attention_mask"][1].sum())]) == \
        ["<|startoftext|>", "a</w>", "photo</w>", "of</w>", "a</w>", "cat</w>", "<|endoftext|>"]
    text_config = {**TINY_CONFIGS["clip_text_model"], "vocab_size": len(tokenizer),
                   "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
                   "pad_token_id": tokenizer.pad_token_id}
    config = transformers.CLIPConfig(text_config=text_config, vision_config=CLIP_VISION, projection_dim=24)
    path = hf_checkpoint("CLIPModel", config, tmp_path / "clip")
    transformers.CLIPImageProcessorPil().save_pretrained(path)
    images = photographs("clip")[: len(RGB_PHOTOS)]
    inputs = {"input_ids": ids, "attention_mask": text["attention_mask"],
              **ImageProcessor.from_pretrained(path)(images)}
    reference = torch_outputs("CLIPModel", path, inputs)
    ours = _to_numpy(tfmodels.CLIPModel.from_pretrained(path)(inputs, training=False))
    diffs = compare_outputs(ours, reference)
    assert {"logits_per_image", "logits_per_text", "image_embeds", "text_embeds"} <= set(diffs)
    print("CLIPModel zero-shot max |diff|", diffs)  # shown with `pytest -s`
    probabilities = np.exp(ours["logits_per_image"]) / np.exp(ours["logits_per_image"]).sum(-1, keepdims=True)
    reference_probabilities = np.exp(reference["logits_per_image"])
    reference_probabilities /= reference_probabilities.sum(-1, keepdims=True)
    assert probabilities.shape == (len(images), len(captions))
    np.testing.assert_allclose(probabilities, reference_probabilities, atol=1e-5, rtol=0)
    np.testing.assert_array_equal(probabilities.argmax(-1), reference_probabilities.argmax(-1))
