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


@pytest.mark.parametrize("class_name", ["BertLMHeadModel", "RobertaForCausalLM", "ElectraForCausalLM",
                                        "MegatronBertForCausalLM"])
def test_generate_matches_transformers(class_name, tmp_path):
    """Greedy (and, for BERT, beam) decoding over the KV cache, left-padded prompts: token-identical."""
    import torch
    import transformers

    config = CAUSAL[class_name][0](is_decoder=True, initializer_range=0.4)
    path = hf_checkpoint(class_name, config, tmp_path)
    reference = getattr(transformers, class_name).from_pretrained(path).eval()
    ours = getattr(tfmodels, class_name).from_pretrained(path)
    rng = np.random.RandomState(0)
    ids, mask = rng.randint(6, 98, (3, 7)), np.ones((3, 7), "int64")
    mask[1, :3], mask[2, :5] = 0, 0
    pad = config.pad_token_id
    ids[mask == 0] = pad
    for kwargs in ({}, {"num_beams": 3}) if class_name == "BertLMHeadModel" else ({},):
        expected = reference.generate(torch.tensor(ids), attention_mask=torch.tensor(mask), do_sample=False,
                                      max_new_tokens=8, pad_token_id=pad, **kwargs).numpy()
        got = ours.generate(ids, attention_mask=mask, max_new_tokens=8, pad_token_id=pad, **kwargs).numpy()
        np.testing.assert_array_equal(got, expected)
    if class_name == "BertLMHeadModel":  # non-degenerate continuation (the tiny RoBERTa repeats one token)
        assert len(np.unique(got[:, 7:])) > 2


@pytest.mark.parametrize("class_name", ["MegatronBertForCausalLM", "RobertaForCausalLM"])
def test_cached_forward_matches_full_forward(class_name, tmp_path):
    model = getattr(tfmodels, class_name).from_pretrained(
        hf_checkpoint(class_name, CAUSAL[class_name][0](is_decoder=True), tmp_path))
    inputs = random_inputs(pad_lengths=())
    inputs["input_ids"] = np.where(inputs["input_ids"] == 1, 2, inputs["input_ids"])  # no RoBERTa padding token
    offset = model.backbone._position_offset  # RoBERTa positions start after pad_token_id
    full = model.backbone(inputs)["last_hidden_state"].numpy()
    cache = model.init_cache(3, 9)
    mask = inputs["attention_mask"]
    first = model.backbone.forward(inputs["input_ids"][:, :5], attention_mask=mask, past_key_values=cache,
                                   position_ids=np.tile(np.arange(5) + offset, (3, 1)), cache_update_index=0)
    rest = model.backbone.forward(inputs["input_ids"][:, 5:], attention_mask=mask,
                                  past_key_values=first["past_key_values"],
                                  position_ids=np.tile(np.arange(5, 9) + offset, (3, 1)), cache_update_index=5)
    cached = np.concatenate([first["last_hidden_state"], rest["last_hidden_state"]], axis=1)
    np.testing.assert_allclose(cached, full, atol=1e-5)
    step = model.backbone.forward(inputs["input_ids"][:, 5:], attention_mask=mask,
                                  past_key_values=first["past_key_values"], cache_update_index=5)
    np.testing.assert_allclose(step["last_hidden_state"], full[:, 5:], atol=1e-5)  # default positions continue
    with pytest.raises(ValueError, match="only as a decoder"):
        tfmodels.BertModel().init_cache(1, 4)
