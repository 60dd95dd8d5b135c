"""RoBERTa, XLM-RoBERTa and CamemBERT against `transformers` PyTorch on tiny random configs."""

import numpy as np
import pytest
import transformers

import tfmodels
from tests.helpers import assert_parity, assert_save_round_trip, hf_checkpoint, random_inputs

FAMILIES = {"Roberta": "RobertaConfig", "XLMRoberta": "XLMRobertaConfig", "Camembert": "CamembertConfig"}
HEADS = ["Model", "ForSequenceClassification", "ForTokenClassification", "ForQuestionAnswering", "ForMaskedLM"]
PAD = 1


def tiny_config(family="Roberta", **overrides):
    fields = dict(
        vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=20, type_vocab_size=1, hidden_act="gelu_new", num_labels=3, pad_token_id=PAD,
    )
    fields.update(overrides)
    return getattr(transformers, FAMILIES[family])(**fields)


def padded_inputs(batch_size=3, type_vocab_size=0, pad_lengths=(5, 2)):
    """Random ids with the padded positions set to `pad_token_id` (RoBERTa positions depend on it)."""
    inputs = random_inputs(batch_size=batch_size, vocab_size=99, type_vocab_size=type_vocab_size,
                           pad_lengths=pad_lengths)
    ids = np.where(inputs["input_ids"] == PAD, 2, inputs["input_ids"])
    inputs["input_ids"] = np.where(inputs["attention_mask"] == 1, ids, PAD)
    return inputs


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("head", HEADS)
def test_parity(family, head, tmp_path):
    class_name = family + head
    num_labels = 2 if head == "ForQuestionAnswering" else 3
    path = hf_checkpoint(class_name, tiny_config(family, num_labels=num_labels), tmp_path)
    diffs = assert_parity(class_name, path, padded_inputs())
    print(class_name, diffs)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_multiple_choice_parity(family, tmp_path):
    class_name = family + "ForMultipleChoice"
    path = hf_checkpoint(class_name, tiny_config(family), tmp_path)
    flat = padded_inputs(batch_size=4, pad_lengths=(5, 2, 7))
    inputs = {k: v.reshape(2, 2, -1) for k, v in flat.items()}
    assert_parity(class_name, path, inputs)


def test_token_types_and_explicit_positions(tmp_path):
    path = hf_checkpoint("RobertaModel", tiny_config(type_vocab_size=2), tmp_path)
    inputs = padded_inputs(type_vocab_size=2)
    assert_parity("RobertaModel", path, inputs)
    inputs["position_ids"] = np.tile(np.arange(2, 11), (3, 1))
    assert_parity("RobertaModel", path, inputs)


def test_sequence_length_limit(tmp_path):
    model = tfmodels.RobertaModel.from_pretrained(hf_checkpoint("RobertaModel", tiny_config(), tmp_path))
    model({"input_ids": np.full((1, 18), 5)})  # 20 - pad_token_id - 1 = 18 positions
    with pytest.raises(ValueError, match="at most 18 tokens"):
        model({"input_ids": np.full((1, 19), 5)})


@pytest.mark.parametrize("class_name", ["RobertaForSequenceClassification", "XLMRobertaForMaskedLM",
                                        "CamembertForTokenClassification"])
def test_save_pretrained_round_trip(class_name, tmp_path):
    family = next(f for f in sorted(FAMILIES, key=len, reverse=True) if class_name.startswith(f))
    path = hf_checkpoint(class_name, tiny_config(family), tmp_path / "hf")
    assert_save_round_trip(class_name, path, padded_inputs(), tmp_path / "ours")


@pytest.mark.parametrize("family,model_type", [("Roberta", "roberta"), ("XLMRoberta", "xlm-roberta"),
                                               ("Camembert", "camembert")])
def test_auto_classes(family, model_type, tmp_path):
    path = hf_checkpoint(family + "ForMaskedLM", tiny_config(family), tmp_path)
    assert type(tfmodels.AutoModel.from_pretrained(path)).__name__ == family + "Model"
    assert type(tfmodels.AutoModelForMaskedLM.from_pretrained(path)).__name__ == family + "ForMaskedLM"
    for task, suffix in [("sequence-classification", "ForSequenceClassification"),
                         ("token-classification", "ForTokenClassification"),
                         ("question-answering", "ForQuestionAnswering"), ("multiple-choice", "ForMultipleChoice")]:
        assert tfmodels.auto.MODEL_REGISTRIES[task][model_type].__name__ == family + suffix


def test_base_checkpoint_into_classifier(tmp_path, caplog):
    path = hf_checkpoint("RobertaModel", tiny_config(), tmp_path)
    with caplog.at_level("WARNING", logger="tfmodels"):
        model = tfmodels.RobertaForSequenceClassification.from_pretrained(path, num_labels=4)
    assert "pooler.dense.weight" in caplog.text and "classifier.out_proj.weight" in caplog.text
    assert model(padded_inputs())["logits"].shape == (3, 4)
