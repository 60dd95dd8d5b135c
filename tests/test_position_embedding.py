"""`PositionEmbedding`: offset and start index, config round trip, and the fixed sinusoid
table equal to `transformers`' Marian/Pegasus `create_weight()` (odd and even widths)."""

import numpy as np
import pytest

from tests.helpers import max_abs_diff
from tfmodels.layers import PositionEmbedding


def test_rows_start_at_offset_plus_start():
    layer = PositionEmbedding(6, 4, offset=2)
    x = np.zeros((2, 3, 4), "float32")
    layer.build(x.shape)
    table = np.asarray(layer.embeddings)
    np.testing.assert_array_equal(np.asarray(layer(x)), table[None, 2:5])
    np.testing.assert_array_equal(np.asarray(layer(x[:, :1], start=4)), table[None, 6:7])
    clone = PositionEmbedding.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


@pytest.mark.parametrize("dim", [8, 7])
def test_sinusoid_table_matches_marian_and_pegasus(dim):
    from transformers.models.marian.modeling_marian import MarianSinusoidalPositionalEmbedding
    from transformers.models.pegasus.modeling_pegasus import PegasusSinusoidalPositionalEmbedding

    layer = PositionEmbedding(12, dim, sinusoidal=True)
    ours = np.asarray(layer(np.zeros((1, 12, dim), "float32")))[0]
    assert not layer.weights  # a constant, not a variable
    for reference_class in (MarianSinusoidalPositionalEmbedding, PegasusSinusoidalPositionalEmbedding):
        expected = reference_class(12, dim).create_weight().numpy()
        assert max_abs_diff(ours, expected) <= 1e-6


def test_bad_sizes_are_named():
    with pytest.raises(ValueError, match="num_positions=0"):
        PositionEmbedding(0, 4)


@pytest.mark.parametrize("dim", [30, 35])
def test_fairseq_table_and_padding_positions_match_m2m100(dim):
    """fairseq positions (M2M100, FSMT): padding tokens read the zero row, others count non-padding only."""
    import torch
    from transformers.models.m2m_100.modeling_m2m_100 import M2M100SinusoidalPositionalEmbedding

    ids = np.array([[5, 6, 7, 1, 1], [1, 1, 5, 6, 7]])
    reference = M2M100SinusoidalPositionalEmbedding(40, dim, padding_idx=1)
    layer = PositionEmbedding(40, dim, offset=2, sinusoidal=True, padding_idx=1)
    x = np.zeros((2, 5, dim), "float32")
    for start in (0, 3):  # a cached step numbers its tokens from the cache index
        expected = reference(torch.as_tensor(ids), cache_length=start).numpy()
        assert max_abs_diff(np.asarray(layer(x, start=start, input_ids=ids)), expected) <= 1e-6
    with pytest.raises(ValueError, match="input_ids"):
        layer(x)
    clone = PositionEmbedding.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_fsmt_positions_move_padding_by_the_cache_index():
    import torch
    from transformers.models.fsmt.modeling_fsmt import SinusoidalPositionalEmbedding

    from tfmodels.layers.position.sinusoidal import FairseqSinusoidalInitializer

    ids = np.array([[5, 1, 7], [1, 6, 7]])
    reference = SinusoidalPositionalEmbedding(42, 30, 1)
    reference.make_weight(42, 30, 1)
    layer = PositionEmbedding(40, 30, offset=2, padding_idx=1, start_on_padding=True, trainable=False,
                              embeddings_initializer=FairseqSinusoidalInitializer(1))
    layer.build()
    layer.embeddings.assign(reference.weight.detach().numpy())  # the stored table, as FSMT loads it
    for start in (0, 4):
        expected = reference(torch.as_tensor(ids), cache_length=start).detach().numpy()
        np.testing.assert_array_equal(np.asarray(layer(np.zeros((2, 3, 30)), start=start, input_ids=ids)), expected)
