"""Keras-facing details: config objects in `from_config`, no spurious Keras build warnings."""

import warnings

import numpy as np
import pytest
import transformers

import tfmodels
from tests.helpers import hf_checkpoint
from tests.test_gpt2_parity import tiny_gpt2_config
from tests.tiny_models import tiny_config, tiny_model

BERT = tiny_config("bert")


def test_auto_from_config_accepts_a_transformers_config_object():
    model = tfmodels.AutoModel.from_config(transformers.BertConfig(**BERT))
    assert type(model) is tfmodels.BertModel
    assert model.config["hidden_size"] == 32 and model.config["num_hidden_layers"] == 2


def test_auto_from_config_object_with_overrides():
    model = tfmodels.AutoModelForSequenceClassification.from_config(transformers.BertConfig(**BERT), num_labels=5)
    logits = model({"input_ids": np.array([[5, 6, 7]], dtype="int32")})["logits"]
    assert tuple(logits.shape) == (1, 5)


def test_class_from_config_accepts_a_transformers_config_object():
    model = tfmodels.GPT2LMHeadModel.from_config(tiny_gpt2_config())
    assert model.hf_config()["n_embd"] == 32


def test_from_config_refuses_other_types():
    with pytest.raises(TypeError, match=r"dict, a config.json path, or a config object with `to_dict\(\)`.*"
                                        r"Received: int"):
        tfmodels.AutoModel.from_config(3)


DECODER_HEADS = ["GPT2LMHeadModel", "GPT2DoubleHeadsModel", "GPT2ForSequenceClassification",
                 "GPT2ForTokenClassification", "CTRLLMHeadModel", "OpenAIGPTLMHeadModel", "GPTNeoForCausalLM"]


@pytest.mark.parametrize("class_name", DECODER_HEADS)
def test_decoder_heads_build_without_keras_warnings(class_name):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model = tiny_model(class_name)
    assert model.built and model.backbone.built


def test_gpt2_from_pretrained_without_keras_warnings(tmp_path):
    path = hf_checkpoint("GPT2LMHeadModel", tiny_gpt2_config(), tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model = tfmodels.AutoModelForCausalLM.from_pretrained(path)
    assert model.backbone.built


def test_beam_question_answering_builds_with_default_top_k(tmp_path):
    # transformers' default start_n_top = end_n_top = 5 is longer than the 4-token build inputs.
    config = transformers.XLMConfig(**tiny_config("xlm"))
    assert config.start_n_top == 5
    path = hf_checkpoint("XLMForQuestionAnswering", config, tmp_path)
    model = tfmodels.XLMForQuestionAnswering.from_pretrained(path)
    outputs = model({"input_ids": np.arange(1, 8, dtype="int32")[None]}, training=False)
    assert tuple(outputs["start_top_index"].shape) == (1, 5)
