"""The one block stack (`tfmodels.layers.block_stack`) and the KV-cache helpers (`tfmodels.layers.kv_cache`)."""

import keras
import numpy as np
import pytest
from keras import ops

from tfmodels.layers import LayerDrop, TransformerDecoderBlock, TransformerEncoderBlock
from tfmodels.layers.block_stack import block_outputs, run_block_stack
from tfmodels.layers.kv_cache import cache_span, causal_attention_mask, check_sequence_length, init_kv_cache


class Affine(keras.layers.Layer):
    """A toy block following the stack's convention: `x * scale + shift (+ bias)`; probabilities are
    `x` itself, the cache gains `scale` where it is written."""

    def __init__(self, scale, shift, **kwargs):
        super().__init__(**kwargs)
        self.scale, self.shift = scale, shift
        self.calls = 0

    def call(self, x, bias=0.0, return_attention_scores=False, training=None, cache=None, cache_update_index=None):
        self.calls += 1
        out = x * self.scale + self.shift + bias
        extras = ((x,) if return_attention_scores else ()) + ((cache + self.scale,) if cache is not None else ())
        return (out, *extras) if extras else out


X = np.ones((2, 3, 4), "float32")


def test_order_repeats_share_blocks_and_hidden_states_follow_the_order():
    blocks = [Affine(2.0, 0.0), Affine(1.0, 1.0)]
    stack = run_block_stack(blocks, X, order=[0, 1, 0, 0], output_attentions=True)
    # ((1 * 2) + 1) * 2 * 2 = 12
    np.testing.assert_allclose(stack.x, np.full_like(X, 12.0))
    assert [float(np.asarray(h)[0, 0, 0]) for h in stack.hidden_states] == [1.0, 2.0, 3.0, 6.0, 12.0]
    assert [b.calls for b in blocks] == [3, 1]
    assert [float(np.asarray(p)[0, 0, 0]) for p in stack.attentions] == [1.0, 2.0, 3.0, 6.0]  # each layer's input
    assert stack.cross_attentions == [] and stack.caches is None


def test_caches_are_threaded_per_step_in_and_out():
    caches = tuple(np.full((2, 2, 5, 1, 1), float(i), "float32") for i in range(3))
    stack = run_block_stack([Affine(2.0, 0.0), Affine(3.0, 0.0)], X, order=[0, 1, 1], caches=caches,
                            cache_update_index=1)
    assert [float(np.asarray(c).max()) for c in stack.caches] == [2.0, 4.0, 5.0]  # cache i + the step's scale
    np.testing.assert_allclose(stack.x, X * 18.0)
    with pytest.raises(ValueError, match=r"one cache per layer \(3\)\. Received: 2 caches"):
        run_block_stack([Affine(1.0, 0.0)], X, order=[0, 0, 0], caches=caches[:2])


def test_shared_and_per_layer_kwargs_hooks_and_call_block():
    seen = []

    def after(step, x):
        seen.append(step)
        return x * 0.5

    def call_block(step, block, x, **kwargs):
        return block(x + 100.0 * step, **kwargs)

    stack = run_block_stack([Affine(1.0, 0.0)] * 3, X, call_kwargs={"bias": 1.0},
                            layer_kwargs=lambda step: {"bias": float(step)} if step == 2 else {},
                            after_layer=after, call_block=call_block)
    assert seen == [0, 1, 2]
    # step 0: (1 + 1) / 2 = 1; step 1: (1 + 100 + 1) / 2 = 51; step 2: (51 + 200 + 2) / 2 = 126.5
    np.testing.assert_allclose(stack.x, np.full_like(X, 126.5))


def test_several_streams_are_one_tuple_state():
    class TwoStreams(keras.layers.Layer):
        def call(self, h, query_stream=None, return_attention_scores=False, training=None):
            outs = (h + 1.0, query_stream * 2.0)
            return (*outs, (h, query_stream)) if return_attention_scores else outs

    stack = run_block_stack([TwoStreams(), TwoStreams()], (X, X), output_attentions=True,
                            call_block=lambda step, block, x, **kw: block(x[0], query_stream=x[1], **kw))
    h, g = stack.x
    np.testing.assert_allclose(h, X + 2.0)
    np.testing.assert_allclose(g, X * 4.0)
    assert len(stack.hidden_states) == 3 and all(len(s) == 2 for s in stack.hidden_states)
    assert all(isinstance(p, tuple) and len(p) == 2 for p in stack.attentions)  # (content, query) pairs kept


def test_layer_drop_only_in_training():
    blocks = [Affine(2.0, 0.0) for _ in range(4)]
    full = run_block_stack(blocks, X).x
    inference = run_block_stack(blocks, X, layer_drop=LayerDrop(0.99, seed=3), training=False).x
    np.testing.assert_allclose(inference, full)
    trained = run_block_stack(blocks, X, layer_drop=LayerDrop(0.99, seed=3), training=True).x
    assert float(np.asarray(trained).max()) < float(np.asarray(full).max())  # some layers were skipped


def test_block_outputs_convention():
    x, probs, cache = block_outputs(("x", "p", "c"), True, True)
    assert (x, probs, cache) == ("x", "p", "c")
    assert block_outputs(("x", "c"), False, True) == ("x", None, "c")
    assert block_outputs("x", False, False) == ("x", None, None)
    assert block_outputs(("h", "g", "p"), True, False) == (("h", "g"), "p", None)


def test_decoder_blocks_split_cross_attentions():
    blocks = [TransformerDecoderBlock(num_heads=2, intermediate_size=12) for _ in range(2)]
    y, encoder = np.random.RandomState(0).randn(2, 3, 8).astype("float32"), np.ones((2, 5, 8), "float32")
    stack = run_block_stack(blocks, y, call_kwargs={"encoder_hidden_states": encoder}, output_attentions=True)
    assert [tuple(a.shape) for a in stack.attentions] == [(2, 2, 3, 3)] * 2
    assert [tuple(a.shape) for a in stack.cross_attentions] == [(2, 2, 3, 5)] * 2
    alone = run_block_stack(blocks, y, output_attentions=True)  # no encoder: no cross-attention
    assert len(alone.attentions) == 2 and alone.cross_attentions == []


def test_cached_steps_match_the_full_causal_pass():
    keras.utils.set_random_seed(1)
    blocks = [TransformerEncoderBlock(num_heads=2, intermediate_size=12, normalize_first=True) for _ in range(2)]
    x = np.random.RandomState(1).randn(1, 4, 8).astype("float32")
    full = run_block_stack(blocks, x, call_kwargs={"attention_mask": causal_attention_mask(4)}).x
    caches = init_kv_cache(1, 4, num_heads=2, head_dim=4, num_layers=2)
    outputs = []
    for index in range(4):
        mask = causal_attention_mask(1, np.ones((1, 4), "int32"), caches[0], index)
        stack = run_block_stack(blocks, x[:, index:index + 1], call_kwargs={"attention_mask": mask}, caches=caches,
                                cache_update_index=index)
        caches = stack.caches
        outputs.append(np.asarray(stack.x))
    np.testing.assert_allclose(np.concatenate(outputs, axis=1), full, atol=1e-5)


def test_kv_cache_helpers():
    caches = init_kv_cache(2, 7, 3, 5, num_layers=4, dtype="float16")
    assert len(caches) == 4 and tuple(caches[0].shape) == (2, 2, 3, 7, 5) and caches[0].dtype == "float16"
    assert cache_span(3) == (0, 3)
    assert cache_span(1, caches[0], 4) == (4, 7)
    with pytest.raises(ValueError, match=r"The cache holds 7 positions; 2 queries written from cache_update_index=6"):
        cache_span(2, caches[0], 6)
    banded = np.asarray(causal_attention_mask(4, window_size=2))[0, 0]
    np.testing.assert_array_equal(banded, np.array([[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]], bool))
    padded = np.asarray(causal_attention_mask(1, np.array([[1, 0, 1]]), caches[0][:, :, :, :3], 2))
    np.testing.assert_array_equal(padded[0, 0], [[True, False, True]])
    check_sequence_length(ops.ones((1, 6), "int32"), 8, "M", position_offset=2)
    with pytest.raises(ValueError, match=r"M accepts at most 6 tokens per sequence \(its position table has 8 rows, "
                                         r"the first 2 before the first token\).*Received: sequence length 7\."):
        check_sequence_length(ops.ones((1, 7), "int32"), 8, "M", position_offset=2)
