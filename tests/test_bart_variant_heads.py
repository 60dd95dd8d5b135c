"""The BART heads on the other variants' flags (mBART classification and QA; the decoder-only
causal LMs of mBART, Marian, Pegasus, Blenderbot, BlenderbotSmall) against `transformers`
PyTorch, on the tiny odd configs of tests/test_bart_parity.py and
tests/test_s2s_families_parity.py, with padding; every output within 1e-5."""

import numpy as np
import pytest

import tfmodels
from tests.helpers import hf_checkpoint
from tests.test_bart_parity import bart_config, bart_inputs
from tests.test_s2s_families_parity import family_config, parity

CAUSAL = {  # class -> config
    "MBartForCausalLM": lambda: bart_config("mbart"),
    "MarianForCausalLM": lambda: bart_config("marian"),
    "PegasusForCausalLM": lambda: bart_config("pegasus", d_model=35, encoder_attention_heads=5,
                                              decoder_attention_heads=7),
    "BlenderbotForCausalLM": lambda: family_config("blenderbot"),
    "BlenderbotSmallForCausalLM": lambda: family_config("blenderbot-small"),
}


@pytest.mark.parametrize("class_name", sorted(CAUSAL))
def test_causal_lm_parity(tmp_path, class_name):
    path = hf_checkpoint(class_name, CAUSAL[class_name](), tmp_path)
    inputs = bart_inputs(5)
    inputs = {"input_ids": inputs["input_ids"][:, :7], "attention_mask": inputs["decoder_attention_mask"],
              "labels": inputs["labels"]}
    diffs, model = parity(class_name, path, inputs)
    assert set(diffs) == {"loss", "logits", "hidden_states", "attentions"}
    assert tfmodels.AutoModelForCausalLM.model_class(model.model_type) is type(model)


@pytest.mark.parametrize("class_name", ["MBartForSequenceClassification", "MBartForQuestionAnswering"])
def test_mbart_heads_parity(tmp_path, class_name):
    path = hf_checkpoint(class_name, bart_config("mbart"), tmp_path)
    inputs = bart_inputs(3)
    inputs = {k: inputs[k] for k in ("input_ids", "attention_mask")}
    if class_name.endswith("Classification"):
        inputs["labels"] = np.array([0, 2, 1])
        auto = tfmodels.AutoModelForSequenceClassification
    else:
        inputs.update(start_positions=np.array([1, 3, 20]), end_positions=np.array([4, 5, 7]))
        auto = tfmodels.AutoModelForQuestionAnswering
    diffs, model = parity(class_name, path, inputs)
    assert {"loss", "encoder_last_hidden_state", "cross_attentions"} <= set(diffs)
    assert auto.model_class("mbart") is type(model)
