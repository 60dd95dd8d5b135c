"""Layer checks of `CrossModalityBlock` (tests/layer_checks.py); its LXMERT parity is in test_lxmert_parity.py."""

import numpy as np

from tests.layer_checks import check_config_round_trip, check_fit_step, check_mixed_precision, check_xla_matches_eager
from tfmodels.layers import CrossModalityBlock

RNG = np.random.RandomState(0)
INPUTS = [RNG.randn(2, 5, 16).astype("float32"), RNG.randn(2, 3, 16).astype("float32")]
MASKS = {"attention_mask": np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], bool)[:, None, None, :],
         "visual_attention_mask": np.array([[1, 1, 1], [1, 1, 0]], bool)[:, None, None, :]}


def make(dtype="float32"):
    return CrossModalityBlock(num_heads=4, intermediate_size=23, dtype=dtype)


def test_config_round_trip_and_xla():
    layer = make()
    check_config_round_trip(layer, INPUTS, MASKS)
    check_xla_matches_eager(layer, INPUTS, MASKS)
    language, vision, probabilities = layer(*INPUTS, **MASKS, return_attention_scores=True)
    assert language.shape == (2, 5, 16) and vision.shape == (2, 3, 16) and probabilities.shape == (2, 4, 5, 3)
    np.testing.assert_array_equal(np.asarray(probabilities)[1, :, :, 2], 0.0)  # the masked object


def test_fit_step_and_mixed_precision():
    check_fit_step(make, INPUTS)
    check_mixed_precision(make, INPUTS, MASKS)
