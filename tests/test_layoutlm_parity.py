"""Every LayoutLM class against `transformers` PyTorch, with padding, token types and boxes."""

import numpy as np
import pytest
import transformers

import tfmodels
from tests.helpers import assert_parity, assert_save_round_trip, hf_checkpoint, random_inputs

CLASSES = [
    "LayoutLMModel",
    "LayoutLMForSequenceClassification",
    "LayoutLMForTokenClassification",
    "LayoutLMForQuestionAnswering",
    "LayoutLMForMaskedLM",
]


def tiny_config(**overrides):
    fields = dict(
        vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=64, type_vocab_size=3, max_2d_position_embeddings=50, num_labels=3,
    )
    fields.update(overrides)
    return transformers.LayoutLMConfig(**fields)


def layout_inputs(seed=0):
    inputs = random_inputs(type_vocab_size=3, seed=seed)
    rng = np.random.RandomState(seed + 7)
    corners = rng.randint(0, 25, (*inputs["input_ids"].shape, 2, 2))  # (batch, seq, corner, xy)
    top_left, size = corners[..., 0, :], corners[..., 1, :]
    inputs["bbox"] = np.concatenate([top_left, top_left + size], axis=-1).astype("int64")  # x0, y0, x1, y1
    return inputs


@pytest.mark.parametrize("class_name", CLASSES)
def test_layoutlm_parity(class_name, tmp_path):
    num_labels = 2 if class_name == "LayoutLMForQuestionAnswering" else 3
    path = hf_checkpoint(class_name, tiny_config(num_labels=num_labels), tmp_path)
    diffs = assert_parity(class_name, path, layout_inputs())
    print(class_name, diffs)


def test_layoutlm_without_bbox(tmp_path):
    path = hf_checkpoint("LayoutLMModel", tiny_config(), tmp_path)
    inputs = layout_inputs()
    del inputs["bbox"]
    assert_parity("LayoutLMModel", path, inputs)


def test_layoutlm_save_round_trip(tmp_path):
    path = hf_checkpoint("LayoutLMForTokenClassification", tiny_config(), tmp_path / "hf")
    diffs = assert_save_round_trip("LayoutLMForTokenClassification", path, layout_inputs(1), tmp_path / "ours")
    print(diffs)


def test_auto_classes_pick_layoutlm(tmp_path):
    path = hf_checkpoint("LayoutLMForMaskedLM", tiny_config(), tmp_path)
    assert type(tfmodels.AutoModel.from_pretrained(path)) is tfmodels.LayoutLMModel
    expected = {
        "sequence-classification": tfmodels.LayoutLMForSequenceClassification,
        "token-classification": tfmodels.LayoutLMForTokenClassification,
        "question-answering": tfmodels.LayoutLMForQuestionAnswering,
        "masked-lm": tfmodels.LayoutLMForMaskedLM,
    }
    for task, cls in expected.items():
        assert tfmodels.auto.MODEL_REGISTRIES[task]["layoutlm"] is cls
    assert type(tfmodels.AutoModelForMaskedLM.from_pretrained(path)) is tfmodels.LayoutLMForMaskedLM
