"""Every BERT class against `transformers` PyTorch on tiny random configs."""

import numpy as np
import pytest
import transformers

import tfmodels
from tests.helpers import assert_parity, hf_checkpoint, random_inputs

BERT_CLASSES = [
    "BertModel",
    "BertForSequenceClassification",
    "BertForTokenClassification",
    "BertForQuestionAnswering",
    "BertForMaskedLM",
]


def tiny_bert_config(**overrides):
    fields = dict(
        vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=64, type_vocab_size=3, hidden_act="gelu", num_labels=3,
    )
    fields.update(overrides)
    return transformers.BertConfig(**fields)


@pytest.mark.parametrize("class_name", BERT_CLASSES)
def test_bert_parity(class_name, tmp_path):
    num_labels = 2 if class_name == "BertForQuestionAnswering" else 3
    path = hf_checkpoint(class_name, tiny_bert_config(num_labels=num_labels), tmp_path)
    diffs = assert_parity(class_name, path, random_inputs(type_vocab_size=3))
    print(class_name, diffs)


@pytest.mark.parametrize("hidden_act", ["gelu_new", "relu", "silu"])
def test_bert_activations_parity(hidden_act, tmp_path):
    path = hf_checkpoint("BertModel", tiny_bert_config(hidden_act=hidden_act), tmp_path)
    assert_parity("BertModel", path, random_inputs(type_vocab_size=3))


def test_bert_multiple_choice_parity(tmp_path):
    path = hf_checkpoint("BertForMultipleChoice", tiny_bert_config(), tmp_path)
    flat = random_inputs(batch_size=4, type_vocab_size=3, pad_lengths=(5, 2, 7))
    inputs = {k: v.reshape(2, 2, -1) for k, v in flat.items()}
    assert_parity("BertForMultipleChoice", path, inputs)
    diffs = assert_parity("BertForMultipleChoice", path, {**inputs, "labels": np.array([1, 0])},
                          hidden_and_attentions=False)
    assert "loss" in diffs


def test_bert_parity_with_labels_loss(tmp_path):
    path = hf_checkpoint("BertForTokenClassification", tiny_bert_config(), tmp_path)
    inputs = random_inputs(type_vocab_size=3)
    labels = np.random.RandomState(3).randint(0, 3, inputs["input_ids"].shape)
    labels[inputs["attention_mask"] == 0] = -100
    diffs = assert_parity("BertForTokenClassification", path, {**inputs, "labels": labels},
                          hidden_and_attentions=False)
    assert "loss" in diffs


def test_bert_base_checkpoint_into_head_model(tmp_path, caplog):
    path = hf_checkpoint("BertModel", tiny_bert_config(), tmp_path)
    with caplog.at_level("WARNING", logger="tfmodels"):
        model = tfmodels.BertForSequenceClassification.from_pretrained(path, num_labels=4)
    assert "classifier.weight" in caplog.text and "newly initialised" in caplog.text
    base = tfmodels.BertModel.from_pretrained(path)
    inputs = random_inputs(type_vocab_size=3)
    np.testing.assert_array_equal(
        model.bert(inputs)["pooler_output"].numpy(), base(inputs)["pooler_output"].numpy()
    )
    assert model(inputs)["logits"].shape == (3, 4)


def test_bert_head_checkpoint_into_backbone(tmp_path, caplog):
    path = hf_checkpoint("BertForMaskedLM", tiny_bert_config(), tmp_path)
    with caplog.at_level("WARNING", logger="tfmodels"):
        tfmodels.BertModel.from_pretrained(path)
    assert "cls.predictions" in caplog.text  # other-head weights reported
    assert "pooler.dense.weight" in caplog.text  # MLM checkpoints carry no pooler


def test_auto_classes_pick_bert(tmp_path):
    path = hf_checkpoint("BertForSequenceClassification", tiny_bert_config(), tmp_path)
    assert type(tfmodels.AutoModel.from_pretrained(path)) is tfmodels.BertModel
    model = tfmodels.AutoModelForSequenceClassification.from_pretrained(path)
    assert type(model) is tfmodels.BertForSequenceClassification
    assert model.num_labels == 3
