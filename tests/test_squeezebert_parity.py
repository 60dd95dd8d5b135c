"""Every SqueezeBERT class against `transformers` PyTorch with padding and token types.

`attentions` are compared too: the reference returns masked pre-softmax logits.
"""

import pytest
import transformers

import tfmodels
from tests.helpers import assert_parity, assert_save_round_trip, hf_checkpoint, random_inputs

CLASSES = [
    "SqueezeBertModel",
    "SqueezeBertForSequenceClassification",
    "SqueezeBertForTokenClassification",
    "SqueezeBertForQuestionAnswering",
    "SqueezeBertForMaskedLM",
]


def tiny_config(**overrides):
    fields = dict(
        vocab_size=99, hidden_size=32, embedding_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=48, max_position_embeddings=64, type_vocab_size=3, num_labels=3,
        q_groups=2, k_groups=4, v_groups=2, post_attention_groups=1, intermediate_groups=4, output_groups=2,
    )
    fields.update(overrides)
    return transformers.SqueezeBertConfig(**fields)


@pytest.mark.parametrize("class_name", CLASSES)
def test_squeezebert_parity(class_name, tmp_path):
    num_labels = 2 if class_name == "SqueezeBertForQuestionAnswering" else 3
    path = hf_checkpoint(class_name, tiny_config(num_labels=num_labels), tmp_path)
    diffs = assert_parity(class_name, path, random_inputs(type_vocab_size=3))
    print(class_name, diffs)


def test_squeezebert_multiple_choice_parity(tmp_path):
    path = hf_checkpoint("SqueezeBertForMultipleChoice", tiny_config(), tmp_path)
    flat = random_inputs(batch_size=4, type_vocab_size=3, pad_lengths=(5, 2, 7))
    print(assert_parity("SqueezeBertForMultipleChoice", path, {k: v.reshape(2, 2, -1) for k, v in flat.items()}))


def test_squeezebert_save_round_trip(tmp_path):
    path = hf_checkpoint("SqueezeBertForSequenceClassification", tiny_config(), tmp_path / "hf")
    print(assert_save_round_trip("SqueezeBertForSequenceClassification", path,
                                 random_inputs(type_vocab_size=3, seed=1), tmp_path / "ours"))


def test_auto_classes_pick_squeezebert(tmp_path):
    path = hf_checkpoint("SqueezeBertForMaskedLM", tiny_config(), tmp_path)
    assert type(tfmodels.AutoModel.from_pretrained(path)) is tfmodels.SqueezeBertModel
    assert type(tfmodels.AutoModelForMaskedLM.from_pretrained(path)) is tfmodels.SqueezeBertForMaskedLM
    for task, head in (("sequence-classification", "ForSequenceClassification"),
                       ("token-classification", "ForTokenClassification"),
                       ("question-answering", "ForQuestionAnswering"), ("multiple-choice", "ForMultipleChoice")):
        assert tfmodels.auto.MODEL_REGISTRIES[task]["squeezebert"] is getattr(tfmodels, "SqueezeBert" + head)
