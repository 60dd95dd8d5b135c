"""Layer tests for the foundation layers (see tests/layer_checks.py)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.layer_checks import check_config_round_trip, check_fit_step, check_mixed_precision, check_xla_matches_eager
from tfmodels import layers

rng = np.random.RandomState(0)
HIDDEN = rng.normal(size=(2, 5, 16)).astype("float32")
IDS = rng.randint(0, 30, (2, 5)).astype("int32")
MASK = layers.padding_mask(np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]))

LAYERS = {
    "attention": (lambda dtype="float32": layers.MultiHeadAttention(num_heads=4, key_dim=4, dtype=dtype),
                  [HIDDEN], {"attention_mask": MASK}),
    "encoder_block": (lambda dtype="float32": layers.TransformerEncoderBlock(
        num_heads=4, intermediate_size=24, dtype=dtype), [HIDDEN], {"attention_mask": MASK}),
    "encoder_block_pre_norm": (lambda dtype="float32": layers.TransformerEncoderBlock(
        num_heads=4, intermediate_size=24, normalize_first=True, dtype=dtype), [HIDDEN], {"attention_mask": MASK}),
    "feed_forward": (lambda dtype="float32": layers.FeedForward(24, activation="gelu_new", dtype=dtype), [HIDDEN], {}),
    "pooler": (lambda dtype="float32": layers.Pooler(16, dtype=dtype), [HIDDEN], {}),
    "layer_norm": (lambda dtype="float32": layers.LayerNormalization(epsilon=1e-12, dtype=dtype), [HIDDEN], {}),
    "masked_lm_head": (lambda dtype="float32": layers.MaskedLMHead(
        vocab_size=30, hidden_size=16, tie_word_embeddings=False, dtype=dtype), [HIDDEN], {}),
    "embeddings": (lambda dtype="float32": layers.TransformerEmbeddings(
        vocab_size=30, hidden_size=16, max_position_embeddings=8, dtype=dtype), [IDS], {}),
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
    if name in ("attention", "encoder_block", "encoder_block_pre_norm"):
        kwargs = {}  # masks are constants of the test, not model inputs
    check_fit_step(make, inputs, kwargs)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_mixed_precision(name):
    make, inputs, kwargs = LAYERS[name]
    check_mixed_precision(make, inputs, kwargs)


def test_masked_softmax_ignores_masked_keys_and_is_float32():
    scores = tf.constant(np.random.RandomState(1).normal(size=(1, 1, 2, 3)), tf.float16)
    mask = tf.constant([[[[True, True, False], [False, False, False]]]])
    probs = layers.masked_softmax(scores, mask).numpy().astype("float32")
    # The result is cast back to float16 (scores' dtype): 1e-3 is float16 resolution, not a parity tolerance.
    assert probs[0, 0, 0, 2] == 0.0
    np.testing.assert_allclose(probs[0, 0, 0].sum(), 1.0, atol=1e-3)
    np.testing.assert_allclose(probs[0, 0, 1], [1 / 3] * 3, atol=1e-3)  # fully masked row: uniform


def test_causal_mask_with_cache_offset():
    mask = layers.causal_mask(2, 4).numpy()[0, 0]
    np.testing.assert_array_equal(mask, [[True, True, True, False], [True, True, True, True]])


def test_unknown_activation_lists_known_names():
    with pytest.raises(ValueError, match="Unknown activation 'gelu2'.*gelu_new"):
        layers.get_activation("gelu2")


def test_attention_cache_matches_full_attention():
    attention = layers.MultiHeadAttention(num_heads=4, key_dim=4)
    full = attention(HIDDEN, attention_mask=layers.causal_mask(5, 5)).numpy()
    cache = tf.zeros((2, 2, 4, 5, 4))  # (B, 2, N, L, H)
    steps = []
    for t in range(5):
        step_mask = tf.range(5)[None, None, None, :] <= t
        out, cache = attention(HIDDEN[:, t:t + 1], attention_mask=step_mask, cache=cache, cache_update_index=t)
        steps.append(out.numpy())
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5)


def test_attention_cache_in_the_slots_major_layout_is_refused_by_name():
    attention = layers.MultiHeadAttention(num_heads=4, key_dim=3)
    with pytest.raises(ValueError, match=r"KV cache is \(batch, 2, num_heads, max_length, head_dim\).*"
                                         r"\(batch, 2, 4, max_length, 3\). Received: cache of shape \(2, 2, 5, 4, 3\)"):
        attention(HIDDEN[:, :1], cache=tf.zeros((2, 2, 5, 4, 3)), cache_update_index=0)


@pytest.mark.parametrize(
    "equation, plan",
    [
        ("btd,dnh->btnh", (2, 1)),  # into heads
        ("btnh,nhd->btd", (2, 2)),  # out of heads
        ("ab,bc->ac", (1, 1)),
        ("btd,nhd->btnh", None),  # contracted axis not leading in the kernel
        ("bnts,bsnh->btnh", None),  # batched
        ("btd,dnh->bnth", None),  # output reordered
        ("...d,dh->...h", None),
    ],
)
def test_einsum_dense_matmul_plan_matches_einsum(equation, plan):
    from tfmodels.layers.einsum_dense import contract, matmul_plan

    assert matmul_plan(equation) == plan
    sizes = dict(zip("abcdhnst", (3, 4, 5, 6, 7, 2, 9, 9)))
    lhs, rhs = equation.split("->")[0].split(",")
    if "..." in equation:
        lhs, rhs, equation = "bd", "dh", "bd,dh->bh"
    rng = np.random.RandomState(0)
    x = rng.randn(*[sizes[c] for c in lhs]).astype("float32")
    kernel = rng.randn(*[sizes[c] for c in rhs]).astype("float32")
    expected = np.einsum(equation, x, kernel)
    np.testing.assert_allclose(np.asarray(contract(equation, x, kernel)), expected, atol=1e-5)
    if plan:  # free input axes (batch, sequence) of unknown size inside a graph
        spec = tf.TensorSpec([None] * plan[0] + list(x.shape[plan[0]:]))
        graph = tf.function(lambda t: contract(equation, t, kernel), input_signature=[spec])
        np.testing.assert_allclose(graph(x).numpy(), expected, atol=1e-5)


def _dots_in_loop_fusions(hlo):
    """Names of XLA loop fusions (naive emitted loops) whose fused computation contains a dot."""
    import re

    bodies = dict(re.findall(r"^%(\S+) .*?\{\n(.*?)^\}", hlo, flags=re.M | re.S))
    loops = re.findall(r"kind=kLoop, calls=%(\S+?)[,\s]", hlo)
    return sorted(name for name in loops if " dot(" in bodies.get(name, ""))


def test_one_row_projections_stay_library_dots_under_xla():
    """In an XLA while loop (as `generate()`'s), XLA fuses a one-row projection into a naive loop with the
    layer norm before it; `xla_matrix_vector_guard` keeps it a library dot, with the same values."""
    from tfmodels.layers.einsum_dense import Dense, EinsumDense, xla_matrix_vector_guard

    norm = keras.layers.LayerNormalization()
    query = EinsumDense("btd,dnh->btnh", output_shape=(None, 4, 8), bias_axes="nh")
    dense = Dense(32)
    x = tf.random.normal((1, 1, 32), seed=1)
    norm.build(x.shape), query.build(x.shape), dense.build(x.shape)
    results = {}
    def traced_with(guard):
        def decode(t):
            def step(i, t):
                with xla_matrix_vector_guard(guard):
                    h = norm(t)
                    return i + 1, t + tf.reshape(query(h), t.shape) + dense(h)
            return tf.while_loop(lambda i, t: i < 3, step, (0, t))[1]
        return tf.function(decode, jit_compile=True)

    for guard in (False, True):
        compiled = traced_with(guard)
        results[guard] = compiled(x).numpy()
        results[guard, "fused"] = _dots_in_loop_fusions(compiled.experimental_get_compiler_ir(x)(stage="optimized_hlo"))
    assert results[False, "fused"], "XLA no longer fuses one-row dots into loops: the guard may be unnecessary"
    assert results[True, "fused"] == []
    # Both emitters against the same three steps in float64 (they sum in different orders, so they differ
    # from each other by float32 rounding, up to 1.4e-6 on values near 5 on an AVX-512 AMD EPYC).
    expected = x.numpy().astype("float64")
    weights = [np.asarray(v, "float64") for v in (norm.gamma, norm.beta, query.kernel, query.bias,
                                                  dense.kernel, dense.bias)]
    gamma, beta, query_kernel, query_bias, dense_kernel, dense_bias = weights
    for _ in range(3):
        mean = expected.mean(-1, keepdims=True)
        h = (expected - mean) / np.sqrt(((expected - mean) ** 2).mean(-1, keepdims=True) + norm.epsilon)
        h = h * gamma + beta
        projected = np.einsum("btd,dnh->btnh", h, query_kernel) + query_bias
        expected = expected + projected.reshape(expected.shape) + h @ dense_kernel + dense_bias
    for guard in (False, True):
        np.testing.assert_allclose(results[guard], expected, atol=1e-5, rtol=0)
