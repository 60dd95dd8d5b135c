"""Masked-LM heads with `tie_word_embeddings=False`: the reference's untied decoder has its own bias,
the one it computes with (`converters.layer_tables.masked_lm_bias`)."""

import numpy as np
import pytest
import transformers

import tfmodels
from tests.helpers import assert_parity, assert_save_round_trip, hf_checkpoint, random_inputs
from tests.tiny_models import tiny_config


def test_untied_bert_masked_lm_uses_the_decoder_bias(tmp_path):
    config = transformers.BertConfig(**tiny_config("bert"), tie_word_embeddings=False)
    hf_checkpoint("BertForMaskedLM", config, tmp_path / "hf")  # random (different) bias and decoder.bias
    reference = transformers.BertForMaskedLM.from_pretrained(tmp_path / "hf")
    bias = reference.cls.predictions.bias.detach().numpy()
    decoder_bias = reference.cls.predictions.decoder.bias.detach().numpy()
    assert np.abs(bias - decoder_bias).max() > 1e-3  # the two parameters really differ
    inputs = random_inputs(vocab_size=config.vocab_size, type_vocab_size=config.type_vocab_size)
    diffs = assert_parity("BertForMaskedLM", tmp_path / "hf", inputs)
    print(diffs)
    model = tfmodels.BertForMaskedLM.from_pretrained(tmp_path / "hf")
    np.testing.assert_array_equal(model.lm_head.bias.numpy(), decoder_bias)
    assert_save_round_trip("BertForMaskedLM", tmp_path / "hf", inputs, tmp_path / "ours")


# `{class: (the bias key the reference never reads when untied, the decoder's own bias key)}`, checked against
# transformers 5.24: untied (`tie_word_embeddings=False`), each of these keeps both parameters and computes with
# the decoder's (perturbing the other leaves the logits unchanged); `None`: the head has one bias only.
UNTIED_HEADS = {
    "RobertaForMaskedLM": ("lm_head.bias", "lm_head.decoder.bias"),
    "XLMRobertaForMaskedLM": ("lm_head.bias", "lm_head.decoder.bias"),
    "CamembertForMaskedLM": ("lm_head.bias", "lm_head.decoder.bias"),
    "LongformerForMaskedLM": ("lm_head.bias", "lm_head.decoder.bias"),
    "IBertForMaskedLM": ("lm_head.bias", "lm_head.decoder.bias"),
    "MPNetForMaskedLM": ("lm_head.bias", "lm_head.decoder.bias"),
    "AlbertForMaskedLM": ("predictions.bias", "predictions.decoder.bias"),
    "MobileBertForMaskedLM": ("cls.predictions.bias", "cls.predictions.decoder.bias"),
    "DebertaForMaskedLM": ("cls.predictions.bias", "cls.predictions.decoder.bias"),
    "DebertaV2ForMaskedLM": ("cls.predictions.bias", "cls.predictions.decoder.bias"),
    "RoFormerForMaskedLM": ("cls.predictions.bias", "cls.predictions.decoder.bias"),
    "MegatronBertForMaskedLM": ("cls.predictions.bias", "cls.predictions.decoder.bias"),
    "BigBirdForMaskedLM": ("cls.predictions.bias", "cls.predictions.decoder.bias"),
    "LayoutLMForMaskedLM": ("cls.predictions.bias", "cls.predictions.decoder.bias"),
    "SqueezeBertForMaskedLM": ("cls.predictions.bias", "cls.predictions.decoder.bias"),
    "TapasForMaskedLM": ("cls.predictions.bias", "cls.predictions.decoder.bias"),
    "ElectraForMaskedLM": None,  # generator_lm_head
    "ConvBertForMaskedLM": None,  # generator_lm_head
    "DistilBertForMaskedLM": None,  # vocab_projector
    "FunnelForMaskedLM": None,  # lm_head
}
# Classes of the converter tables that read the wrong bias before `masked_lm_bias` (roberta.lm_head_rows: RoBERTa
# and its relatives; albert; mpnet; mobilebert, whose untied head is new) in the default suite; the rest (DeBERTa's
# table included) run with -m slow.
DEFAULT_UNTIED = ("RobertaForMaskedLM", "AlbertForMaskedLM", "MPNetForMaskedLM", "MobileBertForMaskedLM")


def _untied_inputs(model_type, config):
    types = config.to_dict().get("type_vocab_size") or 0
    inputs = random_inputs(vocab_size=config.vocab_size, type_vocab_size=types if model_type != "mpnet" else 0)
    if model_type == "tapas":  # 7 token types per token
        rng = np.random.RandomState(1)
        inputs["token_type_ids"] = np.stack([rng.randint(0, n, (3, 9)) for n in config.type_vocab_sizes],
                                            axis=-1).astype("int64")
    return inputs


@pytest.mark.parametrize("class_name", [
    name if name in DEFAULT_UNTIED else pytest.param(name, marks=pytest.mark.slow) for name in UNTIED_HEADS])
def test_untied_masked_lm_heads_use_the_reference_bias(class_name, tmp_path):
    from safetensors.numpy import load_file

    model_type = getattr(tfmodels, class_name).model_type
    extra = {"attention_type": "original_full"} if model_type == "big_bird" else {}  # 9 tokens: too short for blocks
    config = transformers.AutoConfig.for_model(model_type, **{**tiny_config(model_type), **extra},
                                               tie_word_embeddings=False)
    hf_checkpoint(class_name, config, tmp_path / "hf")  # random (different) biases
    if UNTIED_HEADS[class_name]:
        unread, decoder = (load_file(tmp_path / "hf" / "model.safetensors")[k] for k in UNTIED_HEADS[class_name])
        assert np.abs(unread - decoder).max() > 1e-3  # the two parameters really differ
    inputs = _untied_inputs(model_type, config)
    diffs = assert_parity(class_name, tmp_path / "hf", inputs)
    print(f"{class_name}: max |diff| {max(diffs.values()):.3g}")
    assert_save_round_trip(class_name, tmp_path / "hf", inputs, tmp_path / "ours")
