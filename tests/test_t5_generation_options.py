"""T5 `generate()` options against `transformers` (uncached reference, as in `test_t5_generation.py`).

The encoder-decoder path of the shared processors: the decoder sequence
starts with `decoder_start_token_id`, so `forced_bos_token_id` fires at the
first step and `min_new_tokens` counts from it; beams return several
sequences per source row.
"""

import numpy as np
import pytest

import tfmodels
from tests.helpers import reference_generate
from tests.test_t5_generation import checkpoints  # noqa: F401  (fixture)
from tests.test_t5_parity import seq2seq_inputs


@pytest.mark.parametrize("options", [
    dict(no_repeat_ngram_size=2, forced_bos_token_id=5, bad_words_ids=[[7], [9, 11]]),
    dict(min_new_tokens=7, eos_token_id=[30, 35], forced_eos_token_id=30),  # without them, rows stop at step 2
    pytest.param(dict(num_beams=3, num_return_sequences=2, no_repeat_ngram_size=2, min_length=5, eos_token_id=[60, 7]),
                 marks=pytest.mark.slow),  # beams with these options: also covered on GPT-2
])
def test_generate_options_are_token_identical_to_transformers(checkpoints, options):  # noqa: F811
    path = checkpoints["t5-gated-gelu-untied"]
    inputs = seq2seq_inputs(4)
    expected = reference_generate("T5ForConditionalGeneration", path, inputs, max_new_tokens=9, **options)
    model = tfmodels.T5ForConditionalGeneration.from_pretrained(path)
    ours = model.generate(inputs["input_ids"], attention_mask=inputs["attention_mask"], max_new_tokens=9, **options)
    np.testing.assert_array_equal(ours.numpy(), expected)
    if "forced_bos_token_id" in options:
        assert (expected[:, 1] == 5).all()
    if "min_new_tokens" in options:
        assert expected.shape[1] == 10 and (expected[:, -1] == 30).all()
