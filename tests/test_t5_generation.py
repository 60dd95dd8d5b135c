"""T5 under XLA and mixed precision: the XLA forward pass equals eager, `mixed_bfloat16`
runs with float32 losses, and `generate()` (greedy and beam search) is
token-identical to `transformers`, on the tiny odd configs of
`tests/test_t5_parity.py` (unequal encoder/decoder depths, padded sources, rows that
reach EOS early). Kept apart from the parity file: compiling the XLA loop dominates.

The reference generates with `use_cache=False` (every step a full forward pass), so
our cached loop is checked against an uncached oracle; with a cache, transformers
5.24 sizes its decoder cache from `num_layers` and fails when `num_decoder_layers`
is larger.
"""

import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tests.helpers import _to_numpy, hf_checkpoint, max_abs_diff, reference_generate, torch_outputs
from tests.test_t5_parity import CHECKPOINTS, seq2seq_inputs, t5_config, untie_checkpoint


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    paths = {}
    for name in ("t5-relu-tied", "t5-gated-gelu-untied"):
        class_name, ff, tie, untie, model_type = CHECKPOINTS[name]
        path = hf_checkpoint(class_name, t5_config(ff, tie, model_type), tmp_path_factory.mktemp(name))
        paths[name] = untie_checkpoint(path) if untie else path
    return paths


@pytest.mark.parametrize("name", ["t5-relu-tied", "t5-gated-gelu-untied"])
def test_greedy_generate_is_token_identical_to_transformers(checkpoints, name):
    from tfmodels.generation.utils import TRACE_COUNTS

    path = checkpoints[name]
    model = tfmodels.T5ForConditionalGeneration.from_pretrained(path)
    for seed in (6, 7):  # same shapes: the second call reuses the compiled loop
        inputs = seq2seq_inputs(seed)
        expected = reference_generate("T5ForConditionalGeneration", path, inputs, max_new_tokens=10, num_beams=1)
        ours = model.generate(inputs["input_ids"], attention_mask=inputs["attention_mask"], max_new_tokens=10)
        np.testing.assert_array_equal(ours.numpy(), expected)
    assert TRACE_COUNTS[model] == 1


@pytest.mark.parametrize("options", [dict(num_beams=3), dict(num_beams=2, length_penalty=0.7, early_stopping=True)])
def test_beam_search_is_token_identical_to_transformers(checkpoints, options):
    path = checkpoints["t5-gated-gelu-untied"]
    inputs = seq2seq_inputs(9)
    expected = reference_generate("T5ForConditionalGeneration", path, inputs, max_new_tokens=9, **options)
    model = tfmodels.T5ForConditionalGeneration.from_pretrained(path)
    ours = model.generate(inputs["input_ids"], attention_mask=inputs["attention_mask"], max_new_tokens=9, **options)
    np.testing.assert_array_equal(ours.numpy(), expected)


def test_xla_forward_matches_eager(checkpoints):
    """Eager and XLA each within 1e-5 of the float64 reference (see tests/test_t5_parity.py:
    on logits near 17 two float32 roundings can add up past 1e-5; XLA vs eager measured 1.12e-5)."""
    path = checkpoints["t5-gated-gelu-untied"]
    model = tfmodels.T5ForConditionalGeneration.from_pretrained(path)
    inputs = seq2seq_inputs(5)
    reference = torch_outputs("T5ForConditionalGeneration", path, inputs, exact=True, use_cache=False)
    inputs = {k: tf.constant(v) for k, v in inputs.items()}
    eager = model(inputs, training=False)
    compiled = tf.function(lambda x: model(x, training=False), jit_compile=True)(inputs)
    for key in ("loss", "logits", "encoder_last_hidden_state"):
        assert max_abs_diff(_to_numpy(eager[key]), reference[key]) <= 1e-5, key
        assert max_abs_diff(_to_numpy(compiled[key]), reference[key]) <= 1e-5, key


def test_mixed_bfloat16_forward_keeps_float32_loss(checkpoints):
    path = checkpoints["t5-gated-gelu-untied"]
    inputs = seq2seq_inputs(8)
    reference = tfmodels.T5ForConditionalGeneration.from_pretrained(path)(inputs, training=False)
    outputs = tfmodels.T5ForConditionalGeneration.from_pretrained(path, dtype="mixed_bfloat16")(inputs, training=False)
    assert outputs["logits"].dtype == "bfloat16" and outputs["loss"].dtype == "float32"
    assert abs(float(outputs["loss"]) - float(reference["loss"])) < 0.05  # bfloat16 keeps ~3 significant digits
