"""`BlockSparseAttention` / `BlockSparseEncoderBlock`: config round trip, errors, XLA, determinism,
linear memory, mixed precision. Parity with `transformers` is in tests/test_big_bird_parity.py."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.test_mixed_precision import assert_close_to_float32
from tfmodels.layers.attention.block_sparse_attention import BlockSparseAttention, BlockSparseEncoderBlock

HEADS, KEY_DIM, BLOCK, RANDOM = 2, 8, 4, 2


def make_layer(**kwargs):
    layer = BlockSparseAttention(HEADS, KEY_DIM, block_size=BLOCK, num_random_blocks=RANDOM, **kwargs)
    layer.build((None, None, 16))
    return layer


def inputs(seq_len=48, batch=2):
    rng = np.random.RandomState(0)
    x = rng.randn(batch, seq_len, 16).astype("float32")
    mask = np.ones((batch, seq_len), "int32")
    mask[1, 30:] = 0
    return x, mask


def test_config_round_trip():
    layer = make_layer(seed=5, max_seq_len=512)
    clone = BlockSparseAttention.from_config(layer.get_config())
    assert (clone.block_size, clone.num_random_blocks, clone.seed, clone.max_seq_len) == (BLOCK, RANDOM, 5, 512)
    block = BlockSparseEncoderBlock(num_heads=HEADS, intermediate_size=24,
                                    attention_kwargs=dict(block_size=BLOCK, num_random_blocks=RANDOM, seed=1))
    clone = BlockSparseEncoderBlock.from_config(block.get_config())
    x, mask = inputs()
    block(x, attention_mask=mask)
    clone(x, attention_mask=mask)
    clone.set_weights(block.get_weights())
    np.testing.assert_allclose(clone(x, attention_mask=mask), block(x, attention_mask=mask), atol=1e-6)


@pytest.mark.parametrize("training", [pytest.param(False, marks=pytest.mark.slow), True])  # eval: model-level test
def test_xla_matches_eager_and_is_deterministic(training):
    layer = make_layer(seed=3)
    x, mask = inputs()
    eager, probs = layer(x, attention_mask=mask, return_attention_scores=True, training=training)
    compiled = tf.function(lambda a, m: layer(a, attention_mask=m, return_attention_scores=True, training=training),
                           jit_compile=True)
    xla, xla_probs = compiled(x, mask)
    assert np.abs(eager.numpy() - xla.numpy()).max() <= 1e-5
    assert np.abs(probs.numpy() - xla_probs.numpy()).max() <= 1e-5
    again = layer(x, attention_mask=mask, training=training)
    np.testing.assert_array_equal(again.numpy(), eager.numpy())  # the same plan at every call
    totals = probs.numpy().sum(-1)
    if training:  # distinct blocks: every row's weights are all there
        np.testing.assert_allclose(totals, 1.0, atol=1e-5)
    else:  # random slots all hit block 0 and one slot's weight is stored there, as in the reference
        np.testing.assert_allclose(totals[:, :, :BLOCK], 1.0, atol=1e-5)
        assert np.all(totals[:, :, BLOCK:-BLOCK] < 1.0)
    assert np.all(eager.numpy()[1, 30:] == layer.output_dense.bias.numpy())  # padded queries: zero context


def test_training_plan_depends_on_seed_only():
    a, b, c = make_layer(seed=0), make_layer(seed=0), make_layer(seed=1)
    np.testing.assert_array_equal(a.random_plan(48, training=True), b.random_plan(48, training=True))
    assert not np.array_equal(a.random_plan(48, training=True), c.random_plan(48, training=True))
    assert not a.random_plan(48, training=False).any()  # inference: every random block is block 0
    plan = a.random_plan(48, training=True)  # (heads, blocks - 2, R): outside the window and global blocks
    rows = np.arange(1, 48 // BLOCK - 1)[None, :, None]
    assert np.all(np.abs(plan - rows) > 1) and np.all(plan > 0) and np.all(plan < 48 // BLOCK - 1)


def test_full_attention_mode_is_multi_head_attention():
    layer = make_layer()
    x, mask = inputs(seq_len=12)
    out = layer(x, attention_mask=mask, block_sparse=False)
    assert out.shape == (2, 12, 16)


def test_memory_is_linear_in_length():
    """Without probabilities, no tensor of the traced graph is quadratic in the length."""
    seq_len = 512
    layer = make_layer()
    x, mask = inputs(seq_len=seq_len)
    graph = tf.function(lambda a, m: layer(a, attention_mask=m)).get_concrete_function(
        tf.TensorSpec(x.shape, tf.float32), tf.TensorSpec(mask.shape, tf.int32)).graph
    largest = max(int(np.prod(t.shape.as_list())) for op in graph.get_operations() for t in op.outputs
                  if t.shape.rank is not None and None not in t.shape.as_list())
    assert largest <= 2 * HEADS * seq_len * (5 + RANDOM) * BLOCK * 3  # vs 2 * HEADS * seq_len ** 2 (full)
    assert largest < 2 * HEADS * seq_len * seq_len // 8


@pytest.mark.parametrize("policy", [pytest.param("mixed_float16", marks=pytest.mark.slow), "mixed_bfloat16"])
def test_mixed_precision(policy):
    x, mask = inputs()
    reference = make_layer()
    expected = reference(x, attention_mask=mask)
    keras.mixed_precision.set_global_policy(policy)
    layer = make_layer()
    layer.set_weights(reference.get_weights())
    out = layer(x, attention_mask=mask)
    assert out.dtype == keras.mixed_precision.global_policy().compute_dtype
    assert_close_to_float32(out, expected, policy, "BlockSparseAttention")


@pytest.mark.parametrize("seq_len,message", [(36, "longer than"), (50, "multiple of block_size")])
def test_bad_lengths(seq_len, message):
    x, mask = inputs(seq_len=seq_len)
    with pytest.raises(ValueError, match=message):
        make_layer()(x, attention_mask=mask)


def test_bad_arguments():
    layer = make_layer()
    x, mask = inputs()
    with pytest.raises(ValueError, match="padding mask"):
        layer(x, attention_mask=np.ones((2, 48, 48), "int32"))
    with pytest.raises(ValueError, match="without `cache`"):
        layer(x, cache=np.zeros((2, 2, HEADS, 48, KEY_DIM), "float32"), cache_update_index=0)
    with pytest.raises(ValueError, match="block_size must be positive"):
        BlockSparseAttention(HEADS, KEY_DIM, block_size=0)
