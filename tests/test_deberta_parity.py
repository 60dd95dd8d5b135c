"""DeBERTa (v1) and DeBERTa-v2 classes against `transformers` PyTorch on tiny random configs."""

import numpy as np
import pytest
import transformers

import tfmodels
from tests.helpers import assert_parity, compare_outputs, hf_checkpoint, random_inputs, torch_outputs

V2_CLASSES = [
    "DebertaV2Model",
    "DebertaV2ForSequenceClassification",
    "DebertaV2ForTokenClassification",
    "DebertaV2ForQuestionAnswering",
    "DebertaV2ForMaskedLM",
]
V1_CLASSES = [name.replace("V2", "") for name in V2_CLASSES]
# Same code paths as covered by the default run; opt in with `-m slow`.
SLOW = pytest.mark.slow


def tiny_config(class_name, **overrides):
    fields = dict(
        vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=64, type_vocab_size=3, hidden_act="gelu", relative_attention=True,
        pos_att_type=["c2p", "p2c"], max_relative_positions=16, pooler_hidden_act="gelu",
        num_labels=2 if class_name.endswith("QuestionAnswering") else 3,
    )
    fields.update(overrides)
    config_class = transformers.DebertaV2Config if "V2" in class_name else transformers.DebertaConfig
    return config_class(**fields)


V3_STYLE = dict(position_buckets=8, share_att_key=True, norm_rel_ebd="layer_norm", position_biased_input=False,
                pos_att_type="p2c|c2p", max_relative_positions=16)
V2_VARIANTS = {
    "plain": {},
    "v3_style": V3_STYLE,
    "buckets_separate_keys": dict(position_buckets=6, share_att_key=False),
    "conv_embedding_size": dict(conv_kernel_size=3, conv_groups=2, embedding_size=24, position_buckets=8),
    "c2p_only": dict(pos_att_type=["c2p"], share_att_key=True, norm_rel_ebd="layer_norm"),
    "no_relative": dict(relative_attention=False),
}


@pytest.mark.parametrize("class_name", V2_CLASSES)
def test_deberta_v2_parity(class_name, tmp_path):
    path = hf_checkpoint(class_name, tiny_config(class_name, **V3_STYLE), tmp_path)
    print(class_name, assert_parity(class_name, path, random_inputs(type_vocab_size=3)))


@pytest.mark.parametrize("overrides", list(V2_VARIANTS.values()), ids=list(V2_VARIANTS))
def test_deberta_v2_options_parity(overrides, tmp_path):
    config = tiny_config("DebertaV2Model", **overrides)
    path = hf_checkpoint("DebertaV2Model", config, tmp_path)
    print(overrides, assert_parity("DebertaV2Model", path, random_inputs(type_vocab_size=3)))


def test_deberta_v2_long_sequence_buckets_parity(tmp_path):
    """Distances beyond `position_buckets // 2` exercise the log buckets."""
    config = tiny_config("DebertaV2Model", position_buckets=6, max_relative_positions=24, share_att_key=True)
    path = hf_checkpoint("DebertaV2Model", config, tmp_path)
    inputs = random_inputs(seq_len=30, type_vocab_size=3, pad_lengths=(20, 7))
    assert_parity("DebertaV2Model", path, inputs)


def test_deberta_v2_masked_lm_non_legacy_parity(tmp_path):
    path = hf_checkpoint("DebertaV2ForMaskedLM", tiny_config("DebertaV2ForMaskedLM", legacy=False), tmp_path)
    assert_parity("DebertaV2ForMaskedLM", path, random_inputs(type_vocab_size=3))


def test_deberta_v2_multiple_choice_parity(tmp_path):
    path = hf_checkpoint("DebertaV2ForMultipleChoice", tiny_config("DebertaV2ForMultipleChoice"), tmp_path)
    flat = random_inputs(batch_size=4, type_vocab_size=3, pad_lengths=(5, 2, 7))
    assert_parity("DebertaV2ForMultipleChoice", path, {k: v.reshape(2, 2, -1) for k, v in flat.items()})


@pytest.mark.parametrize("class_name", [
    name if name in ("DebertaModel", "DebertaForMaskedLM", "DebertaForSequenceClassification")
    else pytest.param(name, marks=SLOW) for name in V1_CLASSES
])
def test_deberta_v1_parity(class_name, tmp_path):
    path = hf_checkpoint(class_name, tiny_config(class_name), tmp_path)
    print(class_name, assert_parity(class_name, path, random_inputs(type_vocab_size=3)))


def test_deberta_v1_short_span_parity(tmp_path):
    """Sequences longer than `max_relative_positions` clip the relative positions."""
    config = tiny_config("DebertaModel", max_relative_positions=4, pos_att_type="c2p|p2c")
    path = hf_checkpoint("DebertaModel", config, tmp_path)
    assert_parity("DebertaModel", path, random_inputs(type_vocab_size=3))


@pytest.mark.parametrize("class_name", ["DebertaV2ForMaskedLM", "DebertaForSequenceClassification"])
def test_deberta_save_pretrained_round_trip(class_name, tmp_path):
    overrides = dict(V3_STYLE, conv_kernel_size=3) if "V2" in class_name else {}
    path = hf_checkpoint(class_name, tiny_config(class_name, **overrides), tmp_path / "hf")
    model = getattr(tfmodels, class_name).from_pretrained(path)
    model.save_pretrained(tmp_path / "ours")
    inputs = random_inputs(type_vocab_size=3)
    reloaded = torch_outputs(class_name, str(tmp_path / "ours"), inputs)
    ours = {k: np.asarray(v) for k, v in model(inputs, training=False).items()}
    compare_outputs(ours, reloaded)
    again = getattr(tfmodels, class_name).from_pretrained(tmp_path / "ours")
    np.testing.assert_array_equal(again(inputs)["logits"].numpy(), ours["logits"])


def test_auto_classes_pick_deberta(tmp_path):
    path = hf_checkpoint("DebertaV2ForTokenClassification", tiny_config("DebertaV2ForTokenClassification"), tmp_path)
    assert type(tfmodels.AutoModel.from_pretrained(path)) is tfmodels.DebertaV2Model
    assert type(tfmodels.AutoModelForTokenClassification.from_pretrained(path)) is tfmodels.DebertaV2ForTokenClassification


def test_deberta_v2_enhanced_mask_decoder_step_parity(tmp_path):
    """The EMD step: queries from one stream, keys/values from another (`value=`), as `query_states` in the reference."""
    import tensorflow as tf
    import torch

    from tfmodels.models.deberta.modeling import deberta_masks

    path = hf_checkpoint("DebertaV2Model", tiny_config("DebertaV2Model", **V3_STYLE), tmp_path)
    reference = transformers.DebertaV2Model.from_pretrained(path, attn_implementation="eager").eval()
    model = tfmodels.DebertaV2Model.from_pretrained(path)
    inputs = random_inputs(type_vocab_size=3)
    with torch.no_grad():
        hidden = reference(**{k: torch.as_tensor(v) for k, v in inputs.items()}, output_hidden_states=True)
        hidden = hidden.hidden_states
        encoder = reference.encoder
        expected, _ = encoder.layer[-1](
            hidden[-2], encoder.get_attention_mask(torch.as_tensor(inputs["attention_mask"])),
            query_states=hidden[-1], relative_pos=encoder.get_rel_pos(hidden[0]),
            rel_embeddings=encoder.get_rel_embedding(),
        )
    pair_mask, _ = deberta_masks(tf.constant(inputs["attention_mask"]), tf.constant(inputs["input_ids"]))
    ours = model.encoder_layers[-1](
        tf.constant(hidden[-1].numpy()), value=tf.constant(hidden[-2].numpy()), attention_mask=pair_mask,
        **model._relative_inputs(inputs["input_ids"].shape[1]),
    )
    compare_outputs({"emd": ours.numpy()}, {"emd": expected.numpy()})
