"""Layer tests for ProphetNet's `NgramSelfAttention` and `NgramDecoderBlock` (see tests/layer_checks.py),
and the n-gram stream masks against the reference's additive bias."""

import numpy as np
import pytest

from tests.layer_checks import check_config_round_trip, check_mixed_precision, check_xla_matches_eager
from tfmodels.layers.attention.ngram_attention import NgramSelfAttention, ngram_relative_buckets, ngram_stream_masks
from tfmodels.layers.ngram_decoder_block import NgramDecoderBlock

NGRAM, LENGTH, WIDTH = 2, 5, 12


def stream_kwargs():
    padding = np.ones((2, LENGTH), "int32")
    padding[1, 3:] = 0
    main, predict = ngram_stream_masks(LENGTH, NGRAM, padding)
    main_buckets, predict_buckets = ngram_relative_buckets(LENGTH, 6, 10)
    return dict(attention_mask=main, predict_attention_mask=predict, main_relative_buckets=main_buckets,
                predict_relative_buckets=predict_buckets)


def streams():
    return (np.random.RandomState(0).randn(2, (1 + NGRAM) * LENGTH, WIDTH).astype("float32"),)


def make_attention(dtype="float32"):
    return NgramSelfAttention(num_heads=3, key_dim=4, ngram=NGRAM, num_buckets=6, relative_max_distance=10,
                              dtype=dtype)


def make_block(dtype="float32"):
    return NgramDecoderBlock(num_heads=3, intermediate_size=7, layer_norm_eps=1e-5, add_cross_attention=False,
                             attention_kwargs=dict(ngram=NGRAM, num_buckets=6, relative_max_distance=10),
                             dtype=dtype)


def test_ngram_layers_round_trip_compile_and_mixed_precision():
    """The block runs the attention: XLA and mixed precision are checked on the block (one compile)."""
    kwargs = stream_kwargs()
    check_config_round_trip(make_attention(), streams(), kwargs)
    check_config_round_trip(make_block(), streams(), kwargs)
    check_xla_matches_eager(make_block(), streams(), kwargs)
    check_mixed_precision(make_block, streams(), kwargs)


def test_predict_mask_is_the_reference_ngram_attention_bias():
    """`ngram_stream_masks` without padding == `transformers`' `ngram_attention_bias` (0 = attend), sliced as
    its decoder slices it."""
    import torch
    from transformers.models.prophetnet.modeling_prophetnet import ngram_attention_bias

    max_positions, ngram = 12, 3
    bias = ngram_attention_bias(max_positions, ngram, "cpu", torch.float32).numpy()
    reference = np.concatenate([bias[:, :LENGTH, :LENGTH], bias[:, :LENGTH, max_positions:max_positions + LENGTH]], -1)
    _, predict = ngram_stream_masks(LENGTH, ngram)
    np.testing.assert_array_equal(np.asarray(predict)[0], reference == 0)


def test_cached_stream_attention_needs_masks_over_the_cache():
    layer = make_attention()
    cache = np.zeros((2, 2, 3, 8, 4), "float32")  # (B, 2, N, L, H)
    with pytest.raises(ValueError, match="cache of 8 slots needs a main-stream attention_mask over 8 keys"):
        layer(streams()[0], cache=cache, cache_update_index=0, **stream_kwargs())
