"""Reformer layers: the generic layer checks (tests/layer_checks.py) run on `LAYERS` from
tests/test_layers_position_attention.py; here, what is Reformer's own. Parity: tests/test_reformer_parity.py."""

import keras
import numpy as np
import pytest

from tests.tiny_models import random_model_inputs, tiny_model
from tfmodels.layers import AxialPositionEmbedding, LocalSelfAttention, LSHSelfAttention, ReversibleBlock

rng = np.random.RandomState(0)
HIDDEN = rng.normal(size=(2, 8, 16)).astype("float32")
TOKEN_MASK = np.array([[1] * 8, [1] * 5 + [0] * 3], dtype="int32")
POSITIONS = np.array([[0, 1, 2, 3, 4, 5, 6, 7], [7, 6, 5, 4, 3, 2, 1, 0]], dtype="int32")
LSH = dict(chunk_length=4, num_buckets=[2, 2], num_hashes=2, hash_seed=0)

# Used by tests/test_layers_position_attention.py (config round trip, XLA, fit step, mixed precision).
REFORMER_LAYERS = {
    "lsh_attention": (lambda dtype="float32": LSHSelfAttention(
        num_heads=2, key_dim=5, **LSH, num_chunks_after=1, dtype=dtype), [HIDDEN], {"attention_mask": TOKEN_MASK}),
    "lsh_attention_causal_one_chunk": (lambda dtype="float32": LSHSelfAttention(
        num_heads=2, key_dim=5, chunk_length=8, num_buckets=4, hash_seed=0, is_decoder=True, dtype=dtype),
        [HIDDEN], {"attention_mask": TOKEN_MASK}),
    "local_attention": (lambda dtype="float32": LocalSelfAttention(
        num_heads=2, key_dim=5, chunk_length=4, num_chunks_before=1, num_chunks_after=1, dtype=dtype),
        [HIDDEN], {"attention_mask": TOKEN_MASK}),
    "local_attention_causal": (lambda dtype="float32": LocalSelfAttention(
        num_heads=2, key_dim=5, chunk_length=2, num_chunks_before=2, is_decoder=True, dtype=dtype), [HIDDEN], {}),
    "axial_positions": (lambda dtype="float32": AxialPositionEmbedding([2, 4], [6, 10], dtype=dtype),
                        [POSITIONS], {}),
}
# A half-precision query-key vector may fall in another bucket, which changes the output of chunked LSH
# attention by more than any tolerance (its softmax and masks run in float32): no mixed-precision check.
NO_MIXED_PRECISION = ("lsh_attention",)


@pytest.mark.parametrize("attention_type", ["lsh", "local"])
def test_reversible_block_inverts(attention_type):
    # The RevNet property: the inputs are recovered from the outputs, x2 = y2 - G(y1), x1 = y1 - F(x2).
    block = ReversibleBlock(attention_type, num_heads=2, head_dim=5, feed_forward_size=12,
                            attention_kwargs=dict(LSH) if attention_type == "lsh" else {"chunk_length": 4})
    x1, x2 = HIDDEN, HIDDEN[::-1] * 0.5
    y1, y2 = block((x1, x2), attention_mask=TOKEN_MASK)
    fed = block.feed_forward(block.feed_forward_layer_norm(y1))
    x2_back = y2 - fed
    attended = block.attention(block.attention_layer_norm(x2_back), attention_mask=TOKEN_MASK)
    np.testing.assert_allclose(x2_back, x2, atol=1e-5)
    np.testing.assert_allclose(y1 - attended, x1, atol=1e-5)
    clone = ReversibleBlock.from_config(block.get_config())
    assert clone.get_config() == block.get_config()


def test_lsh_rejects_odd_buckets_and_short_chunks():
    with pytest.raises(ValueError, match="even"):
        LSHSelfAttention(num_heads=2, key_dim=4, num_buckets=[2, 3])
    with pytest.raises(ValueError, match="multiple of it"):
        LocalSelfAttention(num_heads=2, key_dim=4, chunk_length=3)(HIDDEN)


@pytest.mark.slow
def test_reformer_model_fit_step():
    model = tiny_model("ReformerForSequenceClassification")
    inputs = random_model_inputs(model, batch_size=2, seq_len=8)
    before = [w.numpy().copy() for w in model.trainable_weights]
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    model.fit(inputs, np.array([0, 1]), batch_size=2, epochs=1, verbose=0)
    assert any(not np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_weights))
