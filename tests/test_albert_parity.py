"""ALBERT against `transformers` PyTorch on tiny random configs (with layer sharing)."""

import numpy as np
import pytest
import transformers

import tfmodels
from tests.helpers import assert_parity, assert_save_round_trip, hf_checkpoint, random_inputs

CLASSES = ["AlbertModel", "AlbertForSequenceClassification", "AlbertForTokenClassification",
           "AlbertForQuestionAnswering", "AlbertForMaskedLM", "AlbertForPreTraining"]


def tiny_config(**overrides):
    fields = dict(vocab_size=99, embedding_size=24, hidden_size=32, num_hidden_layers=3, num_hidden_groups=1,
                  inner_group_num=1, num_attention_heads=4, intermediate_size=37, max_position_embeddings=64,
                  type_vocab_size=3, hidden_act="gelu_new", num_labels=3)
    fields.update(overrides)
    return transformers.AlbertConfig(**fields)


@pytest.mark.parametrize("class_name", CLASSES)
def test_parity(class_name, tmp_path):
    num_labels = 2 if class_name in ("AlbertForQuestionAnswering", "AlbertForPreTraining") else 3
    path = hf_checkpoint(class_name, tiny_config(num_labels=num_labels), tmp_path)
    print(class_name, assert_parity(class_name, path, random_inputs(type_vocab_size=3)))


@pytest.mark.parametrize("layers,groups,inner", [(4, 2, 2), (3, 2, 1)])
def test_parameter_sharing_parity(layers, groups, inner, tmp_path):
    config = tiny_config(num_hidden_layers=layers, num_hidden_groups=groups, inner_group_num=inner,
                         embedding_size=32)
    path = hf_checkpoint("AlbertModel", config, tmp_path)
    assert_parity("AlbertModel", path, random_inputs(type_vocab_size=3))
    model = tfmodels.AlbertModel.from_pretrained(path)
    assert len(model.encoder_layers) == groups * inner


def test_multiple_choice_parity(tmp_path):
    path = hf_checkpoint("AlbertForMultipleChoice", tiny_config(), tmp_path)
    flat = random_inputs(batch_size=4, type_vocab_size=3, pad_lengths=(5, 2, 7))
    assert_parity("AlbertForMultipleChoice", path, {k: v.reshape(2, 2, -1) for k, v in flat.items()})


def test_pretraining_loss_parity(tmp_path):
    path = hf_checkpoint("AlbertForPreTraining", tiny_config(num_labels=2), tmp_path)
    inputs = random_inputs(type_vocab_size=3)
    rng = np.random.RandomState(2)
    labels = np.where(rng.rand(*inputs["input_ids"].shape) < 0.3, inputs["input_ids"], -100)
    inputs.update(labels=labels, sentence_order_label=rng.randint(0, 2, (3,)))
    assert "loss" in assert_parity("AlbertForPreTraining", path, inputs, hidden_and_attentions=False)


@pytest.mark.parametrize("class_name", ["AlbertForPreTraining", "AlbertForSequenceClassification"])
def test_save_pretrained_round_trip(class_name, tmp_path):
    config = tiny_config(num_hidden_layers=4, num_hidden_groups=2, inner_group_num=2, num_labels=2)
    path = hf_checkpoint(class_name, config, tmp_path / "hf")
    assert_save_round_trip(class_name, path, random_inputs(type_vocab_size=3), tmp_path / "ours")


def test_auto_classes(tmp_path):
    path = hf_checkpoint("AlbertForPreTraining", tiny_config(), tmp_path)
    assert type(tfmodels.AutoModel.from_pretrained(path)) is tfmodels.AlbertModel
    assert type(tfmodels.AutoModelForMaskedLM.from_pretrained(path)) is tfmodels.AlbertForMaskedLM
    for task, suffix in [("sequence-classification", "ForSequenceClassification"),
                         ("token-classification", "ForTokenClassification"),
                         ("question-answering", "ForQuestionAnswering"), ("multiple-choice", "ForMultipleChoice")]:
        assert tfmodels.auto.MODEL_REGISTRIES[task]["albert"].__name__ == "Albert" + suffix
