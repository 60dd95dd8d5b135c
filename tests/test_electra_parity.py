"""ELECTRA against `transformers` PyTorch on tiny random configs."""

import numpy as np
import pytest
import transformers

import tfmodels
from tests.helpers import assert_parity, assert_save_round_trip, hf_checkpoint, random_inputs

CLASSES = ["ElectraModel", "ElectraForSequenceClassification", "ElectraForTokenClassification",
           "ElectraForQuestionAnswering", "ElectraForMaskedLM", "ElectraForPreTraining"]


def tiny_config(**overrides):
    fields = dict(
        vocab_size=99, embedding_size=24, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=37, max_position_embeddings=64, type_vocab_size=3, hidden_act="gelu", num_labels=3,
    )
    fields.update(overrides)
    return transformers.ElectraConfig(**fields)


@pytest.mark.parametrize("class_name", CLASSES)
def test_parity(class_name, tmp_path):
    num_labels = 2 if class_name == "ElectraForQuestionAnswering" else 3
    path = hf_checkpoint(class_name, tiny_config(num_labels=num_labels), tmp_path)
    print(class_name, assert_parity(class_name, path, random_inputs(type_vocab_size=3)))


def test_no_projection_when_sizes_match(tmp_path):
    path = hf_checkpoint("ElectraModel", tiny_config(embedding_size=32, hidden_act="gelu_new"), tmp_path)
    assert_parity("ElectraModel", path, random_inputs(type_vocab_size=3))
    assert tfmodels.ElectraModel.from_pretrained(path).embeddings.projection is None


def test_multiple_choice_parity(tmp_path):
    path = hf_checkpoint("ElectraForMultipleChoice", tiny_config(), tmp_path)
    flat = random_inputs(batch_size=4, type_vocab_size=3, pad_lengths=(5, 2, 7))
    assert_parity("ElectraForMultipleChoice", path, {k: v.reshape(2, 2, -1) for k, v in flat.items()})


def test_discriminator_loss_parity(tmp_path):
    path = hf_checkpoint("ElectraForPreTraining", tiny_config(), tmp_path)
    inputs = random_inputs(type_vocab_size=3)
    labels = np.random.RandomState(1).randint(0, 2, inputs["input_ids"].shape)
    diffs = assert_parity("ElectraForPreTraining", path, {**inputs, "labels": labels}, hidden_and_attentions=False)
    assert "loss" in diffs


@pytest.mark.parametrize("class_name", ["ElectraForPreTraining", "ElectraForMaskedLM", "ElectraForMultipleChoice"])
def test_save_pretrained_round_trip(class_name, tmp_path):
    path = hf_checkpoint(class_name, tiny_config(), tmp_path / "hf")
    inputs = random_inputs(type_vocab_size=3)
    if class_name == "ElectraForMultipleChoice":
        inputs = {k: v[:2].reshape(1, 2, -1) for k, v in inputs.items()}
    assert_save_round_trip(class_name, path, inputs, tmp_path / "ours")


def test_auto_classes(tmp_path):
    path = hf_checkpoint("ElectraForPreTraining", tiny_config(), tmp_path)
    assert type(tfmodels.AutoModel.from_pretrained(path)) is tfmodels.ElectraModel
    assert type(tfmodels.AutoModelForMaskedLM.from_config(path + "/config.json")) is tfmodels.ElectraForMaskedLM
    for task, suffix in [("sequence-classification", "ForSequenceClassification"),
                         ("token-classification", "ForTokenClassification"),
                         ("question-answering", "ForQuestionAnswering"), ("multiple-choice", "ForMultipleChoice")]:
        assert tfmodels.auto.MODEL_REGISTRIES[task]["electra"].__name__ == "Electra" + suffix
