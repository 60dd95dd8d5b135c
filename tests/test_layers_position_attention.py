"""Layer tests for the issue-3 attention and position layers (see tests/layer_checks.py):
disentangled attention, rotary embedding/attention, span-convolution
attention, grouped dense, relative position bias, the DeBERTa convolution
branch, and the relative-position bucket functions; the Reformer layers
(tests/test_reformer_layers.py: LSH and local attention, axial positions)."""

import keras
import numpy as np
import pytest

from tests.layer_checks import check_config_round_trip, check_fit_step, check_mixed_precision, check_xla_matches_eager
from tests.test_reformer_layers import NO_MIXED_PRECISION, REFORMER_LAYERS
from tfmodels.layers.attention.disentangled_attention import DisentangledAttention, DisentangledEncoderBlock
from tfmodels.layers.attention.rotary_attention import RotaryAttention, RotaryEncoderBlock
from tfmodels.layers.attention.span_conv_attention import SpanConvAttention, SpanConvEncoderBlock
from tfmodels.layers.convolution import MaskedConvResidual
from tfmodels.layers.feed_forward import FeedForward
from tfmodels.layers.grouped_dense import GroupedDense
from tfmodels.layers.position.relative import log_bucket_positions, relative_positions, t5_bucket_positions
from tfmodels.layers.position.relative_bias import RelativePositionBias
from tfmodels.layers.position.rotary import RotaryEmbedding

rng = np.random.RandomState(0)
HIDDEN = rng.normal(size=(2, 5, 16)).astype("float32")
HEADS = rng.normal(size=(2, 5, 4, 4)).astype("float32")
TOKEN_MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype="int32")
REL = {"relative_pos": np.asarray(log_bucket_positions(relative_positions(5, 5), 4, 8)),
       "rel_embeddings": rng.normal(size=(8, 16)).astype("float32")}
DEBERTA = dict(pos_att_type=("c2p", "p2c"), position_buckets=4, max_relative_positions=8)

LAYERS = {
    "disentangled_attention": (lambda dtype="float32": DisentangledAttention(
        num_heads=4, key_dim=4, **DEBERTA, dtype=dtype), [HIDDEN], REL),
    "disentangled_attention_shared_v1": (lambda dtype="float32": DisentangledAttention(
        num_heads=4, key_dim=4, pos_att_type=("c2p", "p2c"), max_relative_positions=4, dynamic_span=True,
        dtype=dtype), [HIDDEN], {"relative_pos": REL["relative_pos"], "rel_embeddings": REL["rel_embeddings"]}),
    "disentangled_block": (lambda dtype="float32": DisentangledEncoderBlock(
        num_heads=4, intermediate_size=24, share_att_key=True, **DEBERTA, dtype=dtype), [HIDDEN], REL),
    "rotary_embedding": (lambda dtype="float32": RotaryEmbedding(16, 4, dtype=dtype), [HEADS], {}),
    "rotary_embedding_half_split": (lambda dtype="float32": RotaryEmbedding(16, 4, interleaved=False, dtype=dtype),
                                    [HEADS], {}),
    "rotary_attention": (lambda dtype="float32": RotaryAttention(
        num_heads=4, key_dim=4, max_position_embeddings=16, rotary_value=True, dtype=dtype), [HIDDEN], {}),
    "rotary_block": (lambda dtype="float32": RotaryEncoderBlock(
        max_position_embeddings=16, num_heads=4, intermediate_size=24, dtype=dtype), [HIDDEN], {}),
    "span_conv_attention": (lambda dtype="float32": SpanConvAttention(
        num_heads=2, key_dim=4, conv_kernel_size=3, output_dim=16, dtype=dtype), [HIDDEN], {}),
    "span_conv_block": (lambda dtype="float32": SpanConvEncoderBlock(
        head_ratio=2, conv_kernel_size=5, num_groups=2, num_heads=4, intermediate_size=24, dtype=dtype), [HIDDEN], {}),
    "grouped_dense": (lambda dtype="float32": GroupedDense(12, groups=4, dtype=dtype), [HIDDEN], {}),
    "grouped_feed_forward": (lambda dtype="float32": FeedForward(24, num_groups=2, dtype=dtype), [HIDDEN], {}),
    "conv_residual": (lambda dtype="float32": MaskedConvResidual(16, kernel_size=3, groups=2, dtype=dtype),
                      [HIDDEN, HIDDEN[::-1]], {"token_mask": TOKEN_MASK}),
    **REFORMER_LAYERS,
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_config_round_trip(name):
    make, inputs, kwargs = LAYERS[name]
    check_config_round_trip(make(), inputs, kwargs)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_xla_matches_eager(name):
    make, inputs, kwargs = LAYERS[name]
    check_xla_matches_eager(make(), inputs, kwargs)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_fit_step(name):
    make, inputs, kwargs = LAYERS[name]
    if name.startswith("rotary_embedding"):
        pytest.skip("RotaryEmbedding has no weights")
    check_fit_step(make, inputs, kwargs)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_mixed_precision(name):
    if name in NO_MIXED_PRECISION:
        pytest.skip("chunked LSH attention: buckets may change in half precision (tests/test_reformer_layers.py)")
    make, inputs, kwargs = LAYERS[name]
    check_mixed_precision(make, inputs, kwargs)


def make_bias(dtype="float32", bidirectional=True):
    return RelativePositionBias(num_buckets=8, num_heads=4, max_distance=16, bidirectional=bidirectional,
                                dtype=dtype)


def test_relative_position_bias_round_trip_xla_and_mixed_precision():
    check_config_round_trip(make_bias(), [HIDDEN])
    check_xla_matches_eager(make_bias(bidirectional=False), [HIDDEN])
    check_mixed_precision(make_bias, [HIDDEN])
    assert make_bias()(HIDDEN).shape == (1, 4, 5, 5)


def test_relative_position_bias_fit_step():
    layer = make_bias()
    x = keras.Input((5, 16))
    out = keras.layers.Lambda(lambda t: keras.ops.mean(t[0]) + 0.0 * keras.ops.mean(t[1], axis=(1, 2)))(
        [layer(x), x])
    model = keras.Model(x, out)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = layer.embeddings.numpy().copy()
    model.fit(HIDDEN, np.ones((2,), "float32"), epochs=1, batch_size=2, verbose=0)
    assert not np.array_equal(before, layer.embeddings.numpy())


def test_t5_buckets_match_reference_formula():
    """Bucket ids read through `transformers`' public T5 modules: a relative-bias table whose
    entry b is b gives back each relative position's bucket from `compute_bias`."""
    torch = pytest.importorskip("torch")
    import transformers

    length, num_buckets, max_distance = 200, 32, 128
    for is_decoder in (False, True):  # bidirectional buckets in the encoder, causal in the decoder
        config = transformers.T5Config(vocab_size=10, d_model=8, d_kv=4, num_heads=1, num_layers=1,
                                       relative_attention_num_buckets=num_buckets,
                                       relative_attention_max_distance=max_distance, is_decoder=is_decoder)
        stack = transformers.T5Model(config).decoder if is_decoder else transformers.T5Model(config).encoder
        attention = stack.block[0].layer[0].SelfAttention
        with torch.no_grad():
            attention.relative_attention_bias.weight.copy_(torch.arange(num_buckets, dtype=torch.float32)[:, None])
            expected = attention.compute_bias(length, length)[0, 0].numpy().astype("int64")
        rel = np.arange(length)[None, :] - np.arange(length)[:, None]  # key - query
        ours = np.asarray(t5_bucket_positions(rel, not is_decoder, num_buckets, max_distance))
        np.testing.assert_array_equal(ours, expected)


@pytest.mark.parametrize("position_buckets, max_relative_positions", [(6, 24), (32, 64)])
def test_log_buckets_match_reference(position_buckets, max_relative_positions, tmp_path):
    """Log-bucketed relative positions, end to end through a DeBERTa-v2 model on sequences
    longer than `max_relative_positions` (so the logarithmic range is used)."""
    import transformers

    from tests.helpers import assert_parity, hf_checkpoint, random_inputs

    config = transformers.DebertaV2Config(
        vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=20,
        max_position_embeddings=256, relative_attention=True, position_buckets=position_buckets,
        max_relative_positions=max_relative_positions, pos_att_type=["p2c", "c2p"], share_att_key=True,
        norm_rel_ebd="layer_norm", type_vocab_size=0)
    path = hf_checkpoint("DebertaV2Model", config, tmp_path)
    inputs = random_inputs(batch_size=2, seq_len=2 * max_relative_positions + 3, vocab_size=40, pad_lengths=(30,))
    print(assert_parity("DebertaV2Model", path, inputs))


def test_rotary_requires_even_dim_and_relative_attention_requires_tables():
    with pytest.raises(ValueError, match="even feature size"):
        RotaryEmbedding(8, 5)
    with pytest.raises(ValueError, match="pos_att_type"):
        DisentangledAttention(num_heads=2, key_dim=4, pos_att_type=("c2c",))
    with pytest.raises(ValueError, match="rel_embeddings"):
        DisentangledAttention(num_heads=4, key_dim=4)(HIDDEN)
