"""ConvBERT classes against `transformers` PyTorch on tiny random configs."""

import numpy as np
import pytest
import transformers

import tfmodels
from tests.helpers import (
    assert_parity,
    assert_save_round_trip,
    choice_inputs,
    compare_outputs,
    hf_checkpoint,
    random_inputs,
    torch_outputs,
)

CLASSES = [
    "ConvBertModel",
    "ConvBertForSequenceClassification",
    "ConvBertForTokenClassification",
    "ConvBertForQuestionAnswering",
    "ConvBertForMaskedLM",
]


def tiny_config(class_name="ConvBertModel", **overrides):
    fields = dict(
        vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=36,
        max_position_embeddings=64, type_vocab_size=3, hidden_act="gelu", embedding_size=24, conv_kernel_size=3,
        num_labels=2 if class_name.endswith("Answering") else 3,
    )
    fields.update(overrides)
    return transformers.ConvBertConfig(**fields)


@pytest.mark.parametrize("class_name", CLASSES)
def test_convbert_parity(class_name, tmp_path):
    path = hf_checkpoint(class_name, tiny_config(class_name), tmp_path)
    print(class_name, assert_parity(class_name, path, random_inputs(type_vocab_size=3)))


@pytest.mark.parametrize("overrides", [dict(num_groups=2, conv_kernel_size=5), dict(head_ratio=8, embedding_size=32)],
                         ids=["grouped_k5", "head_ratio_clamped"])
def test_convbert_options_parity(overrides, tmp_path):
    path = hf_checkpoint("ConvBertModel", tiny_config(**overrides), tmp_path)
    print(overrides, assert_parity("ConvBertModel", path, random_inputs(type_vocab_size=3)))


def test_convbert_save_pretrained_round_trip(tmp_path):
    class_name = "ConvBertForSequenceClassification"
    path = hf_checkpoint(class_name, tiny_config(class_name, num_groups=2), tmp_path / "hf")
    model = tfmodels.ConvBertForSequenceClassification.from_pretrained(path)
    model.save_pretrained(tmp_path / "ours")
    inputs = random_inputs(type_vocab_size=3)
    ours = {k: np.asarray(v) for k, v in model(inputs, training=False).items()}
    compare_outputs(ours, torch_outputs(class_name, str(tmp_path / "ours"), inputs))
    again = tfmodels.ConvBertForSequenceClassification.from_pretrained(tmp_path / "ours")
    np.testing.assert_array_equal(again(inputs)["logits"].numpy(), ours["logits"])


def test_auto_classes_pick_convbert(tmp_path):
    path = hf_checkpoint("ConvBertForMaskedLM", tiny_config("ConvBertForMaskedLM"), tmp_path)
    assert type(tfmodels.AutoModelForMaskedLM.from_pretrained(path)) is tfmodels.ConvBertForMaskedLM


@pytest.mark.parametrize("summary", [{}, dict(summary_type="first", summary_use_proj=True,
                                                summary_proj_to_labels=False, summary_activation="tanh")],
                         ids=["default_last_token", "first_proj_tanh"])
def test_convbert_multiple_choice_parity(summary, tmp_path):
    class_name = "ConvBertForMultipleChoice"
    path = hf_checkpoint(class_name, tiny_config(class_name, **summary), tmp_path)
    print(class_name, summary, assert_parity(class_name, path, choice_inputs()))


def test_convbert_multiple_choice_save_pretrained_round_trip(tmp_path):
    class_name = "ConvBertForMultipleChoice"
    path = hf_checkpoint(class_name, tiny_config(class_name, num_groups=2), tmp_path / "hf")
    inputs = choice_inputs()
    print(assert_save_round_trip(class_name, path, inputs, tmp_path / "ours"))
    again = tfmodels.ConvBertForMultipleChoice.from_pretrained(tmp_path / "ours")
    ours = tfmodels.ConvBertForMultipleChoice.from_pretrained(path)(inputs)["logits"].numpy()
    np.testing.assert_array_equal(again(inputs)["logits"].numpy(), ours)
    assert type(tfmodels.AutoModelForMultipleChoice.from_pretrained(path)) is tfmodels.ConvBertForMultipleChoice
