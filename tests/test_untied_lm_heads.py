"""Masked-LM heads with `tie_word_embeddings=False`: the reference's untied decoder has its own bias."""

import numpy as np
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
