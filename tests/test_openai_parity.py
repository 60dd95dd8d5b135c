"""OpenAI GPT classes against `transformers` PyTorch on tiny random configs."""

import pytest
import transformers

import tfmodels
from tests.decoder_helpers import assert_parity_on_real_tokens, assert_round_trip, left_padded, right_padded
from tests.helpers import assert_parity, hf_checkpoint, random_inputs

CLASSES = ["OpenAIGPTModel", "OpenAIGPTLMHeadModel"]


def tiny_config(**overrides):
    fields = dict(vocab_size=99, n_embd=32, n_layer=2, n_head=4, n_positions=64, afn="gelu")
    fields.update(overrides)
    return transformers.OpenAIGPTConfig(**fields)


@pytest.mark.parametrize("class_name", CLASSES)
def test_openai_parity_right_padding(class_name, tmp_path):
    path = hf_checkpoint(class_name, tiny_config(), tmp_path)
    print(assert_parity(class_name, path, right_padded(random_inputs())))


@pytest.mark.parametrize("class_name", CLASSES)
def test_openai_parity_left_padding(class_name, tmp_path):
    path = hf_checkpoint(class_name, tiny_config(), tmp_path)
    print(assert_parity_on_real_tokens(class_name, path, left_padded(random_inputs())))


def test_openai_save_pretrained_round_trip(tmp_path):
    assert_round_trip("OpenAIGPTLMHeadModel", tiny_config(), tmp_path, right_padded(random_inputs()))


def test_auto_causal_lm_picks_openai(tmp_path):
    path = hf_checkpoint("OpenAIGPTLMHeadModel", tiny_config(), tmp_path)
    assert type(tfmodels.AutoModelForCausalLM.from_pretrained(path)) is tfmodels.OpenAIGPTLMHeadModel
