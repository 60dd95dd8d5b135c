"""`encoder_no_repeat_ngram_size` (`EncoderNoRepeatNGramLogitsProcessor`): no n-gram of the encoder
input is generated.

The ban itself is checked against the reference processor on random hypotheses (beams and
returned sequences of one source are consecutive rows, as the reference assumes); `generate()`
token-identical to `transformers` greedy and beam search on tiny random Blenderbot (whose
`generation_config.json`, as saved by `transformers`, sets 3: nothing is passed) and BART
(`encoder_no_repeat_ngram_size=2` passed to `generate()`) checkpoints.

The sources were designed for the ban to fire: each row's first real tokens are the first `n`
tokens the model generates without the ban, written twice (found by iterating that from the
random rows of `np.random.RandomState(1)` (Blenderbot) and `(2)` (BART), then written out here). Each test asserts that the reference's
output with the ban differs from its output without it, so a no-op processor fails.
"""

import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tests.helpers import hf_checkpoint, reference_generate
from tests.test_bart_parity import PAD, bart_config
from tests.test_s2s_families_parity import family_config

SOURCES = {
    "blenderbot": np.array([[36, 34, 36, 36, 34, 36, 8, 18, 3, 19, 4, 2],
                            [34, 34, 12, 34, 34, 12, 40, 21, 2, PAD, PAD, PAD],
                            [PAD, PAD, PAD, 33, 33, 33, 33, 33, 33, 33, 35, 2]]),
    "bart": np.array([[10, 48, 10, 48, 25, 46, 21, 14, 43, 10, 37, 2],
                      [33, 33, 33, 33, 34, 29, 23, 55, 2, PAD, PAD, PAD],
                      [PAD, PAD, PAD, 4, 4, 4, 4, 36, 6, 8, 27, 2]]),
}
CLASSES = {"blenderbot": "BlenderbotForConditionalGeneration", "bart": "BartForConditionalGeneration"}
NGRAM = {"blenderbot": 3, "bart": 2}


def source_inputs(name):
    input_ids = SOURCES[name]
    attention_mask = np.ones_like(input_ids)
    attention_mask[1, 9:] = 0  # right padding
    attention_mask[2, :3] = 0  # left padding
    return dict(input_ids=input_ids, attention_mask=attention_mask)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    configs = {"blenderbot": family_config("blenderbot", encoder_layers=1, decoder_layers=2, init_std=1.0),
               "bart": bart_config("bart", init_std=1.0, encoder_layers=1, decoder_layers=2)}
    return {name: hf_checkpoint(CLASSES[name], config, tmp_path_factory.mktemp(name))
            for name, config in configs.items()}


def test_ban_equals_the_reference_processor():
    """Our ban vs `transformers.EncoderNoRepeatNGramLogitsProcessor` on 2 sources x 3 hypotheses, every
    `cur_len` (prefixes shorter than `n - 1` included), n in 1..4, sequences that reuse the source's n-grams."""
    import torch
    from transformers.generation.logits_process import EncoderNoRepeatNGramLogitsProcessor

    from tfmodels.generation.logits import encoder_no_repeat_ngram_ban

    rng = np.random.RandomState(0)
    vocab, sources, hypotheses, length = 7, 2, 3, 9
    encoder_input_ids = rng.randint(0, vocab, (sources, 8))
    # hypotheses copy spans of their source so that n-grams match; the rest random
    sequences = rng.randint(0, vocab, (sources * hypotheses, length))
    for row in range(sources * hypotheses):
        start = rng.randint(0, 4)
        sequences[row, 2:6] = encoder_input_ids[row // hypotheses, start:start + 4]
    fired = 0
    for ngram_size in (1, 2, 3, 4):
        reference = EncoderNoRepeatNGramLogitsProcessor(ngram_size, torch.as_tensor(encoder_input_ids))
        ban = lambda s, c, n=ngram_size: encoder_no_repeat_ngram_ban(  # noqa: E731
            tf.constant(encoder_input_ids, tf.int32), s, c, n, vocab)
        ban = tf.function(ban, jit_compile=True) if ngram_size == 3 else ban  # XLA once (it compiles per n)
        for cur_len in range(1, length + 1):
            expected = reference(torch.as_tensor(sequences[:, :cur_len]), torch.zeros(sources * hypotheses, vocab))
            expected = np.isinf(expected.numpy())
            ours = ban(tf.constant(sequences, tf.int32), tf.constant(cur_len))
            np.testing.assert_array_equal(ours.numpy(), expected, err_msg=f"n={ngram_size}, cur_len={cur_len}")
            fired += int(expected.any())
    assert fired > 10  # the comparison saw bans


def check_generate(model, path, name, **options):
    """Ours (the ban as the checkpoint or `options` set it) == the reference; the ban changes the reference's output."""
    inputs = source_inputs(name)
    options = dict(options, max_new_tokens=8)
    expected = reference_generate(CLASSES[name], path, inputs, **options)
    unbanned = reference_generate(CLASSES[name], path, inputs, **{**options, "encoder_no_repeat_ngram_size": 0})
    assert (expected != unbanned).any(), "the ban did not fire: the test could not see a missing ban"
    ours = model.generate(inputs["input_ids"], attention_mask=inputs["attention_mask"], jit_compile=False, **options)
    np.testing.assert_array_equal(ours.numpy(), expected)


# Beam search (beams and returned sequences of one source share its n-grams) runs by default, greedy opt-in.
@pytest.mark.parametrize("options", [dict(num_beams=3, num_return_sequences=2),
                                     pytest.param(dict(num_beams=1), marks=pytest.mark.slow)], ids=["beam", "greedy"])
def test_blenderbot_generate_applies_its_generation_config_ban(checkpoints, options):
    """Blenderbot's `generation_config.json` sets `encoder_no_repeat_ngram_size=3`: applied without being passed."""
    model = tfmodels.BlenderbotForConditionalGeneration.from_pretrained(checkpoints["blenderbot"])
    assert model.generation_config["encoder_no_repeat_ngram_size"] == NGRAM["blenderbot"]
    check_generate(model, checkpoints["blenderbot"], "blenderbot", **options)


@pytest.mark.slow
def test_bart_generate_applies_the_ban_passed_to_generate(checkpoints):
    model = tfmodels.BartForConditionalGeneration.from_pretrained(checkpoints["bart"])
    check_generate(model, checkpoints["bart"], "bart", num_beams=1, encoder_no_repeat_ngram_size=NGRAM["bart"])
    check_generate(model, checkpoints["bart"], "bart", num_beams=3, num_return_sequences=2,
                   encoder_no_repeat_ngram_size=NGRAM["bart"])


def test_negative_size_is_refused():
    config = family_config("blenderbot", encoder_layers=1, decoder_layers=1).to_dict()
    model = tfmodels.BlenderbotForConditionalGeneration.from_config(config)
    inputs = source_inputs("blenderbot")
    with pytest.raises(ValueError, match="encoder_no_repeat_ngram_size must be >= 0"):
        model.generate(inputs["input_ids"], attention_mask=inputs["attention_mask"], max_new_tokens=1,
                       encoder_no_repeat_ngram_size=-1)


@pytest.mark.slow
def test_decoder_only_model_bans_the_prompt_ngrams(tmp_path):
    """A decoder-only model's "encoder input" is its (left-padded) prompt, as in the reference (GPT-2)."""
    import torch
    import transformers

    config = transformers.GPT2Config(vocab_size=50, n_positions=40, n_embd=32, n_layer=2, n_head=4,
                                     initializer_range=1.0, pad_token_id=0, eos_token_id=1, bos_token_id=1)
    path = hf_checkpoint("GPT2LMHeadModel", config, tmp_path)
    reference = transformers.GPT2LMHeadModel.from_pretrained(path).eval()
    model = tfmodels.GPT2LMHeadModel.from_pretrained(path)
    input_ids = np.random.RandomState(0).randint(2, 50, (3, 8))
    attention_mask = np.ones_like(input_ids)
    input_ids[1, :2], attention_mask[1, :2] = 0, 0  # left padding

    def reference_generate_(ids, **options):
        with torch.no_grad():
            return reference.generate(input_ids=torch.as_tensor(ids), attention_mask=torch.as_tensor(attention_mask),
                                      do_sample=False, max_new_tokens=8, **options).numpy()

    first = reference_generate_(input_ids)
    for row in range(3):  # the prompt holds the first 2 tokens the model continues it with, twice
        input_ids[row, 2:4] = input_ids[row, 5:7] = first[row, 8:10]
    for options in (dict(num_beams=1), dict(num_beams=3, num_return_sequences=2)):
        expected = reference_generate_(input_ids, encoder_no_repeat_ngram_size=2, **options)
        assert (expected != reference_generate_(input_ids, **options)).any(), "the ban did not fire"
        ours = model.generate(input_ids, attention_mask=attention_mask, max_new_tokens=8,
                              encoder_no_repeat_ngram_size=2, jit_compile=False, **options)
        np.testing.assert_array_equal(ours.numpy(), expected)
