"""Every XLNet class against `transformers` PyTorch: padding, segments, mems, perm_mask, target_mapping."""

import numpy as np
import pytest
import torch
import transformers

import tfmodels
from tests.helpers import _to_numpy, assert_parity, compare_outputs, hf_checkpoint, random_inputs, torch_outputs
from tests.test_mixed_precision import assert_close_to_float32

XLNET_CLASSES = [
    "XLNetModel",
    "XLNetLMHeadModel",
    "XLNetForSequenceClassification",
    "XLNetForTokenClassification",
    "XLNetForQuestionAnsweringSimple",
]


def tiny_xlnet_config(**overrides):
    fields = dict(vocab_size=99, d_model=32, n_layer=2, n_head=4, d_inner=37, num_labels=3, mem_len=None,
                  ff_activation="gelu")
    fields.update(overrides)
    return transformers.XLNetConfig(**fields)


def xlnet_inputs(seq_len=9, **kwargs):
    return random_inputs(seq_len=seq_len, type_vocab_size=2, **kwargs)


@pytest.mark.parametrize("class_name", XLNET_CLASSES)
def test_xlnet_parity(class_name, tmp_path):
    num_labels = 2 if class_name == "XLNetForQuestionAnsweringSimple" else 3
    path = hf_checkpoint(class_name, tiny_xlnet_config(num_labels=num_labels), tmp_path)
    print(class_name, assert_parity(class_name, path, xlnet_inputs()))


def test_xlnet_multiple_choice_parity(tmp_path):
    path = hf_checkpoint("XLNetForMultipleChoice", tiny_xlnet_config(), tmp_path)
    flat = xlnet_inputs(batch_size=4, pad_lengths=(5, 2, 7))
    assert_parity("XLNetForMultipleChoice", path, {k: v.reshape(2, 2, -1) for k, v in flat.items()})


def _perm_and_targets(batch_size, seq_len, num_predict=3, seed=1):
    rng = np.random.RandomState(seed)
    perm_mask = (rng.rand(batch_size, seq_len, seq_len) < 0.3).astype("float32")
    target_mapping = np.zeros((batch_size, num_predict, seq_len), dtype="float32")
    for b in range(batch_size):
        for m, position in enumerate(rng.choice(seq_len, num_predict, replace=False)):
            target_mapping[b, m, position] = 1.0
    return perm_mask, target_mapping


@pytest.mark.parametrize("overrides", [dict(), dict(attn_type="uni", same_length=True, clamp_len=4),
                                       dict(bi_data=True)], ids=["bi", "uni_same_length_clamp", "bi_data"])
def test_xlnet_two_stream_parity(overrides, tmp_path):
    path = hf_checkpoint("XLNetLMHeadModel", tiny_xlnet_config(**overrides), tmp_path)
    inputs = xlnet_inputs(batch_size=4, pad_lengths=(5, 2, 7))
    perm_mask, target_mapping = _perm_and_targets(4, 9)
    inputs = {**inputs, "perm_mask": perm_mask, "target_mapping": target_mapping}
    if overrides.get("attn_type") == "uni":
        # transformers cannot add a data mask to the causal mask in place (shape error), so uni runs causal-only.
        inputs.pop("perm_mask"), inputs.pop("attention_mask")
    assert_parity("XLNetLMHeadModel", path, inputs)


def test_xlnet_perm_mask_without_targets_parity(tmp_path):
    path = hf_checkpoint("XLNetModel", tiny_xlnet_config(bi_data=False), tmp_path)
    perm_mask, _ = _perm_and_targets(3, 9)
    assert_parity("XLNetModel", path, {**xlnet_inputs(), "perm_mask": perm_mask})


@pytest.mark.parametrize("mem_len,reuse_len", [(None, None), (6, None), (5, 4)])
def test_xlnet_multi_segment_mems_parity(mem_len, reuse_len, tmp_path):
    """Three segments; each one's memory comes from the previous call, on both sides."""
    path = hf_checkpoint("XLNetLMHeadModel", tiny_xlnet_config(mem_len=mem_len, reuse_len=reuse_len), tmp_path)
    reference = transformers.XLNetLMHeadModel.from_pretrained(path, attn_implementation="eager").eval()
    model = tfmodels.XLNetLMHeadModel.from_pretrained(path)
    torch_mems, our_mems = None, None
    for segment in range(3):
        inputs = xlnet_inputs(seq_len=7, seed=segment, pad_lengths=(7, 7))
        with torch.no_grad():
            ref = reference(**{k: torch.as_tensor(v) for k, v in inputs.items()}, mems=torch_mems, use_mems=True,
                            output_hidden_states=True, output_attentions=True)
        ours = model({**inputs, **({"mems": our_mems} if our_mems is not None else {})}, training=False,
                     output_hidden_states=True, output_attentions=True)
        diffs = compare_outputs({k: _to_numpy(v) for k, v in ours.items()},
                                {k: _to_numpy(v) for k, v in ref.items() if v is not None})
        assert "mems" in diffs, diffs
        torch_mems, our_mems = ref.mems, ours["mems"]


def test_xlnet_save_pretrained_round_trip(tmp_path):
    path = hf_checkpoint("XLNetForSequenceClassification", tiny_xlnet_config(), tmp_path / "hf")
    model = tfmodels.XLNetForSequenceClassification.from_pretrained(path)
    model.save_pretrained(tmp_path / "ours")
    inputs = xlnet_inputs()
    reference = torch_outputs("XLNetForSequenceClassification", str(tmp_path / "ours"), inputs)
    compare_outputs({k: _to_numpy(v) for k, v in model(inputs, training=False).items()}, reference)


def test_xlnet_lm_loss_and_auto(tmp_path):
    path = hf_checkpoint("XLNetLMHeadModel", tiny_xlnet_config(), tmp_path)
    inputs = xlnet_inputs()
    labels = np.random.RandomState(2).randint(0, 99, inputs["input_ids"].shape)
    diffs = assert_parity("XLNetLMHeadModel", path, {**inputs, "labels": labels}, hidden_and_attentions=False)
    assert "loss" in diffs
    assert type(tfmodels.AutoModel.from_pretrained(path)) is tfmodels.XLNetModel
    assert type(tfmodels.AutoModelForCausalLM.from_pretrained(path)) is tfmodels.XLNetLMHeadModel


def test_xlnet_xla_and_mixed_precision(tmp_path):
    import keras
    import tensorflow as tf

    path = hf_checkpoint("XLNetLMHeadModel", tiny_xlnet_config(), tmp_path)
    model = tfmodels.XLNetLMHeadModel.from_pretrained(path)
    perm_mask, target_mapping = _perm_and_targets(3, 9)
    inputs = {k: tf.constant(v, tf.int32) for k, v in xlnet_inputs().items()}
    inputs.update(perm_mask=tf.constant(perm_mask), target_mapping=tf.constant(target_mapping))
    eager = model(inputs, training=False)["logits"]
    compiled = tf.function(lambda x: model(x, training=False)["logits"], jit_compile=True)(inputs)
    np.testing.assert_allclose(compiled.numpy(), eager.numpy(), atol=1e-5)
    keras.mixed_precision.set_global_policy("mixed_float16")
    mixed = tfmodels.XLNetLMHeadModel.from_pretrained(path)
    assert_close_to_float32(mixed(inputs, training=False)["logits"], eager, "mixed_float16")


def test_xlnet_serving_function_dynamic_shapes(tmp_path):
    import tensorflow as tf

    from tfmodels.export.saved_model import make_serving_function, serving_input_names

    path = hf_checkpoint("XLNetModel", tiny_xlnet_config(bi_data=True), tmp_path)
    inputs = xlnet_inputs(batch_size=4, pad_lengths=(5, 2, 7))
    reference = torch_outputs("XLNetModel", path, inputs)
    model = tfmodels.XLNetModel.from_pretrained(path)
    serve = make_serving_function(model)  # traced over (None, None) int32 inputs
    outputs = serve(*[tf.constant(inputs[name], tf.int32) for name in serving_input_names(model)])
    # The serving signature returns the hidden states, not the memory for a next segment.
    compare_outputs({k: v.numpy() for k, v in outputs.items()}, reference, skip=("mems",))


def test_xlnet_untied_lm_head_parity_and_round_trip(tmp_path):
    """`tie_word_embeddings=False`: `lm_loss.weight` loads into `MaskedLMHead.decoder` and saves back."""
    from tests.helpers import assert_save_round_trip

    path = hf_checkpoint("XLNetLMHeadModel", tiny_xlnet_config(tie_word_embeddings=False), tmp_path / "hf")
    inputs = xlnet_inputs()
    print(assert_parity("XLNetLMHeadModel", path, inputs))
    print(assert_save_round_trip("XLNetLMHeadModel", path, inputs, tmp_path / "ours"))
