"""Packed tokens (`use_packed_tokens`, `tfmodels.layers.packing`): real positions equal `transformers`.

With packing the position-wise layers see only the real tokens, so every
output at a real position must still match the PyTorch reference (<= 1e-5),
padded positions of the states are zeros, and heads' losses are unchanged.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
import torch
import transformers

import tfmodels
from tfmodels.layers.packing import TokenPacking
from tests.helpers import TOLERANCE, hf_checkpoint, random_inputs, torch_outputs

SMALL = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
             max_position_embeddings=64, hidden_act="gelu")

# (reference class, config) for backbones whose blocks pack; each exercises another path through EncoderModel.
PACKING = {
    "BertModel": transformers.BertConfig(**SMALL, type_vocab_size=2),
    "RobertaModel": transformers.RobertaConfig(**SMALL, pad_token_id=1),  # positions from the ids, pre-packing
    "AlbertModel": transformers.AlbertConfig(**SMALL, embedding_size=24, num_hidden_groups=1),  # shared blocks
    "MPNetModel": transformers.MPNetConfig(**SMALL),  # relative position bias as attention_bias
    "RoFormerModel": transformers.RoFormerConfig(**SMALL, embedding_size=32, rotary_value=True),  # rotary hooks
    "MegatronBertModel": transformers.MegatronBertConfig(**SMALL),  # pre-norm, final LayerNorm
}


def _inputs(with_types=False):
    return random_inputs(batch_size=4, seq_len=9, type_vocab_size=2 if with_types else 0, pad_lengths=(5, 2, 8))


# BERT (token types), RoFormer (rotary hooks) and MPNet (shared bias) in the default suite; the rest are slow.
DEFAULT = ("BertModel", "RoFormerModel", "MPNetModel")


@pytest.mark.parametrize("class_name", [name if name in DEFAULT else pytest.param(name, marks=pytest.mark.slow)
                                        for name in sorted(PACKING)])
def test_packed_outputs_match_the_reference_at_real_positions(class_name, tmp_path):
    path = hf_checkpoint(class_name, PACKING[class_name], tmp_path)
    inputs = _inputs(with_types=class_name == "BertModel")
    reference = torch_outputs(class_name, path, inputs, output_hidden_states=True, output_attentions=True)
    model = getattr(tfmodels, class_name).from_pretrained(path).use_packed_tokens()
    ours = tf.function(lambda x: model(x, output_hidden_states=True, output_attentions=True))(
        {k: tf.constant(v) for k, v in inputs.items()})
    real = inputs["attention_mask"].astype(bool)
    assert not real.all() and real.any(axis=1).all()

    states = [("last_hidden_state", ours["last_hidden_state"], reference["last_hidden_state"])]
    states += [(f"hidden_states[{i}]", a, b) for i, (a, b) in
               enumerate(zip(ours["hidden_states"], reference["hidden_states"]))]
    assert len(ours["hidden_states"]) == len(reference["hidden_states"])
    diffs = {}
    for name, value, expected in states:
        value = value.numpy()
        diffs[name] = np.abs(value[real] - expected[real]).max()
        assert np.all(value[~real] == 0), f"{name}: padded positions are not zeros"
    # Probabilities of real queries (rows of padded queries are left out: the reference attends from padding too).
    assert len(ours["attentions"]) == len(reference["attentions"])
    for i, (value, expected) in enumerate(zip(ours["attentions"], reference["attentions"])):
        diffs[f"attentions[{i}]"] = np.abs(np.transpose(value.numpy(), (0, 2, 1, 3))[real]
                                           - np.transpose(expected, (0, 2, 1, 3))[real]).max()
    if "pooler_output" in reference:
        diffs["pooler_output"] = np.abs(ours["pooler_output"].numpy() - reference["pooler_output"]).max()
    bad = {k: v for k, v in diffs.items() if not v <= TOLERANCE}
    assert not bad, f"packed parity failure (tolerance {TOLERANCE}): {bad}"


def test_packed_head_loss_and_training_step_match_unpacked(tmp_path):
    """A classification head's logits and loss equal the reference's, and one `fit()` step equals the unpacked one."""
    config = transformers.BertConfig(**SMALL, num_labels=3, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    path = hf_checkpoint("BertForSequenceClassification", config, tmp_path)
    inputs = _inputs()
    labels = np.array([0, 2, 1, 2])
    reference = torch_outputs("BertForSequenceClassification", path, inputs, labels=torch.tensor(labels))
    packed = tfmodels.BertForSequenceClassification.from_pretrained(path).use_packed_tokens()
    outputs = packed({**inputs, "labels": labels})
    assert np.abs(outputs["logits"].numpy() - reference["logits"]).max() <= TOLERANCE
    assert abs(float(outputs["loss"]) - float(reference["loss"])) <= TOLERANCE

    plain = tfmodels.BertForSequenceClassification.from_pretrained(path)
    for model in (plain, packed):
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        model.fit({**inputs, "labels": labels}, batch_size=4, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(plain.trainable_weights, packed.trainable_weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=TOLERANCE, rtol=0, err_msg=a.path)
    moved = max(np.abs(a.numpy() - w).max() for a, w in
                zip(plain.trainable_weights, tfmodels.BertForSequenceClassification.from_pretrained(path)
                    .trainable_weights))
    assert moved > 1e-4  # the step changed the weights, so the comparison above means something


def test_packing_is_refused_where_blocks_cannot_pack(tmp_path):
    config = transformers.ConvBertConfig(**SMALL, embedding_size=32)
    model = tfmodels.ConvBertModel.from_pretrained(hf_checkpoint("ConvBertModel", config, tmp_path / "convbert"))
    with pytest.raises(ValueError, match="cannot run packed tokens: its attention"):
        model.use_packed_tokens()
    decoder = tfmodels.BertModel.from_pretrained(
        hf_checkpoint("BertModel", transformers.BertConfig(**SMALL, is_decoder=True), tmp_path / "decoder"))
    with pytest.raises(ValueError, match="is_decoder=True"):
        decoder.use_packed_tokens()


def test_token_packing_round_trip_and_mask_rank():
    mask = tf.constant([[1, 1, 0], [1, 0, 0]])
    packing = TokenPacking.from_attention_mask(mask)
    x = tf.reshape(tf.range(12, dtype=tf.float32), (2, 3, 2))
    packed = packing.pack(x)
    np.testing.assert_array_equal(packed.numpy(), [[[0, 1], [2, 3], [6, 7]]])
    np.testing.assert_array_equal(packing.unpack(packed).numpy(), x.numpy() * mask.numpy()[..., None])
    with pytest.raises(ValueError, match=r"shape \(batch, seq_len\)"):
        TokenPacking.from_attention_mask(tf.ones((2, 3, 3)))
    filled = TokenPacking.from_attention_mask(mask, multiple=4)  # 3 real tokens + 1 filler row
    packed = filled.pack(x)
    assert packed.shape[1] == 4
    np.testing.assert_array_equal(filled.unpack(packed).numpy(), x.numpy() * mask.numpy()[..., None])



def test_head_major_unpack_and_pack_are_a_transpose_of_the_padded_layout():
    """`unpack_heads` equals `unpack` transposed to `(B, N, S, H)` at real positions, `pack_heads` inverts it."""
    mask = tf.constant([[1, 1, 0, 0], [0, 1, 1, 1], [1, 0, 1, 0]])  # padding at the start and in the middle too
    real = mask.numpy().astype(bool)
    x = tf.random.stateless_normal((3, 4, 2, 5), seed=(1, 2))  # (B, S, N, H)
    for multiple in (1, 4):
        packing = TokenPacking.from_attention_mask(mask, multiple=multiple)
        packed = packing.pack(x)
        heads = packing.unpack_heads(packed)
        assert heads.shape == (3, 2, 4, 5)
        np.testing.assert_array_equal(np.transpose(heads.numpy(), (0, 2, 1, 3))[real], x.numpy()[real])
        np.testing.assert_array_equal(packing.pack_heads(heads).numpy(), packed.numpy())
        # Without zeros, padded positions copy real rows (finite values the attention mask hides).
        loose = packing.unpack(packed, zeros=False).numpy()
        np.testing.assert_array_equal(loose[real], x.numpy()[real])
        assert all(any(np.array_equal(row, token) for token in x.numpy()[real]) for row in loose[~real])


def test_packed_batch_with_rows_of_padding_only(tmp_path):
    """A row without real tokens, or a whole batch of them, runs packed; real positions match the unpacked model."""
    path = hf_checkpoint("BertModel", transformers.BertConfig(**SMALL), tmp_path)
    plain = tfmodels.BertModel.from_pretrained(path)
    packed = tfmodels.BertModel.from_pretrained(path).use_packed_tokens()
    inputs = {k: tf.constant(v) for k, v in _inputs().items()}
    for mask in ([[1] * 9, [0] * 9, [1] * 4 + [0] * 5, [0] * 9], [[0] * 9] * 4):
        batch = {**inputs, "attention_mask": tf.constant(mask)}
        real = np.array(mask, bool)
        states = tf.function(lambda x: packed(x)["last_hidden_state"])(batch).numpy()
        assert np.all(states[~real] == 0)
        if real.any():
            expected = plain(batch)["last_hidden_state"].numpy()
            assert np.abs(states[real] - expected[real]).max() <= TOLERANCE

def test_sentence_embedder_packs_by_default_in_graph_mode_only(tmp_path):
    path = hf_checkpoint("BertModel", transformers.BertConfig(**SMALL), tmp_path / "bert")
    model = tfmodels.BertModel.from_pretrained(path)
    assert tfmodels.SentenceEmbedder(model, tokenizer=None).packed_tokens
    assert not tfmodels.SentenceEmbedder(model, tokenizer=None, jit_compile=True).packed_tokens
    convbert = tfmodels.ConvBertModel.from_pretrained(
        hf_checkpoint("ConvBertModel", transformers.ConvBertConfig(**SMALL, embedding_size=32), tmp_path / "conv"))
    assert not tfmodels.SentenceEmbedder(convbert, tokenizer=None).packed_tokens
    with pytest.raises(ValueError, match="packed_tokens=True, but ConvBertModel cannot run packed tokens"):
        tfmodels.SentenceEmbedder(convbert, tokenizer=None, packed_tokens=True)


def test_packed_model_compiles_under_xla(tmp_path):
    """Filler rows are selected with `tf.where`, so a packed call also compiles with `jit_compile=True`."""
    path = hf_checkpoint("BertModel", transformers.BertConfig(**SMALL), tmp_path)
    inputs = {k: tf.constant(v) for k, v in _inputs().items()}
    plain = tfmodels.BertModel.from_pretrained(path)
    packed = tfmodels.BertModel.from_pretrained(path).use_packed_tokens()
    expected = plain(inputs)["last_hidden_state"].numpy()
    states = tf.function(lambda x: packed(x)["last_hidden_state"], jit_compile=True)(inputs).numpy()
    real = inputs["attention_mask"].numpy().astype(bool)
    assert np.abs(states[real] - expected[real]).max() <= TOLERANCE
    assert np.all(states[~real] == 0)
