"""Model-specific heads of the encoder families against `transformers` PyTorch.

Causal-LM heads (`BertLMHeadModel`, `{Roberta,XLMRoberta,Camembert,Electra,MegatronBert}ForCausalLM`,
configs with `is_decoder=True`) and the next-sentence / pre-training heads
(`BertForNextSentencePrediction`, `BertForPreTraining`, `MegatronBertForNextSentencePrediction`):
every output with padding, and the loss with labels.
"""

import numpy as np
import pytest

import tfmodels
from tests.helpers import assert_parity, assert_save_round_trip, hf_checkpoint, random_inputs
from tests.test_bert_parity import tiny_bert_config
from tests.test_electra_parity import tiny_config as tiny_electra_config
from tests.test_megatron_bert_parity import tiny_config as tiny_megatron_config
from tests.test_roberta_parity import padded_inputs
from tests.test_roberta_parity import tiny_config as tiny_roberta_config

# class name -> (config factory, inputs factory, model_type)
CAUSAL = {
    "BertLMHeadModel": (tiny_bert_config, lambda: random_inputs(type_vocab_size=3), "bert"),
    "RobertaForCausalLM": (lambda **kw: tiny_roberta_config("Roberta", **kw), padded_inputs, "roberta"),
    "XLMRobertaForCausalLM": (lambda **kw: tiny_roberta_config("XLMRoberta", **kw), padded_inputs, "xlm-roberta"),
    "CamembertForCausalLM": (lambda **kw: tiny_roberta_config("Camembert", **kw), padded_inputs, "camembert"),
    "ElectraForCausalLM": (tiny_electra_config, lambda: random_inputs(type_vocab_size=3), "electra"),
    "MegatronBertForCausalLM": (tiny_megatron_config, lambda: random_inputs(type_vocab_size=3), "megatron-bert"),
}
SENTENCE = {
    "BertForNextSentencePrediction": tiny_bert_config,
    "BertForPreTraining": tiny_bert_config,
    "MegatronBertForNextSentencePrediction": tiny_megatron_config,
}


def with_lm_labels(inputs, seed=2):
    """Adds token `labels` (-100 on padding and on a random 20 % of the rest)."""
    rng = np.random.RandomState(seed)
    keep = (inputs["attention_mask"] == 1) & (rng.rand(*inputs["input_ids"].shape) > 0.2)
    return {**inputs, "labels": np.where(keep, inputs["input_ids"], -100)}


@pytest.mark.parametrize("class_name", list(CAUSAL))
def test_causal_lm_parity(class_name, tmp_path):
    config, inputs, _ = CAUSAL[class_name]
    path = hf_checkpoint(class_name, config(is_decoder=True), tmp_path)
    diffs = assert_parity(class_name, path, with_lm_labels(inputs()))
    assert "loss" in diffs and "attentions" in diffs
    print(class_name, diffs)


def test_is_decoder_makes_attention_causal(tmp_path):
    model = tfmodels.BertLMHeadModel.from_pretrained(
        hf_checkpoint("BertLMHeadModel", tiny_bert_config(is_decoder=True), tmp_path))
    inputs = random_inputs(type_vocab_size=3)
    attentions = model(inputs, output_attentions=True)["attentions"][0].numpy()  # (batch, heads, q, k)
    assert np.all(np.triu(attentions[0, 0], k=1) == 0)
    changed = {**inputs, "input_ids": inputs["input_ids"].copy()}
    changed["input_ids"][:, -1] = 7
    np.testing.assert_allclose(model(changed)["logits"].numpy()[:, :-1], model(inputs)["logits"].numpy()[:, :-1],
                               atol=1e-6)
    config = model.get_config()
    assert config["is_decoder"] is True
    assert type(model).from_config(config).backbone.is_decoder


def test_causal_lm_without_is_decoder_warns(tmp_path, caplog):
    path = hf_checkpoint("BertLMHeadModel", tiny_bert_config(), tmp_path)
    with caplog.at_level("WARNING", logger="tfmodels"):
        model = tfmodels.BertLMHeadModel.from_pretrained(path)
    assert "is_decoder=True" in caplog.text and not model.backbone.is_decoder
    assert_parity("BertLMHeadModel", path, random_inputs(type_vocab_size=3))  # bidirectional, as transformers


@pytest.mark.parametrize("class_name", list(SENTENCE))
def test_sentence_head_parity(class_name, tmp_path):
    path = hf_checkpoint(class_name, SENTENCE[class_name](), tmp_path)
    inputs = random_inputs(type_vocab_size=3)
    print(class_name, assert_parity(class_name, path, inputs))
    rng = np.random.RandomState(3)
    if class_name == "BertForPreTraining":
        inputs = {**with_lm_labels(inputs), "next_sentence_label": rng.randint(0, 2, (3,))}
    else:
        inputs = {**inputs, "labels": rng.randint(0, 2, (3,))}
    diffs = assert_parity(class_name, path, inputs, hidden_and_attentions=False)
    assert "loss" in diffs
    print(class_name, "with labels", diffs)


@pytest.mark.parametrize("class_name", ["BertLMHeadModel", "RobertaForCausalLM", "ElectraForCausalLM",
                                        "MegatronBertForCausalLM", "BertForPreTraining",
                                        "BertForNextSentencePrediction", "MegatronBertForNextSentencePrediction"])
def test_save_pretrained_round_trip(class_name, tmp_path):
    if class_name in CAUSAL:
        config, inputs, _ = CAUSAL[class_name]
        config, inputs = config(is_decoder=True), inputs()
    else:
        config, inputs = SENTENCE[class_name](), random_inputs(type_vocab_size=3)
    path = hf_checkpoint(class_name, config, tmp_path / "hf")
    assert_save_round_trip(class_name, path, inputs, tmp_path / "ours")


def test_auto_causal_lm(tmp_path):
    for class_name, (_, _, model_type) in CAUSAL.items():
        assert tfmodels.auto.MODEL_REGISTRIES["causal-lm"][model_type] is getattr(tfmodels, class_name)
    path = hf_checkpoint("RobertaForCausalLM", tiny_roberta_config("Roberta", is_decoder=True), tmp_path)
    model = tfmodels.AutoModelForCausalLM.from_pretrained(path)
    assert type(model) is tfmodels.RobertaForCausalLM and model.backbone.is_decoder
