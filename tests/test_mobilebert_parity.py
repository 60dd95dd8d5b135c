"""Every MobileBERT class against `transformers` PyTorch with padding and token types."""

import numpy as np
import pytest
import transformers

import tfmodels
from tests.helpers import assert_parity, assert_save_round_trip, hf_checkpoint, random_inputs

CLASSES = [
    "MobileBertModel",
    "MobileBertForSequenceClassification",
    "MobileBertForTokenClassification",
    "MobileBertForQuestionAnswering",
    "MobileBertForMaskedLM",
    "MobileBertForNextSentencePrediction",
    "MobileBertForPreTraining",
]


def tiny_config(**overrides):
    fields = dict(
        vocab_size=99, hidden_size=32, embedding_size=16, intra_bottleneck_size=24, num_hidden_layers=2,
        num_attention_heads=4, intermediate_size=20, num_feedforward_networks=3, max_position_embeddings=64,
        type_vocab_size=3, num_labels=3,
    )
    fields.update(overrides)
    return transformers.MobileBertConfig(**fields)


@pytest.mark.parametrize("class_name", CLASSES)
def test_mobilebert_parity(class_name, tmp_path):
    num_labels = {"MobileBertForQuestionAnswering": 2, "MobileBertForNextSentencePrediction": 2}.get(class_name, 3)
    path = hf_checkpoint(class_name, tiny_config(num_labels=num_labels), tmp_path)
    diffs = assert_parity(class_name, path, random_inputs(type_vocab_size=3))
    print(class_name, diffs)


def test_mobilebert_multiple_choice_parity(tmp_path):
    path = hf_checkpoint("MobileBertForMultipleChoice", tiny_config(), tmp_path)
    flat = random_inputs(batch_size=4, type_vocab_size=3, pad_lengths=(5, 2, 7))
    diffs = assert_parity("MobileBertForMultipleChoice", path, {k: v.reshape(2, 2, -1) for k, v in flat.items()})
    print(diffs)


@pytest.mark.parametrize("options", [
    dict(normalization_type="layer_norm", trigram_input=False, classifier_activation=False),
    dict(use_bottleneck_attention=True, num_feedforward_networks=1, hidden_act="gelu"),
    dict(key_query_shared_bottleneck=False, intra_bottleneck_size=32),  # transformers needs B == D here
    dict(use_bottleneck=False, intra_bottleneck_size=32, embedding_size=32, trigram_input=False),
])
def test_mobilebert_config_options_parity(options, tmp_path):
    path = hf_checkpoint("MobileBertForSequenceClassification", tiny_config(**options), tmp_path)
    diffs = assert_parity("MobileBertForSequenceClassification", path, random_inputs(type_vocab_size=3))
    print(options, diffs)


def test_mobilebert_save_round_trip(tmp_path):
    path = hf_checkpoint("MobileBertForMaskedLM", tiny_config(), tmp_path / "hf")
    print(assert_save_round_trip("MobileBertForMaskedLM", path, random_inputs(type_vocab_size=3, seed=1),
                                 tmp_path / "ours"))


def test_mobilebert_nsp_loss(tmp_path):
    path = hf_checkpoint("MobileBertForNextSentencePrediction", tiny_config(num_labels=2), tmp_path)
    inputs = {**random_inputs(type_vocab_size=3), "labels": np.array([0, 1, 0])}
    diffs = assert_parity("MobileBertForNextSentencePrediction", path, inputs, hidden_and_attentions=False)
    assert "loss" in diffs


def test_auto_classes_pick_mobilebert(tmp_path):
    path = hf_checkpoint("MobileBertForMaskedLM", tiny_config(), tmp_path)
    assert type(tfmodels.AutoModel.from_pretrained(path)) is tfmodels.MobileBertModel
    assert type(tfmodels.AutoModelForMaskedLM.from_pretrained(path)) is tfmodels.MobileBertForMaskedLM
    for task, head in (("sequence-classification", "ForSequenceClassification"),
                       ("token-classification", "ForTokenClassification"),
                       ("question-answering", "ForQuestionAnswering"), ("multiple-choice", "ForMultipleChoice")):
        assert tfmodels.auto.MODEL_REGISTRIES[task]["mobilebert"] is getattr(tfmodels, "MobileBert" + head)


def test_mobilebert_pretraining_loss(tmp_path):
    path = hf_checkpoint("MobileBertForPreTraining", tiny_config(), tmp_path)
    inputs = random_inputs(type_vocab_size=3)
    labels = np.random.RandomState(2).randint(0, 99, inputs["input_ids"].shape)
    labels[inputs["attention_mask"] == 0] = -100
    inputs = {**inputs, "labels": labels, "next_sentence_label": np.array([1, 0, 1])}
    diffs = assert_parity("MobileBertForPreTraining", path, inputs, hidden_and_attentions=False)
    assert "loss" in diffs
