"""MPNet classes against `transformers` PyTorch on tiny random configs."""

import numpy as np
import pytest
import transformers

import tfmodels
from tests.helpers import assert_parity, compare_outputs, hf_checkpoint, random_inputs, torch_outputs

CLASSES = [
    "MPNetModel",
    "MPNetForSequenceClassification",
    "MPNetForTokenClassification",
    "MPNetForQuestionAnswering",
    "MPNetForMaskedLM",
]


def tiny_config(class_name="MPNetModel", **overrides):
    fields = dict(
        vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=160, hidden_act="gelu", num_labels=2 if class_name.endswith("Answering") else 3,
    )
    fields.update(overrides)
    return transformers.MPNetConfig(**fields)


def mpnet_inputs(**kwargs):
    """Random inputs whose padded positions hold MPNet's padding id 1."""
    inputs = random_inputs(**kwargs)
    inputs["input_ids"][inputs["attention_mask"] == 0] = 1
    return inputs


@pytest.mark.parametrize("class_name", CLASSES)
def test_mpnet_parity(class_name, tmp_path):
    path = hf_checkpoint(class_name, tiny_config(class_name), tmp_path)
    print(class_name, assert_parity(class_name, path, mpnet_inputs()))


def test_mpnet_long_distances_parity(tmp_path):
    """Sequences longer than max_distance=128 reach the last (logarithmic) buckets."""
    path = hf_checkpoint("MPNetModel", tiny_config(num_hidden_layers=1), tmp_path)
    print(assert_parity("MPNetModel", path, mpnet_inputs(batch_size=2, seq_len=140, pad_lengths=(100,))))


def test_mpnet_multiple_choice_parity(tmp_path):
    path = hf_checkpoint("MPNetForMultipleChoice", tiny_config(), tmp_path)
    flat = mpnet_inputs(batch_size=4, pad_lengths=(5, 2, 7))
    assert_parity("MPNetForMultipleChoice", path, {k: v.reshape(2, 2, -1) for k, v in flat.items()})


@pytest.mark.parametrize("class_name", ["MPNetForSequenceClassification", "MPNetForMaskedLM"])
def test_mpnet_save_pretrained_round_trip(class_name, tmp_path):
    path = hf_checkpoint(class_name, tiny_config(class_name), tmp_path / "hf")
    model = getattr(tfmodels, class_name).from_pretrained(path)
    model.save_pretrained(tmp_path / "ours")
    inputs = mpnet_inputs()
    ours = {k: np.asarray(v) for k, v in model(inputs, training=False).items()}
    compare_outputs(ours, torch_outputs(class_name, str(tmp_path / "ours"), inputs))
    again = getattr(tfmodels, class_name).from_pretrained(tmp_path / "ours")
    np.testing.assert_array_equal(again(inputs)["logits"].numpy(), ours["logits"])


def test_mpnet_base_checkpoint_into_sequence_classifier(tmp_path, caplog):
    path = hf_checkpoint("MPNetModel", tiny_config(), tmp_path)
    with caplog.at_level("WARNING", logger="tfmodels"):
        model = tfmodels.MPNetForSequenceClassification.from_pretrained(path, num_labels=4)
    assert "classifier.out_proj.weight" in caplog.text
    assert model(mpnet_inputs())["logits"].shape == (3, 4)


def test_auto_classes_pick_mpnet(tmp_path):
    path = hf_checkpoint("MPNetForQuestionAnswering", tiny_config("MPNetForQuestionAnswering"), tmp_path)
    assert type(tfmodels.AutoModelForQuestionAnswering.from_pretrained(path)) is tfmodels.MPNetForQuestionAnswering
