"""Every GPT-2 class against `transformers` PyTorch on tiny random configs,
right padding and left padding (with Hugging Face's `position_ids`)."""

import numpy as np
import pytest
import transformers

import tfmodels
from tests.helpers import assert_parity, hf_checkpoint, random_inputs, torch_outputs
from tests.decoder_helpers import left_padded, right_padded

GPT2_CLASSES = ["GPT2Model", "GPT2LMHeadModel", "GPT2ForSequenceClassification", "GPT2ForTokenClassification"]


def tiny_gpt2_config(**overrides):
    fields = dict(vocab_size=99, n_embd=32, n_layer=2, n_head=4, n_positions=64, n_inner=37, num_labels=3,
                  pad_token_id=0, bos_token_id=98, eos_token_id=98)
    fields.update(overrides)
    return transformers.GPT2Config(**fields)


@pytest.mark.parametrize("padding", ["right", "left"])
@pytest.mark.parametrize("class_name", GPT2_CLASSES)
def test_gpt2_parity(class_name, padding, tmp_path):
    path = hf_checkpoint(class_name, tiny_gpt2_config(), tmp_path)
    inputs = right_padded(random_inputs())
    if padding == "left":
        inputs = left_padded(inputs)
    diffs = assert_parity(class_name, path, inputs)
    print(class_name, padding, diffs)


def test_gpt2_scaling_options_parity(tmp_path):
    config = tiny_gpt2_config(scale_attn_by_inverse_layer_idx=True, activation_function="relu")
    path = hf_checkpoint("GPT2LMHeadModel", config, tmp_path)
    assert_parity("GPT2LMHeadModel", path, right_padded(random_inputs()))


def test_gpt2_double_heads_parity(tmp_path):
    path = hf_checkpoint("GPT2DoubleHeadsModel", tiny_gpt2_config(), tmp_path)
    flat = right_padded(random_inputs(batch_size=4, pad_lengths=(5, 2, 7)))
    inputs = {k: v.reshape(2, 2, -1) for k, v in flat.items()}
    inputs["mc_token_ids"] = np.array([[8, 4], [1, 6]], dtype="int64")
    diffs = assert_parity("GPT2DoubleHeadsModel", path, inputs)
    assert "mc_logits" in diffs


def test_gpt2_double_heads_losses_parity(tmp_path):
    """`loss` is the LM loss and `mc_loss` the multiple-choice loss, separately, as in transformers."""
    path = hf_checkpoint("GPT2DoubleHeadsModel", tiny_gpt2_config(), tmp_path)
    flat = right_padded(random_inputs(batch_size=4, pad_lengths=(5, 2, 7)))
    inputs = {k: v.reshape(2, 2, -1) for k, v in flat.items()}
    inputs.update(mc_token_ids=np.array([[8, 4], [1, 6]], dtype="int64"), mc_labels=np.array([1, 0]),
                  labels=np.where(inputs["attention_mask"] == 1, inputs["input_ids"], -100))
    diffs = assert_parity("GPT2DoubleHeadsModel", path, inputs, hidden_and_attentions=False)
    assert {"loss", "mc_loss"} <= set(diffs)


def test_gpt2_lm_loss_parity(tmp_path):
    path = hf_checkpoint("GPT2LMHeadModel", tiny_gpt2_config(), tmp_path)
    inputs = right_padded(random_inputs())
    labels = np.where(inputs["attention_mask"] == 1, inputs["input_ids"], -100)
    diffs = assert_parity("GPT2LMHeadModel", path, {**inputs, "labels": labels}, hidden_and_attentions=False)
    assert "loss" in diffs


@pytest.mark.parametrize("class_name", ["GPT2LMHeadModel", "GPT2DoubleHeadsModel", "GPT2ForSequenceClassification"])
def test_gpt2_save_pretrained_round_trip(class_name, tmp_path):
    path = hf_checkpoint(class_name, tiny_gpt2_config(), tmp_path / "hf")
    model = getattr(tfmodels, class_name).from_pretrained(path)
    model.save_pretrained(tmp_path / "ours")
    inputs = right_padded(random_inputs())
    if class_name == "GPT2DoubleHeadsModel":
        inputs = {k: v[:, None] for k, v in inputs.items()}
    ours = {k: np.asarray(v) for k, v in model(inputs).items()}
    reference = torch_outputs(class_name, str(tmp_path / "ours"), inputs)
    for key in ("logits",):
        np.testing.assert_allclose(ours[key], reference[key], atol=1e-5)
    reloaded = getattr(tfmodels, class_name).from_pretrained(tmp_path / "ours")
    np.testing.assert_array_equal(np.asarray(reloaded(inputs)["logits"]), ours["logits"])


def test_auto_classes_pick_gpt2(tmp_path):
    path = hf_checkpoint("GPT2LMHeadModel", tiny_gpt2_config(), tmp_path)
    assert type(tfmodels.AutoModelForCausalLM.from_pretrained(path)) is tfmodels.GPT2LMHeadModel
    assert type(tfmodels.AutoModel.from_pretrained(path)) is tfmodels.GPT2Model
