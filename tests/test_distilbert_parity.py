"""DistilBERT against `transformers` PyTorch on tiny random configs."""

import numpy as np
import pytest
import transformers

import tfmodels
from tests.helpers import assert_parity, assert_save_round_trip, hf_checkpoint, random_inputs
from tfmodels.layers.position.sinusoidal import sinusoidal_table

CLASSES = ["DistilBertModel", "DistilBertForSequenceClassification", "DistilBertForTokenClassification",
           "DistilBertForQuestionAnswering", "DistilBertForMaskedLM"]


def tiny_config(**overrides):
    fields = dict(vocab_size=99, dim=32, n_layers=2, n_heads=4, hidden_dim=37, max_position_embeddings=64,
                  activation="gelu", num_labels=3)
    fields.update(overrides)
    return transformers.DistilBertConfig(**fields)


@pytest.mark.parametrize("class_name", CLASSES)
def test_parity(class_name, tmp_path):
    num_labels = 2 if class_name == "DistilBertForQuestionAnswering" else 3
    path = hf_checkpoint(class_name, tiny_config(num_labels=num_labels), tmp_path)
    print(class_name, assert_parity(class_name, path, random_inputs()))


def test_multiple_choice_parity(tmp_path):
    path = hf_checkpoint("DistilBertForMultipleChoice", tiny_config(), tmp_path)
    flat = random_inputs(batch_size=4, pad_lengths=(5, 2, 7))
    assert_parity("DistilBertForMultipleChoice", path, {k: v.reshape(2, 2, -1) for k, v in flat.items()})


def test_sinusoidal_positions(tmp_path):
    path = hf_checkpoint("DistilBertModel", tiny_config(sinusoidal_pos_embds=True, activation="relu"), tmp_path)
    assert_parity("DistilBertModel", path, random_inputs())
    fresh = tfmodels.DistilBertModel.from_config(path + "/config.json").build_from_dummy_inputs()
    table = fresh.embeddings.position_embeddings
    np.testing.assert_allclose(table.embeddings.numpy(), sinusoidal_table(64, 32), atol=1e-6)
    assert not table.trainable


def test_rejects_token_type_ids(tmp_path):
    model = tfmodels.DistilBertModel.from_config(tiny_config().to_dict())
    with pytest.raises(TypeError, match="token_type_ids"):
        model(random_inputs(type_vocab_size=2))


@pytest.mark.parametrize("class_name", ["DistilBertForSequenceClassification", "DistilBertForMaskedLM"])
def test_save_pretrained_round_trip(class_name, tmp_path):
    path = hf_checkpoint(class_name, tiny_config(), tmp_path / "hf")
    assert_save_round_trip(class_name, path, random_inputs(), tmp_path / "ours")


def test_auto_classes(tmp_path):
    path = hf_checkpoint("DistilBertForMaskedLM", tiny_config(), tmp_path)
    assert type(tfmodels.AutoModel.from_pretrained(path)) is tfmodels.DistilBertModel
    assert type(tfmodels.AutoModelForMaskedLM.from_pretrained(path)) is tfmodels.DistilBertForMaskedLM
    for task, suffix in [("sequence-classification", "ForSequenceClassification"),
                         ("token-classification", "ForTokenClassification"),
                         ("question-answering", "ForQuestionAnswering"), ("multiple-choice", "ForMultipleChoice")]:
        assert tfmodels.auto.MODEL_REGISTRIES[task]["distilbert"].__name__ == "DistilBert" + suffix
