"""RoFormer classes against `transformers` PyTorch on tiny random configs."""

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
    "RoFormerModel",
    "RoFormerForSequenceClassification",
    "RoFormerForTokenClassification",
    "RoFormerForQuestionAnswering",
    "RoFormerForMaskedLM",
]


def tiny_config(class_name="RoFormerModel", **overrides):
    fields = dict(
        vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=64, type_vocab_size=3, hidden_act="gelu",
        num_labels=2 if class_name.endswith("QuestionAnswering") else 3,
    )
    fields.update(overrides)
    return transformers.RoFormerConfig(**fields)


@pytest.mark.parametrize("class_name", CLASSES)
def test_roformer_parity(class_name, tmp_path):
    path = hf_checkpoint(class_name, tiny_config(class_name, embedding_size=24), tmp_path)
    print(class_name, assert_parity(class_name, path, random_inputs(type_vocab_size=3)))


@pytest.mark.parametrize("class_name", ["RoFormerModel", "RoFormerForMaskedLM"])
def test_roformer_rotary_value_parity(class_name, tmp_path):
    path = hf_checkpoint(class_name, tiny_config(class_name, rotary_value=True), tmp_path)
    print(class_name, assert_parity(class_name, path, random_inputs(seq_len=40, type_vocab_size=3,
                                                                     pad_lengths=(30, 3))))


def test_roformer_save_pretrained_round_trip(tmp_path):
    class_name = "RoFormerForSequenceClassification"
    path = hf_checkpoint(class_name, tiny_config(class_name, rotary_value=True, embedding_size=24), tmp_path / "hf")
    model = tfmodels.RoFormerForSequenceClassification.from_pretrained(path)
    model.save_pretrained(tmp_path / "ours")
    inputs = random_inputs(type_vocab_size=3)
    ours = {k: np.asarray(v) for k, v in model(inputs, training=False).items()}
    compare_outputs(ours, torch_outputs(class_name, str(tmp_path / "ours"), inputs))
    again = tfmodels.RoFormerForSequenceClassification.from_pretrained(tmp_path / "ours")
    np.testing.assert_array_equal(again(inputs)["logits"].numpy(), ours["logits"])


def test_roformer_too_long_sequence_is_refused(tmp_path):
    model = tfmodels.RoFormerModel.from_config(tiny_config(max_position_embeddings=8).to_dict())
    with pytest.raises(ValueError,
                       match=r"RoFormerModel accepts at most 8 tokens per sequence \(its position table has 8 rows\)"):
        model(random_inputs(seq_len=9))


def test_auto_classes_pick_roformer(tmp_path):
    path = hf_checkpoint("RoFormerForMaskedLM", tiny_config("RoFormerForMaskedLM"), tmp_path)
    assert type(tfmodels.AutoModelForMaskedLM.from_pretrained(path)) is tfmodels.RoFormerForMaskedLM


@pytest.mark.parametrize("summary", [{}, dict(summary_type="first", summary_use_proj=True,
                                                summary_proj_to_labels=False, summary_activation="tanh")],
                         ids=["default_last_token", "first_proj_tanh"])
def test_roformer_multiple_choice_parity(summary, tmp_path):
    class_name = "RoFormerForMultipleChoice"
    path = hf_checkpoint(class_name, tiny_config(class_name, **summary), tmp_path)
    print(class_name, summary, assert_parity(class_name, path, choice_inputs()))


def test_roformer_multiple_choice_save_pretrained_round_trip(tmp_path):
    class_name = "RoFormerForMultipleChoice"
    path = hf_checkpoint(class_name, tiny_config(class_name, embedding_size=24), tmp_path / "hf")
    inputs = choice_inputs()
    print(assert_save_round_trip(class_name, path, inputs, tmp_path / "ours"))
    again = tfmodels.RoFormerForMultipleChoice.from_pretrained(tmp_path / "ours")
    ours = tfmodels.RoFormerForMultipleChoice.from_pretrained(path)(inputs)["logits"].numpy()
    np.testing.assert_array_equal(again(inputs)["logits"].numpy(), ours)
    assert type(tfmodels.AutoModelForMultipleChoice.from_pretrained(path)) is tfmodels.RoFormerForMultipleChoice
