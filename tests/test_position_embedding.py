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
