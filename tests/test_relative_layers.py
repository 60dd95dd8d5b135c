"""Layer tests for the relative-position / funnel layers: config round trip,
eager == XLA (`jit_compile=True`), one `fit()` step, mixed precision."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfmodels.layers.adaptive import AdaptiveEmbedding, AdaptiveLogSoftmax
from tfmodels.layers.attention.funnel_attention import FunnelRelativeAttention
from tfmodels.layers.attention.relative_attention import RelativeAttention, relative_shift_gather
from tfmodels.layers.funnel_block import FunnelBlock
from tfmodels.layers.masks import padding_mask
from tfmodels.layers.pooling.funnel import FunnelPooling, FunnelUpsampling, pool_sequence, stride_pool
from tfmodels.layers.position.funnel import factorized_embeddings, relative_shift_embeddings
from tfmodels.layers.position.sinusoidal import SinusoidalRelativeEmbedding
from tfmodels.layers.relative_block import RelativeEncoderBlock
from tfmodels.layers.heads import MaskedLMHead, SequenceSummary
from tests.test_mixed_precision import assert_close_to_float32

B, T, D, N, H = 2, 6, 16, 2, 8


def _x(seed=0, length=T):
    return np.random.RandomState(seed).randn(B, length, D).astype("float32")


def _relative_inputs(length=T):
    return dict(position_embeds=SinusoidalRelativeEmbedding(D)(np.arange(2 * length, 0, -1)),
                segment_mismatch=np.random.RandomState(1).rand(B, length, length) > 0.5)


def _funnel_inputs(attention_type):
    rng = np.random.RandomState(2)
    cls_mask = np.pad(np.ones((T - 1, T - 1), "float32"), [[1, 0], [1, 0]])
    common = dict(token_type_mat=rng.rand(B, T, T) > 0.5, cls_mask=cls_mask,
                  attention_mask=padding_mask(np.array([[1] * T, [1] * (T - 2) + [0, 0]])))
    if attention_type == "factorized":
        return dict(position_embeds=factorized_embeddings(T, D), **common)
    return dict(position_embeds=relative_shift_embeddings(T, D, 1)[0], **common)


def _random_init():
    return keras.initializers.RandomNormal(stddev=0.2)


# (factory, call kwargs) for every layer under test.
CASES = {
    "relative_attention": (lambda: RelativeAttention(N, H, segment_attention=True, use_bias=False,
                                                     relative_initializer=_random_init()), _relative_inputs),
    "funnel_attention_shift": (lambda: FunnelRelativeAttention(N, H, relative_initializer=_random_init()),
                               lambda: _funnel_inputs("relative_shift")),
    "funnel_attention_factorized": (
        lambda: FunnelRelativeAttention(N, H, attention_type="factorized", relative_initializer=_random_init()),
        lambda: _funnel_inputs("factorized")),
    "relative_block": (lambda: RelativeEncoderBlock(N, 24, segment_attention=True,
                                                    relative_initializer=_random_init()), _relative_inputs),
    "funnel_block": (lambda: FunnelBlock(N, 24, key_dim=H, relative_initializer=_random_init()),
                     lambda: _funnel_inputs("relative_shift")),
    "funnel_pooling": (lambda: FunnelPooling("mean"), dict),
    "funnel_upsampling": (lambda: FunnelUpsampling(2, 2 * T - 1), dict),
    "sequence_summary": (lambda: SequenceSummary("last", num_outputs=D, activation="tanh"), dict),
    "masked_lm_head_projection_only": (lambda: MaskedLMHead(11, D, transform=False, tie_word_embeddings=False), dict),
    "adaptive_log_softmax": (lambda: AdaptiveLogSoftmax(30, 16, D, cutoffs=[10, 20], div_val=2,
                                                        tie_word_embeddings=False), dict),
}


FLOAT32_OUTPUTS = {"adaptive_log_softmax"}  # log-probabilities stay float32 under mixed precision


@pytest.mark.parametrize("div_val,d_embed", [(1, 16), (1, 8), (2, 16)])
def test_adaptive_embedding_and_softmax(div_val, d_embed):
    embedding = AdaptiveEmbedding(30, d_embed, D, cutoffs=[10, 20], div_val=div_val)
    clone = AdaptiveEmbedding.from_config(embedding.get_config())
    assert clone.get_config() == embedding.get_config()
    ids = np.random.RandomState(0).randint(0, 30, (B, T))
    x = embedding(ids)
    compiled = tf.function(embedding, jit_compile=True)(tf.constant(ids))
    np.testing.assert_allclose(np.asarray(compiled), np.asarray(x), atol=1e-5)
    head = AdaptiveLogSoftmax(30, d_embed, D, cutoffs=[10, 20], div_val=div_val, tie_projs=[False, True, True])
    log_probs = np.asarray(head(x, embedding_weights=embedding.cluster_weights()))
    assert log_probs.shape == (B, T, 30)
    np.testing.assert_allclose(np.exp(log_probs).sum(-1), 1.0, rtol=1e-5)  # a proper distribution


@pytest.mark.parametrize("name", sorted(CASES))
def test_config_round_trip(name):
    layer = CASES[name][0]()
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


@pytest.mark.parametrize("name", sorted(CASES))
def test_eager_equals_xla(name):
    factory, kwargs = CASES[name]
    layer, extra, x = factory(), kwargs(), _x()
    eager = layer(x, **extra)
    compiled = tf.function(lambda inp: layer(inp, **extra), jit_compile=True)(tf.constant(x))
    np.testing.assert_allclose(np.asarray(compiled), np.asarray(eager), atol=1e-5)


@pytest.mark.parametrize("name", ["relative_attention", "funnel_attention_shift", "funnel_attention_factorized",
                                  "relative_block", "funnel_block"])
def test_fit_step(name):
    factory, kwargs = CASES[name]
    extra = kwargs()
    inputs = keras.Input((T, D), batch_size=B)
    model = keras.Model(inputs, keras.layers.Dense(1)(factory()(inputs, **extra)))
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    before = [np.array(w) for w in model.trainable_weights]
    expected = float(np.mean(np.square(np.asarray(model(_x())))))  # mse against zero targets, before the step
    history = model.fit(_x(), np.zeros((B, T, 1), "float32"), batch_size=B, epochs=1, verbose=0)
    assert abs(history.history["loss"][0] - expected) <= 1e-5 * max(1.0, expected)
    assert max(float(np.max(np.abs(np.asarray(w) - b))) for w, b in zip(model.trainable_weights, before)) > 0


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(name, policy):
    factory, kwargs = CASES[name]
    reference_layer = factory()
    reference = reference_layer(_x(), **kwargs())
    keras.mixed_precision.set_global_policy(policy)
    layer = factory()
    layer(_x(), **kwargs())
    layer.set_weights(reference_layer.get_weights())
    output = layer(_x(), **kwargs())
    expected = "float32" if name in FLOAT32_OUTPUTS else policy.split("_")[1]
    assert output.dtype == expected
    assert_close_to_float32(output, reference, policy, name)


def test_two_stream_block_target_mapping():
    block = RelativeEncoderBlock(N, 24, segment_attention=True, relative_initializer=_random_init())
    h, g = _x(0), _x(1, length=3)
    target_mapping = np.zeros((B, 3, T), "float32")
    target_mapping[:, [0, 1, 2], [1, 3, 4]] = 1.0
    mask = np.ones((B, 1, T, T), bool)
    h_out, g_out, (h_probs, g_probs) = block(
        h, query_stream=g, target_mapping=target_mapping, attention_mask=mask, query_attention_mask=mask,
        return_attention_scores=True, **_relative_inputs())
    assert h_out.shape == (B, T, D) and g_out.shape == (B, 3, D)
    assert h_probs.shape == g_probs.shape == (B, N, T, T)
    np.testing.assert_allclose(np.asarray(h_out), np.asarray(block(h, attention_mask=mask, **_relative_inputs())),
                               atol=1e-6)


def test_relative_shift_gather_aligns_distances():
    # scores[i, r] = distance of index r (S - r); after the shift, [i, j] must equal i - j.
    query_len, num_keys = 3, 3
    distances = np.arange(num_keys, -query_len, -1)  # S, ..., -T+1
    scores = np.tile(distances, (1, 1, query_len, 1)).astype("float32")
    aligned = np.asarray(relative_shift_gather(scores, num_keys))[0, 0]
    expected = np.arange(query_len)[:, None] - np.arange(num_keys)[None, :]
    np.testing.assert_array_equal(aligned, expected)


def test_funnel_pooling_matches_reference_windows():
    x = np.arange(1, 8, dtype="float32")[None, :, None]  # (1, 7, 1)
    np.testing.assert_array_equal(np.asarray(pool_sequence(x, "mean"))[0, :, 0], [1.0, 2.5, 4.5, 6.0])
    np.testing.assert_array_equal(np.asarray(pool_sequence(x, "max", separate_cls=False))[0, :, 0], [2, 4, 6, 7])
    np.testing.assert_array_equal(np.asarray(stride_pool(x, 1))[0, :, 0], [1, 2, 4, 6])
    up = FunnelUpsampling(2, 7)(np.asarray(pool_sequence(x, "mean")))
    assert up.shape == (1, 7, 1)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="attention_type"):
        FunnelRelativeAttention(N, H, attention_type="bogus")
    with pytest.raises(ValueError, match="mode"):
        FunnelPooling("median")
    with pytest.raises(ValueError, match="even dim"):
        SinusoidalRelativeEmbedding(7)
    with pytest.raises(ValueError, match="summary_type"):
        SequenceSummary(summary_type="attn", num_outputs=D)
