"""GPT-Neo classes (global and local attention layers) against `transformers` PyTorch on tiny random configs."""

import pytest
import transformers

import tfmodels
from tests.decoder_helpers import assert_parity_on_real_tokens, assert_round_trip, left_padded, right_padded
from tests.helpers import assert_parity, hf_checkpoint, random_inputs

CLASSES = ["GPTNeoModel", "GPTNeoForCausalLM"]


def tiny_config(**overrides):
    # window_size 3 < seq_len 9, so the local layers' band is exercised.
    fields = dict(vocab_size=99, hidden_size=32, num_layers=3, num_heads=4, max_position_embeddings=64,
                  intermediate_size=37, window_size=3, bos_token_id=98, eos_token_id=98, attention_types=[[["global", "local", "local"], 1]])
    fields.update(overrides)
    return transformers.GPTNeoConfig(**fields)


@pytest.mark.parametrize("class_name", CLASSES)
def test_gpt_neo_parity_no_padding(class_name, tmp_path):
    path = hf_checkpoint(class_name, tiny_config(), tmp_path)
    print(assert_parity(class_name, path, random_inputs(pad_lengths=())))


@pytest.mark.parametrize("class_name", CLASSES)
def test_gpt_neo_parity_right_padding(class_name, tmp_path):
    # In local layers a padding query whose window holds only padding sees no key;
    # GPT-Neo's reference then spreads it over a mask-dependent set, so compare real tokens.
    path = hf_checkpoint(class_name, tiny_config(), tmp_path)
    print(assert_parity_on_real_tokens(class_name, path, right_padded(random_inputs())))


@pytest.mark.parametrize("class_name", CLASSES)
def test_gpt_neo_parity_left_padding(class_name, tmp_path):
    path = hf_checkpoint(class_name, tiny_config(), tmp_path)
    print(assert_parity_on_real_tokens(class_name, path, left_padded(random_inputs())))


def test_gpt_neo_save_pretrained_round_trip(tmp_path):
    assert_round_trip("GPTNeoForCausalLM", tiny_config(), tmp_path, random_inputs(pad_lengths=()))


def test_auto_causal_lm_picks_gpt_neo(tmp_path):
    path = hf_checkpoint("GPTNeoForCausalLM", tiny_config(), tmp_path)
    assert type(tfmodels.AutoModelForCausalLM.from_pretrained(path)) is tfmodels.GPTNeoForCausalLM
