"""User logits processors and stopping criteria of `generate()`: validation, a token-sequence criterion,
and the stop-string criterion behind `generate(stop_strings=..., tokenizer=...)`.

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

import json
from collections import OrderedDict

import numpy as np
import tensorflow as tf

from tfmodels.generation import logits as lp

# transformers' own criteria and what to pass to tfmodels' generate() instead.
_REFERENCE_CRITERIA = {
    "MaxTimeCriteria": "max_time=...", "MaxLengthCriteria": "max_length=... or max_new_tokens=...",
    "EosTokenCriteria": "eos_token_id=...", "StopStringCriteria": "stop_strings=... with tokenizer=...",
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

    The token-id analogue of `stop_strings` (`StopStringCriteria`, which
    also catches the other tokenizations of a string): e.g.
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


# (token strings, token ids, stop strings, matching mode) -> the precomputed table; the reference's LRU of 8.
_TABLE_CACHE = OrderedDict()
_STATIC_PREFIX = "abcdef"  # the reference's prefix for `convert_tokens_to_string` (see `_clean_vocabulary`)


class StopStringCriteria:
    """Stopping criterion: a row is done when its text ends inside one of `stop_strings` (`generate(stop_strings=)`).

    A row matches when a stop string overlaps its last token and the tokens
    before it spell the rest of the string, whatever the tokenization: for
    `"stop"`, `["st", "op"]`, `["stop"]`, `["st", "opera"]`, `["las",
    "topper"]` and `["s", "to", "pped"]` match, `["stop", "at"]` does not
    (the string no longer touches the last token, so it was caught a step
    earlier). The check is tensor ops on the token ids only, so it runs
    inside the compiled (XLA) generation loop: from the tokenizer's
    vocabulary, cleaned to the text (or, for byte-level and byte-fallback
    tokenizers, the UTF-8 bytes) each token yields, a table gives per token
    and stop string the positions (counted from the string's end) at which
    the token can sit inside it, the lengths by which it can overlap the
    string's end, and its length; each step gathers the rows of the last
    `max(len(stop string))` tokens and follows a match backwards through
    them with a cumulative sum of the lengths.

    Same semantics as `transformers.StopStringCriteria` (the table is the
    reference's `embedding_vec`, built by the same rules from the same
    cleaned vocabulary), so `generate()` stops where the reference stops.
    Hashable on the stop strings and the table, so equal criteria reuse one
    compiled loop.

    Args:
        tokenizer: the model's `transformers` tokenizer (fast or slow): its
            `get_vocab()`, `convert_tokens_to_string`, `convert_ids_to_tokens`,
            `__call__` and (fast tokenizers) `backend_tokenizer.decoder` are read.
        stop_strings: a string or a non-empty list of non-empty strings.

    Raises:
        ValueError: for no stop strings, an empty one, or stop strings no
            token of the vocabulary can end (characters outside it).
        TypeError: for a stop string that is not a `str`, or a tokenizer
            without the methods above.

    References:
        `transformers.generation.stopping_criteria.StopStringCriteria` (v5).
    """

    def __init__(self, tokenizer, stop_strings):
        if isinstance(stop_strings, str):
            stop_strings = [stop_strings]
        if not isinstance(stop_strings, (list, tuple)) or not stop_strings:
            raise ValueError("stop_strings must be a string or a non-empty list of strings. "
                             f"Received: {stop_strings!r}")
        for string in stop_strings:
            if not isinstance(string, str):
                raise TypeError(f"stop_strings must hold strings. Received: {string!r}")
            if not string:
                raise ValueError(f"stop_strings cannot hold an empty string. Received: {list(stop_strings)!r}")
        missing = [name for name in ("get_vocab", "convert_tokens_to_string", "convert_ids_to_tokens")
                   if not callable(getattr(tokenizer, name, None))]
        if missing or not callable(tokenizer):
            raise TypeError(f"tokenizer must be the model's transformers tokenizer (with get_vocab(), "
                            f"convert_tokens_to_string() and convert_ids_to_tokens()). Received: "
                            f"{type(tokenizer).__name__}, missing {missing or ['__call__']}.")
        self.stop_strings = tuple(stop_strings)
        mode = _matching_mode(tokenizer)
        targets = self.stop_strings if mode is None else tuple(s.encode("utf-8") for s in self.stop_strings)
        vocab = tokenizer.get_vocab()
        tokens = tuple(sorted(vocab))  # tokenizers may list their vocabulary in another order each call
        key = (tokens, tuple(vocab[t] for t in tokens), targets, mode)
        if key not in _TABLE_CACHE:
            _TABLE_CACHE[key] = _stop_string_table(*_clean_vocabulary(tokenizer, mode), targets)
            if len(_TABLE_CACHE) > 8:
                _TABLE_CACHE.popitem(last=False)
        _TABLE_CACHE.move_to_end(key)
        self.table, self.max_valid_positions, self.max_valid_end_lens = _TABLE_CACHE[key]
        self.maximum_token_len = max(len(s) for s in targets)
        self.target_lens = tuple(len(s) for s in targets)
        self._key = (self.stop_strings, self.table.shape, self.max_valid_positions, hash(self.table.tobytes()))

    def __eq__(self, other):
        return (isinstance(other, StopStringCriteria) and other._key == self._key
                and np.array_equal(other.table, self.table))

    def __hash__(self):
        return hash(self._key)

    def __repr__(self):
        return f"StopStringCriteria({list(self.stop_strings)!r})"

    def __call__(self, input_ids, scores, cur_len):
        del scores
        rows, window = input_ids.shape[0], self.maximum_token_len
        num, positions_per, ends_per = len(self.stop_strings), self.max_valid_positions, self.max_valid_end_lens
        dummy = self.table.shape[0] - 1  # the table's last row matches nothing
        at = cur_len - 1 - tf.range(window)  # the last `window` tokens, newest first
        ids = tf.gather(input_ids, tf.maximum(at, 0), axis=1)  # (rows, window)
        ids = tf.where((at >= 0)[None, :] & (ids >= 0), tf.minimum(ids, dummy), dummy)
        embedded = tf.gather(tf.constant(self.table), ids)  # (rows, window, num * (P + E) + 1)
        valid_positions = tf.reshape(embedded[:, 1:, :positions_per * num], (rows, window - 1, num, positions_per))
        end_lengths = tf.reshape(embedded[:, :1, positions_per * num:-1], (rows, 1, num, ends_per))
        lengths = tf.broadcast_to(embedded[:, 1:, None, -1:], (rows, window - 1, num, ends_per))
        # Characters of the stop string matched after each token, one track per possible end overlap.
        matched = tf.cumsum(tf.concat([end_lengths, lengths], axis=1), axis=1)  # (rows, window, num, E)
        later = tf.reduce_any(matched[:, :-1, :, None, :] == valid_positions[..., None], axis=-2)
        match = tf.concat([end_lengths > 0, later], axis=1)
        # A track counts up to its first token that does not fit.
        intact = tf.equal(tf.cumsum(tf.cast(tf.logical_not(match), tf.int32), axis=1), 0)
        reached = tf.reduce_max(matched * tf.cast(intact, tf.int32), axis=(1, 3))  # (rows, num)
        return tf.reduce_any(reached >= tf.constant(self.target_lens, tf.int32)[None, :], axis=-1)


def _decoder_has_type(config, kind):
    if isinstance(config, dict):
        return config.get("type") == kind or any(_decoder_has_type(v, kind) for v in config.values())
    if isinstance(config, list):
        return any(_decoder_has_type(v, kind) for v in config)
    return False


def _matching_mode(tokenizer):
    """`"byte_level"` / `"byte_fallback"` when the tokenizer's decoder works on bytes (strings are then matched as
    UTF-8 bytes), else `None`: the reference's rule, read from `backend_tokenizer.decoder`."""
    decoder = getattr(getattr(tokenizer, "backend_tokenizer", None), "decoder", None)
    if decoder is None:
        return None
    if type(decoder).__name__ == "ByteLevel":
        return "byte_level"
    state = getattr(decoder, "__getstate__", lambda: None)()
    if isinstance(state, str):
        state = state.encode()
    try:
        config = json.loads(state) if isinstance(state, bytes) else None
    except json.JSONDecodeError:
        config = None
    if config is not None:
        if _decoder_has_type(config, "ByteFallback"):  # "<0xNN>" tokens win when both are there
            return "byte_fallback"
        if _decoder_has_type(config, "ByteLevel"):
            return "byte_level"
    return None


def _token_bytes(token, mode, byte_decoder):
    """The bytes a byte-level / byte-fallback token stands for, or `None` when it has to be decoded as text."""
    if mode == "byte_level":
        if all(char in byte_decoder for char in token):
            return bytes(byte_decoder[char] for char in token)
    elif mode == "byte_fallback":
        if len(token) == 6 and token.startswith("<0x") and token.endswith(">") and all(
                char in "0123456789abcdefABCDEF" for char in token[3:5]):
            return bytes([int(token[3:5], 16)])
    return None


def _clean_vocabulary(tokenizer, mode):
    """`(strings, ids)`: the text (bytes when `mode` is set) each vocabulary token yields, without markers such as
    `Ġ` or `##`.

    `convert_tokens_to_string` of one token can add or drop a leading space, so each token is converted after the
    tokens of a static prefix, and the text up to the prefix's end is cut off (the reference's method).
    """
    byte_decoder = None
    if mode == "byte_level":  # GPT-2's byte -> printable character table, from the library the tokenizer comes from
        from transformers.convert_slow_tokenizer import bytes_to_unicode

        byte_decoder = {char: byte for byte, char in bytes_to_unicode().items()}
    prefix_tokens = list(tokenizer.convert_ids_to_tokens(
        list(tokenizer(_STATIC_PREFIX, add_special_tokens=False)["input_ids"])))
    strings, ids = [], []
    for token, index in tokenizer.get_vocab().items():
        text = _token_bytes(token, mode, byte_decoder)
        if text is None:
            text = tokenizer.convert_tokens_to_string(prefix_tokens + [token])
            text = text[text.index(_STATIC_PREFIX) + len(_STATIC_PREFIX):]
            if mode is not None:
                text = text.encode("utf-8")
        strings.append(text)
        ids.append(index)
    return tuple(strings), tuple(ids)


def _token_positions(tokens, ids, stop_strings):
    """Per stop string, `{token id: positions}` where the token can sit inside the string (counted from its end,
    >= 1, running off its start allowed) and `{token id: overlaps}`, the lengths by which the token can overlap the
    string's end (a prefix of the token equal to a suffix of the string, or the whole string inside the token)."""
    positions, overlaps = [], []
    for stop in stop_strings:
        reversed_stop, inside, ends = stop[::-1], {}, {}
        for token, index in zip(tokens, ids):
            reversed_token, found, lengths = token[::-1], [], []
            i = reversed_stop.find(reversed_token[:1], 1)
            while 0 <= i < len(stop):
                if reversed_token.startswith(reversed_stop[i:i + len(token)]):
                    found.append(i)
                i = reversed_stop.find(reversed_token[:1], i + 1)
            i = token.find(stop[-1:])
            while i >= 0:
                overlap = min(i + 1, len(stop))
                if token[i + 1 - overlap:i + 1] == stop[-overlap:]:
                    lengths.append(overlap)
                i = token.find(stop[-1:], i + 1)
            if found:
                inside[index] = found
            if lengths:
                ends[index] = lengths
        positions.append(inside)
        overlaps.append(ends)
    return positions, overlaps


def _stop_string_table(tokens, ids, stop_strings):
    """`(table, P, E)`: int32 `(max_id + 2, S * (P + E) + 1)`; row `id` holds, for each of the S stop strings, the
    token's inside positions (P slots), then its end overlaps (E slots) per string, then its length; `-1` fills
    unused slots, and the last row (out-of-vocabulary ids) matches nothing. The reference's `embedding_vec`."""
    positions, overlaps = _token_positions(tokens, ids, stop_strings)
    counts = [len(v) for per_string in positions for v in per_string.values()]
    max_positions = max(counts) if counts else 1  # e.g. a one-character stop string has no inside positions
    ends = [len(v) for per_string in overlaps for v in per_string.values()]
    if not ends:
        raise ValueError(f"No token of the tokenizer's vocabulary can end the stop strings {list(stop_strings)!r} "
                         "(characters outside the vocabulary?): stop_strings cannot match.")
    max_ends = max(ends)
    num = len(stop_strings)
    table = np.full((max(ids) + 2, num * (max_positions + max_ends) + 1), -1, np.int32)
    for s in range(num):
        for index, found in positions[s].items():
            table[index, max_positions * s:max_positions * s + len(found)] = found
        start = max_positions * num + max_ends * s
        for index, lengths in overlaps[s].items():
            table[index, start:start + len(lengths)] = lengths
    for token, index in zip(tokens, ids):
        table[index, -1] = len(token)
    return table, max_positions, max_ends
