"""Reformer SavedModel with a dynamic sequence length, reloaded in a fresh process without tfmodels.

The signature pads inside the graph to the chunk multiple as the reference
(`_pad_to_mult_of_chunk_length`) and returns un-padded outputs; lengths of
one chunk (plain attention), padded lengths and exact multiples all go
through the one signature. The Keras model is the oracle here (its parity
with `transformers` at these lengths is tests/test_reformer_parity.py).
LSH rotations come from `hash_seed` (a stateless draw), so the eager model
and the SavedModel hash alike.
"""

import numpy as np
import pytest

import tfmodels
from tests.helpers import random_inputs
from tests.test_export import _run_in_fresh_process
from tests.test_reformer_parity import decoder_config, encoder_config


def _batches(lengths):
    # Right padding in rows 1 and 2 (one chunk: a single padded row).
    return {f"len{n}": {k: v.astype("int32") for k, v in
                        random_inputs(seq_len=n, pad_lengths=(n - 3, 2) if n > 4 else (2,), seed=n).items()}
            for n in lengths}


def _check_export(model, lengths, tmp_path):
    batches = _batches(lengths)
    saved = tfmodels.export_saved_model(model, tmp_path / "saved_model")
    np.save(tmp_path / "inputs.npy", batches, allow_pickle=True)
    results = _run_in_fresh_process(saved, tmp_path / "inputs.npy", tmp_path / "outputs.npy")
    diffs = {}
    for key, feed in batches.items():
        expected = model(feed, training=False)
        for name in model.serving_outputs:
            assert results[key][name].shape == tuple(expected[name].shape), (key, name)
            diffs[key, name] = float(np.abs(results[key][name] - expected[name].numpy()).max())
    print(diffs)
    assert max(diffs.values()) <= 1e-5, diffs


def test_reformer_masked_lm_saved_model_dynamic_length(tmp_path):
    # Chunks 4 (LSH) and 6 (local), lcm 12: 4 tokens run unpadded (plain attention), 8 -> 12, 16 -> 24, 24 as is.
    # (A length that is not a multiple of chunk_size_lm_head=8 fails in the reference too.)
    model = tfmodels.ReformerForMaskedLM.from_config(encoder_config().to_dict())
    _check_export(model, (4, 8, 16, 24), tmp_path)


@pytest.mark.slow
def test_reformer_lm_head_saved_model_dynamic_length(tmp_path):
    # Causal, learned positions, chunks of 4: 3 tokens unpadded, 7 -> 8, 12 as is, 13 -> 16.
    model = tfmodels.ReformerModelWithLMHead.from_config(decoder_config().to_dict())
    _check_export(model, (3, 7, 12, 13), tmp_path)


def test_reformer_dynamic_length_needs_num_buckets(tmp_path):
    config = {**encoder_config().to_dict(), "num_buckets": None}
    model = tfmodels.ReformerModel.from_config(config)
    with pytest.raises(ValueError, match="Set num_buckets"):
        tfmodels.export_saved_model(model, tmp_path / "saved_model")
