"""Every Funnel class against `transformers` PyTorch on tiny random configs, with padding."""

import numpy as np
import pytest
import transformers

import tfmodels
from tests.helpers import assert_parity, compare_outputs, hf_checkpoint, random_inputs, torch_outputs
from tests.test_mixed_precision import assert_close_to_float32

FUNNEL_CLASSES = [
    "FunnelModel",
    "FunnelBaseModel",
    "FunnelForSequenceClassification",
    "FunnelForMaskedLM",
    "FunnelForTokenClassification",
    "FunnelForQuestionAnswering",
    "FunnelForPreTraining",
]


def tiny_funnel_config(**overrides):
    fields = dict(
        vocab_size=99, block_sizes=[1, 2], num_decoder_layers=1, d_model=32, n_head=4, d_head=8, d_inner=37,
        num_labels=3, hidden_act="gelu_new",
    )
    fields.update(overrides)
    return transformers.FunnelConfig(**fields)


@pytest.mark.parametrize("class_name", FUNNEL_CLASSES)
def test_funnel_parity(class_name, tmp_path):
    num_labels = 2 if class_name == "FunnelForQuestionAnswering" else 3
    path = hf_checkpoint(class_name, tiny_funnel_config(num_labels=num_labels), tmp_path)
    diffs = assert_parity(class_name, path, random_inputs(type_vocab_size=3))
    print(class_name, diffs)


@pytest.mark.parametrize(
    "overrides",
    [
        dict(attention_type="factorized", block_sizes=[1, 1, 2]),
        dict(separate_cls=False, block_sizes=[1, 1, 2], pooling_type="max"),
        dict(block_sizes=[1, 3], block_repeats=[2, 1], truncate_seq=False),
        dict(pool_q_only=False, attention_type="factorized", block_sizes=[2, 1, 1]),
    ],
    ids=["factorized", "no_separate_cls_max", "odd_blocks_repeats_no_truncate", "pool_qkv_factorized"],
)
def test_funnel_options_parity(overrides, tmp_path):
    path = hf_checkpoint("FunnelModel", tiny_funnel_config(**overrides), tmp_path)
    assert_parity("FunnelModel", path, random_inputs(seq_len=11, type_vocab_size=3, pad_lengths=(6, 2)))


def test_funnel_multiple_choice_parity(tmp_path):
    path = hf_checkpoint("FunnelForMultipleChoice", tiny_funnel_config(), tmp_path)
    flat = random_inputs(batch_size=4, type_vocab_size=3, pad_lengths=(5, 2, 7))
    inputs = {k: v.reshape(2, 2, -1) for k, v in flat.items()}
    assert_parity("FunnelForMultipleChoice", path, inputs)


def test_funnel_losses_parity(tmp_path):
    path = hf_checkpoint("FunnelForPreTraining", tiny_funnel_config(), tmp_path)
    inputs = random_inputs(type_vocab_size=3)
    labels = np.random.RandomState(3).randint(0, 2, inputs["input_ids"].shape)
    diffs = assert_parity("FunnelForPreTraining", path, {**inputs, "labels": labels}, hidden_and_attentions=False)
    assert "loss" in diffs


@pytest.mark.parametrize("class_name", ["FunnelForSequenceClassification", "FunnelForMaskedLM"])
def test_funnel_save_pretrained_round_trip(class_name, tmp_path):
    path = hf_checkpoint(class_name, tiny_funnel_config(), tmp_path / "hf")
    model = getattr(tfmodels, class_name).from_pretrained(path)
    model.save_pretrained(tmp_path / "ours")
    inputs = random_inputs(type_vocab_size=3)
    reference = torch_outputs(class_name, str(tmp_path / "ours"), inputs)
    ours = {k: np.asarray(v) for k, v in model(inputs, training=False).items()}
    compare_outputs(ours, reference)


def test_funnel_auto_and_static_length_error(tmp_path):
    path = hf_checkpoint("FunnelForTokenClassification", tiny_funnel_config(), tmp_path)
    assert type(tfmodels.AutoModel.from_pretrained(path)) is tfmodels.FunnelModel
    model = tfmodels.AutoModelForTokenClassification.from_pretrained(path)
    assert type(model) is tfmodels.FunnelForTokenClassification
    with pytest.raises(ValueError, match="static sequence length"):
        model.backbone._encode({"input_ids": _dynamic_ids()}, False, False)


def _dynamic_ids():
    class _Ids:  # a stand-in with an unknown length, like a traced `(None, None)` input
        shape = (2, None)

    return _Ids()


def test_funnel_xla_and_mixed_precision(tmp_path):
    import keras
    import tensorflow as tf

    path = hf_checkpoint("FunnelForMaskedLM", tiny_funnel_config(attention_type="factorized"), tmp_path)
    model = tfmodels.FunnelForMaskedLM.from_pretrained(path)
    inputs = {k: tf.constant(v, tf.int32) for k, v in random_inputs(type_vocab_size=3).items()}
    eager = model(inputs, training=False)["logits"]
    compiled = tf.function(lambda x: model(x, training=False)["logits"], jit_compile=True)(inputs)
    np.testing.assert_allclose(compiled.numpy(), eager.numpy(), atol=1e-5)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    mixed = tfmodels.FunnelForMaskedLM.from_pretrained(path)
    assert_close_to_float32(mixed(inputs, training=False)["logits"], eager, "mixed_bfloat16")


def test_funnel_untied_lm_head_parity_and_round_trip(tmp_path):
    """`tie_word_embeddings=False`: `lm_head.weight` loads into `MaskedLMHead.decoder` and saves back."""
    from tests.helpers import assert_save_round_trip

    path = hf_checkpoint("FunnelForMaskedLM", tiny_funnel_config(tie_word_embeddings=False), tmp_path / "hf")
    inputs = random_inputs(type_vocab_size=3)
    print(assert_parity("FunnelForMaskedLM", path, inputs))
    print(assert_save_round_trip("FunnelForMaskedLM", path, inputs, tmp_path / "ours"))
