"""Megatron-BERT against `transformers` PyTorch on tiny random configs."""

import numpy as np
import pytest
import transformers

import tfmodels
from tests.helpers import assert_parity, assert_save_round_trip, hf_checkpoint, random_inputs

CLASSES = ["MegatronBertModel", "MegatronBertForSequenceClassification", "MegatronBertForTokenClassification",
           "MegatronBertForQuestionAnswering", "MegatronBertForMaskedLM", "MegatronBertForPreTraining"]


def tiny_config(**overrides):
    fields = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                  max_position_embeddings=64, type_vocab_size=3, hidden_act="gelu", num_labels=3)
    fields.update(overrides)
    return transformers.MegatronBertConfig(**fields)


@pytest.mark.parametrize("class_name", CLASSES)
def test_parity(class_name, tmp_path):
    num_labels = 2 if class_name == "MegatronBertForQuestionAnswering" else 3
    path = hf_checkpoint(class_name, tiny_config(num_labels=num_labels), tmp_path)
    print(class_name, assert_parity(class_name, path, random_inputs(type_vocab_size=3)))


def test_multiple_choice_parity(tmp_path):
    path = hf_checkpoint("MegatronBertForMultipleChoice", tiny_config(), tmp_path)
    flat = random_inputs(batch_size=4, type_vocab_size=3, pad_lengths=(5, 2, 7))
    assert_parity("MegatronBertForMultipleChoice", path, {k: v.reshape(2, 2, -1) for k, v in flat.items()})


def test_pretraining_loss_parity(tmp_path):
    path = hf_checkpoint("MegatronBertForPreTraining", tiny_config(), tmp_path)
    inputs = random_inputs(type_vocab_size=3)
    rng = np.random.RandomState(2)
    labels = np.where(rng.rand(*inputs["input_ids"].shape) < 0.3, inputs["input_ids"], -100)
    inputs.update(labels=labels, next_sentence_label=rng.randint(0, 2, (3,)))
    assert "loss" in assert_parity("MegatronBertForPreTraining", path, inputs, hidden_and_attentions=False)


@pytest.mark.parametrize("class_name", ["MegatronBertForPreTraining", "MegatronBertForSequenceClassification"])
def test_save_pretrained_round_trip(class_name, tmp_path):
    path = hf_checkpoint(class_name, tiny_config(), tmp_path / "hf")
    assert_save_round_trip(class_name, path, random_inputs(type_vocab_size=3), tmp_path / "ours")


def test_auto_classes(tmp_path):
    path = hf_checkpoint("MegatronBertForPreTraining", tiny_config(), tmp_path)
    assert type(tfmodels.AutoModel.from_pretrained(path)) is tfmodels.MegatronBertModel
    assert type(tfmodels.AutoModelForMaskedLM.from_pretrained(path)) is tfmodels.MegatronBertForMaskedLM
    for task, suffix in [("sequence-classification", "ForSequenceClassification"),
                         ("token-classification", "ForTokenClassification"),
                         ("question-answering", "ForQuestionAnswering"), ("multiple-choice", "ForMultipleChoice")]:
        assert tfmodels.auto.MODEL_REGISTRIES[task]["megatron-bert"].__name__ == "MegatronBert" + suffix
