"""The sequence-reading logits processors against `transformers`' own classes, on random logits.

Each processor runs as `generate()` runs it: inside an XLA-compiled function,
over a preallocated sequence buffer whose columns past `cur_len` hold junk
(they must be ignored), with `cur_len` a tensor.
"""

import numpy as np
import pytest
import tensorflow as tf
import torch
import transformers

from tfmodels.generation import logits as lp
from tfmodels.generation.utils import _bad_words

VOCAB = 50
EOS = [3, 7]


def random_scores(seed, batch=6):
    return np.random.RandomState(seed).randn(batch, VOCAB).astype("float32") * 3.0


def repetitive_sequences(seed, batch=6, length=12, alphabet=5):
    """Short-alphabet sequences, so n-grams and bad-word prefixes do recur."""
    return np.random.RandomState(seed).randint(0, alphabet, (batch, length))


def ours(processors, scores, sequences, junk=5):
    """`processors.apply` under XLA on a buffer `junk` columns longer than the sequence."""
    buffer = np.concatenate([sequences, np.random.RandomState(99).randint(0, VOCAB, (len(sequences), junk))], 1)
    apply = tf.function(lambda s, b, n: processors.apply(s, b, n), jit_compile=True)
    return apply(tf.constant(scores), tf.constant(buffer, tf.int32), tf.constant(sequences.shape[1])).numpy()


def reference(processor, scores, sequences):
    return processor(torch.as_tensor(sequences), torch.tensor(scores)).numpy()


def assert_same_processed(got, expected):
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(expected))
    kept = np.isfinite(expected)
    np.testing.assert_allclose(got[kept], expected[kept], rtol=0, atol=1e-6)


@pytest.mark.parametrize("ngram_size, length", [(1, 6), (2, 12), (3, 12), (3, 2), (4, 30)])
def test_no_repeat_ngram_matches_transformers(ngram_size, length):
    scores, sequences = random_scores(ngram_size), repetitive_sequences(length, length=length)
    expected = reference(transformers.NoRepeatNGramLogitsProcessor(ngram_size), scores, sequences)
    if length >= ngram_size:
        assert np.isneginf(expected).any()  # the test bans something
    got = ours(lp.SequenceProcessors(no_repeat_ngram_size=ngram_size), scores, sequences)
    assert_same_processed(got, expected)


@pytest.mark.parametrize("bad_words", [
    [[4], [9]],  # single tokens
    [[1, 2], [0, 1, 3], [2, 2, 2, 2, 11]],  # multi-token, one prefix longer than some contexts
    [[7], [3], [1, 4], [12]],  # eos-only words stay generable
])
def test_bad_words_match_transformers(bad_words):
    scores, sequences = random_scores(11), repetitive_sequences(12, length=4)
    expected = reference(transformers.NoBadWordsLogitsProcessor(bad_words, eos_token_id=EOS), scores, sequences)
    processors = lp.SequenceProcessors(eos_token_ids=EOS, bad_words_ids=_bad_words(bad_words, EOS, VOCAB))
    assert_same_processed(ours(processors, scores, sequences), expected)


@pytest.mark.parametrize("cur_len", [3, 5, 6])
def test_min_length_and_min_new_tokens_match_transformers(cur_len):
    scores, sequences = random_scores(cur_len), repetitive_sequences(cur_len, length=cur_len)
    expected = reference(transformers.MinLengthLogitsProcessor(6, EOS), scores, sequences)
    assert_same_processed(ours(lp.SequenceProcessors(EOS, min_length=6), scores, sequences), expected)
    # min_new_tokens=4 after a 2-token prompt is min_length=6 (what generate() passes)
    expected = reference(transformers.MinNewTokensLengthLogitsProcessor(2, 4, EOS), scores, sequences)
    assert_same_processed(ours(lp.SequenceProcessors(EOS, min_length=2 + 4), scores, sequences), expected)


@pytest.mark.parametrize("cur_len", [1, 2, 8, 9])
def test_forced_bos_and_eos_match_transformers(cur_len):
    scores, sequences = random_scores(cur_len), repetitive_sequences(cur_len, length=cur_len)
    expected = reference(transformers.ForcedBOSTokenLogitsProcessor(13), scores, sequences)
    assert_same_processed(ours(lp.SequenceProcessors(forced_bos_token_id=13), scores, sequences), expected)
    expected = reference(transformers.ForcedEOSTokenLogitsProcessor(10, EOS), scores, sequences)
    processors = lp.SequenceProcessors(forced_eos_token_ids=EOS, max_length=10)
    assert_same_processed(ours(processors, scores, sequences), expected)


def test_processors_compose_in_transformers_order():
    scores, sequences = random_scores(21), repetitive_sequences(22, length=9)
    chain = transformers.LogitsProcessorList([
        transformers.NoRepeatNGramLogitsProcessor(2),
        transformers.NoBadWordsLogitsProcessor([[1, 2], [4]], eos_token_id=EOS),
        transformers.MinLengthLogitsProcessor(12, EOS),
        transformers.ForcedEOSTokenLogitsProcessor(10, EOS),
    ])
    processors = lp.SequenceProcessors(EOS, no_repeat_ngram_size=2, bad_words_ids=((1, 2), (4,)), min_length=12,
                                       forced_eos_token_ids=EOS, max_length=10)
    assert_same_processed(ours(processors, scores, sequences), reference(chain, scores, sequences))


@pytest.mark.parametrize("bad, message", [
    ([], "non-empty list"), ([[1], []], "non-empty list"), ([1, 2], "non-empty list"), ([[1, VOCAB]], "outside"),
])
def test_bad_words_are_validated(bad, message):
    with pytest.raises(ValueError, match=message):
        _bad_words(bad, EOS, VOCAB)
