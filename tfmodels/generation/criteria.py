"""User logits processors and stopping criteria of `generate()`: validation, and a token-sequence criterion.

The contract (both run inside the compiled generation loop, so they are
traced once per compiled program and must be written in TensorFlow ops):

- a logits processor is a callable `(input_ids, scores, cur_len) -> scores`;
- a stopping criterion is a callable `(input_ids, scores, cur_len) -> done`.

`input_ids` is the loop's static-shape int32 buffer `(rows, prompt_len +
max_new_tokens)` (`rows` = `batch * num_return_sequences` when sampling,
`batch * num_beams` for a beam-search processor, `batch * keep` candidates
for a beam-search criterion, `keep = max(2, 1 + n_eos) * num_beams`); only
its first `cur_len` columns are real, the others hold the fill token.
`cur_len` is a scalar int32 tensor (the prompt, or the decoder start token,
included). `scores` is float32 `(rows, vocab_size)`: for a processor, the
scores after the built-in processors (log-probabilities with beams); for a
criterion, this step's processed scores (`transformers` passes the tuple of
every step's scores instead). A processor returns float `(rows,
vocab_size)`; a criterion a bool `(rows,)` (or a scalar for every row),
true where the row is done. They are keys of the compiled-loop cache: pass
the same objects again to reuse the compiled program.
"""

import tensorflow as tf

from tfmodels.generation import logits as lp

# transformers' own criteria and what to pass to tfmodels' generate() instead.
_REFERENCE_CRITERIA = {
    "MaxTimeCriteria": "max_time=...", "MaxLengthCriteria": "max_length=... or max_new_tokens=...",
    "EosTokenCriteria": "eos_token_id=...", "StopStringCriteria": "a StopOnTokenSequences criterion",
}


def as_callables(value, name):
    """`logits_processor` / `stopping_criteria` as a tuple of callables (a callable, a list of them, or `None`).

    Raises:
        TypeError: an entry is not callable, or is one of `transformers`' PyTorch processors or criteria
            (they compute on `torch` tensors and cannot run inside the TensorFlow loop).
    """
    if value is None:
        return ()
    items = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    for item in items:
        module = type(item).__module__ or ""
        if module.startswith("transformers") or module.startswith("torch"):
            kind = type(item).__name__
            instead = _REFERENCE_CRITERIA.get(kind, "a function of TensorFlow tensors (input_ids, scores, cur_len)")
            raise TypeError(f"{name} got transformers' PyTorch {kind}, which cannot run inside tfmodels' TensorFlow "
                            f"generation loop; pass {instead} instead.")
        if not callable(item):
            raise TypeError(f"{name} must be a callable (input_ids, scores, cur_len) or a list of them. "
                            f"Received: {item!r}")
    return items


class StopOnTokenSequences:
    """Stopping criterion: a row is done when its tokens end with one of `token_sequences`.

    The token-id analogue of `stop_strings` (which needs the tokenizer's
    string vocabulary, out of reach of the compiled loop): e.g.
    `StopOnTokenSequences([tokenizer.encode("\\n\\n")])`. Hashable, so equal
    criteria reuse one compiled loop.

    Args:
        token_sequences: list of non-empty lists of token ids.

    Raises:
        ValueError: for an empty list or an empty sequence.
    """

    def __init__(self, token_sequences):
        if (not isinstance(token_sequences, (list, tuple)) or not token_sequences
                or any(not isinstance(s, (list, tuple)) or not s for s in token_sequences)):
            raise ValueError("StopOnTokenSequences takes a non-empty list of non-empty token-id lists. "
                             f"Received: {token_sequences!r}")
        self.token_sequences = tuple(tuple(int(t) for t in s) for s in token_sequences)

    def __eq__(self, other):
        return isinstance(other, StopOnTokenSequences) and other.token_sequences == self.token_sequences

    def __hash__(self):
        return hash(self.token_sequences)

    def __repr__(self):
        return f"StopOnTokenSequences({[list(s) for s in self.token_sequences]})"

    def __call__(self, input_ids, scores, cur_len):
        del scores
        done = tf.zeros((input_ids.shape[0],), tf.bool)
        for sequence in self.token_sequences:
            tail = lp._window(input_ids, cur_len - len(sequence), len(sequence))  # (rows, len)
            match = tf.reduce_all(tf.equal(tail, tf.constant(sequence, input_ids.dtype)), axis=-1)
            done = tf.logical_or(done, tf.logical_and(match, cur_len >= len(sequence)))
        return done
