"""Logits processors with Hugging Face semantics, as pure XLA-friendly functions.

Each takes scores `(batch, vocab_size)` (float32) and returns new scores of
the same shape; removed tokens get `-inf` (Hugging Face's `filter_value`).

References: `transformers.generation.logits_process` (`RepetitionPenaltyLogitsProcessor`,
`NoRepeatNGramLogitsProcessor`, `EncoderNoRepeatNGramLogitsProcessor`, `LogitNormalization`,
`TemperatureLogitsWarper`, `TopKLogitsWarper`, `TopPLogitsWarper`).
"""

import tensorflow as tf

NEG_INF = float("-inf")


def token_presence(sequences, valid, vocab_size):
    """Bool `(batch, vocab_size)`: which tokens occur at the `valid` positions of `sequences` `(batch, len)`."""
    one_hot = tf.one_hot(sequences, vocab_size, on_value=True, off_value=False, dtype=tf.bool)
    return tf.reduce_any(tf.logical_and(one_hot, valid[:, :, None]), axis=1)


def add_token(presence, tokens, vocab_size):
    """Marks `tokens` `(batch,)` as present in `presence` `(batch, vocab_size)`."""
    return tf.logical_or(presence, tf.one_hot(tokens, vocab_size, on_value=True, off_value=False, dtype=tf.bool))


def repetition_penalty(scores, presence, penalty):
    """Divides positive / multiplies negative scores of tokens already present by `penalty` (CTRL paper)."""
    penalized = tf.where(scores < 0, scores * penalty, scores / penalty)
    return tf.where(presence, penalized, scores)


def temperature(scores, value):
    return scores / value


def top_k_filter(scores, k, min_tokens_to_keep=1):
    """Keeps the `max(k, min_tokens_to_keep)` highest scores (ties with the k-th kept)."""
    k = min(max(k, min_tokens_to_keep), scores.shape[-1])
    threshold = tf.math.top_k(scores, k=k).values[:, -1:]
    return tf.where(scores < threshold, tf.cast(NEG_INF, scores.dtype), scores)


def top_p_filter(scores, p, min_tokens_to_keep=1):
    """Nucleus filtering: drops the least likely tokens whose cumulative probability is `<= 1 - p`."""
    order = tf.argsort(scores, axis=-1, direction="ASCENDING", stable=True)
    sorted_scores = tf.gather(scores, order, batch_dims=1)
    cumulative = tf.cumsum(tf.nn.softmax(sorted_scores, axis=-1), axis=-1)
    remove_sorted = cumulative <= (1.0 - p)
    keep_tail = tf.range(scores.shape[-1]) >= scores.shape[-1] - min_tokens_to_keep
    remove_sorted = tf.logical_and(remove_sorted, tf.logical_not(keep_tail)[None, :])
    inverse = tf.argsort(order, axis=-1, stable=True)
    remove = tf.gather(remove_sorted, inverse, batch_dims=1)
    return tf.where(remove, tf.cast(NEG_INF, scores.dtype), scores)


def warp_for_sampling(scores, temperature_value=1.0, top_k=0, top_p=1.0, min_tokens_to_keep=1):
    """Temperature, then top-k, then top-p, in Hugging Face's order (each only when active)."""
    if temperature_value is not None and temperature_value != 1.0:
        scores = temperature(scores, temperature_value)
    if top_k:
        scores = top_k_filter(scores, top_k, min_tokens_to_keep)
    if top_p is not None and top_p < 1.0:
        scores = top_p_filter(scores, top_p, min_tokens_to_keep)
    return scores


# -- processors over the generated sequence (sequences `(B, L)` valid up to `cur_len`) ---------------------


def _window(sequences, start, length):
    """`sequences[:, start:start + length]` for a traced `start` (clipped at 0); `(B, length)`."""
    return tf.gather(sequences, tf.maximum(start + tf.range(length), 0), axis=1)


def _ban_tokens(banned_rows, tokens, batch, vocab_size):
    """Bool `(B, V)`: `tokens` `(B, W)` where `banned_rows` `(B, W)` is true (a scatter, no `(B, W, V)` tensor)."""
    rows = tf.broadcast_to(tf.range(batch)[:, None], tf.shape(tokens))
    indices = tf.reshape(tf.stack([rows, tokens], axis=-1), (-1, 2))
    updates = tf.reshape(tf.cast(banned_rows, tf.int32), (-1,))
    return tf.tensor_scatter_nd_max(tf.zeros((batch, vocab_size), tf.int32), indices, updates) > 0


def _ngrams(sequences, ngram_size):
    """Every window of `ngram_size` tokens of `sequences` `(B, L)`: `(starts (W,), windows (B, W, n))`, `W = L - n + 1`."""
    starts = tf.range(sequences.shape[1] - ngram_size + 1)
    return starts, tf.gather(sequences, starts[:, None] + tf.range(ngram_size)[None, :], axis=1)


def _ngram_ban(windows, valid, sequences, cur_len, vocab_size):
    """Bool `(B, V)`: the last token of each `valid` n-gram `windows` `(B, W, n)` whose first `n - 1`
    tokens are the last `n - 1` tokens of `sequences[:, :cur_len]` (`(B, W)` bool `valid`).

    The one n-gram matcher of `no_repeat_ngram_ban` and `encoder_no_repeat_ngram_ban`; a window
    token outside the vocabulary (a source id of a separate source vocabulary) bans nothing.
    """
    batch, ngram_size = sequences.shape[0], windows.shape[-1]
    prefix = _window(sequences, cur_len - (ngram_size - 1), ngram_size - 1)  # (B, n - 1)
    matches = tf.reduce_all(tf.equal(windows[:, :, :-1], prefix[:, None, :]), axis=-1)  # (B, W)
    last = windows[:, :, -1]
    in_vocab = tf.logical_and(last >= 0, last < vocab_size)
    matches = tf.logical_and(tf.logical_and(matches, valid), in_vocab)
    return _ban_tokens(matches, tf.clip_by_value(last, 0, vocab_size - 1), batch, vocab_size)


def no_repeat_ngram_ban(sequences, cur_len, ngram_size, vocab_size):
    """Bool `(B, V)`: tokens that would repeat an n-gram of `sequences[:, :cur_len]` (`NoRepeatNGramLogitsProcessor`).

    The n-grams are every window of the preallocated buffer that lies inside
    the first `cur_len` tokens (prompt padding included, as the reference);
    a token is banned when the last `ngram_size - 1` tokens followed by it
    form one of them.
    """
    if ngram_size > sequences.shape[1]:
        return tf.zeros((sequences.shape[0], vocab_size), tf.bool)
    starts, windows = _ngrams(sequences, ngram_size)
    return _ngram_ban(windows, (starts + ngram_size <= cur_len)[None, :], sequences, cur_len, vocab_size)


def encoder_no_repeat_ngram_ban(encoder_input_ids, sequences, cur_len, ngram_size, vocab_size):
    """Bool `(B, V)`: tokens that would complete an n-gram of the encoder input (`EncoderNoRepeatNGramLogitsProcessor`).

    The n-grams are every window of `encoder_input_ids` `(E, S)` (padding included, as the
    reference); hypothesis row `i` of `sequences` `(B, L)` reads source row `i // (B // E)` (beams
    or returned samples of one source are consecutive rows). Nothing is banned before
    `cur_len >= ngram_size - 1` (the reference's prefix is then shorter than `n - 1`).

    Raises:
        ValueError: if `B` is not a multiple of `E`.
    """
    batch, sources = sequences.shape[0], encoder_input_ids.shape[0]
    if batch % sources:
        raise ValueError(f"encoder_no_repeat_ngram_size needs every decoded row to have one encoder row: "
                         f"{batch} decoded rows for {sources} encoder rows.")
    if ngram_size > encoder_input_ids.shape[1]:
        return tf.zeros((batch, vocab_size), tf.bool)
    _, windows = _ngrams(tf.repeat(tf.cast(encoder_input_ids, sequences.dtype), batch // sources, axis=0), ngram_size)
    return _ngram_ban(windows, tf.fill((1, 1), cur_len >= ngram_size - 1), sequences, cur_len, vocab_size)


def bad_words_ban(sequences, cur_len, bad_words_ids, vocab_size):
    """Bool `(B, V)`: each bad word's last token where its other tokens end `sequences[:, :cur_len]`.

    Single-token words are always banned (`NoBadWordsLogitsProcessor`, i.e.
    `SequenceBiasLogitsProcessor` with a `-inf` bias); a prefix longer than
    `cur_len` never matches.
    """
    batch = sequences.shape[0]
    banned = tf.zeros((batch, vocab_size), tf.bool)
    for word in bad_words_ids:
        last = tf.one_hot(word[-1], vocab_size, on_value=True, off_value=False, dtype=tf.bool)[None, :]
        if len(word) == 1:
            banned = tf.logical_or(banned, last)
            continue
        prefix_len = len(word) - 1
        prefix = tf.constant(word[:-1], sequences.dtype)
        matches = tf.reduce_all(tf.equal(_window(sequences, cur_len - prefix_len, prefix_len), prefix), axis=-1)
        matches = tf.logical_and(matches, cur_len >= prefix_len)
        banned = tf.logical_or(banned, tf.logical_and(matches[:, None], last))
    return banned


def force_tokens(scores, token_ids, condition):
    """Where the scalar `condition` holds: `-inf` everywhere but `token_ids` (score 0), as the forced-token processors."""
    vocab_size = scores.shape[-1]
    allowed = tf.reduce_any(tf.one_hot(list(token_ids), vocab_size, on_value=True, off_value=False, dtype=tf.bool),
                            axis=0)
    forced = tf.where(allowed, tf.zeros_like(scores), tf.cast(NEG_INF, scores.dtype))
    return tf.where(condition, forced, scores)


class SequenceProcessors:
    """The processors that read the generated sequence, in `transformers`' order and with its semantics.

    After the repetition penalty, `generate()` builds `NoRepeatNGramLogitsProcessor`,
    `EncoderNoRepeatNGramLogitsProcessor`, `NoBadWordsLogitsProcessor`, `MinLengthLogitsProcessor` /
    `MinNewTokensLengthLogitsProcessor`, `ForcedBOSTokenLogitsProcessor`,
    `ForcedEOSTokenLogitsProcessor`, and last (after the sampling warpers, which
    a log-softmax does not change) `LogitNormalization`; `apply` runs those that
    are active, in that order. Hashable, so it can be a key of the compiled-loop cache.

    Args:
        eos_token_ids: tuple of ints, the tokens `min_length` bans.
        no_repeat_ngram_size: int, `0` disables it.
        encoder_no_repeat_ngram_size: int, n-grams of the encoder input (the prompt of a decoder-only
            model) never generated; `0` disables it. `apply` then needs `encoder_input_ids`.
        bad_words_ids: tuple of token-id tuples (eos-only words already removed).
        min_length: int, total length (prompt or decoder start included) below which eos is banned.
        forced_bos_token_id: int or `None`, forced when `cur_len == 1`.
        forced_eos_token_ids: tuple of ints, forced when `cur_len == max_length - 1`.
        max_length: int, prompt length + `max_new_tokens`.
        renormalize_logits: bool, log-softmax the processed scores (`LogitNormalization`: beam
            search then ranks renormalised log-probabilities; greedy and sampling are unchanged).
    """

    def __init__(self, eos_token_ids=(), no_repeat_ngram_size=0, bad_words_ids=(), min_length=0,
                 forced_bos_token_id=None, forced_eos_token_ids=(), max_length=0, encoder_no_repeat_ngram_size=0,
                 renormalize_logits=False):
        self.eos_token_ids = tuple(eos_token_ids)
        self.no_repeat_ngram_size = int(no_repeat_ngram_size or 0)
        self.encoder_no_repeat_ngram_size = int(encoder_no_repeat_ngram_size or 0)
        self.renormalize_logits = renormalize_logits is True
        self.bad_words_ids = tuple(tuple(w) for w in bad_words_ids)
        self.min_length = int(min_length or 0) if self.eos_token_ids else 0
        self.forced_bos_token_id = forced_bos_token_id
        self.forced_eos_token_ids = tuple(forced_eos_token_ids)
        self.max_length = int(max_length)

    def _key(self):
        return (self.eos_token_ids, self.no_repeat_ngram_size, self.bad_words_ids, self.min_length,
                self.forced_bos_token_id, self.forced_eos_token_ids, self.max_length,
                self.encoder_no_repeat_ngram_size, self.renormalize_logits)

    def __eq__(self, other):
        return isinstance(other, SequenceProcessors) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return f"SequenceProcessors{self._key()}"

    def apply(self, scores, sequences, cur_len, encoder_input_ids=None):
        """Processes `scores` `(B, V)` given `sequences` `(B, L)` whose first `cur_len` tokens are real
        (and, for `encoder_no_repeat_ngram_size`, the encoder input `(E, S)`, `B` a multiple of `E`).

        Raises:
            ValueError: `encoder_no_repeat_ngram_size` is set and `encoder_input_ids` is `None`.
        """
        vocab_size = scores.shape[-1]
        neg_inf = tf.cast(NEG_INF, scores.dtype)
        if self.no_repeat_ngram_size > 0:
            banned = no_repeat_ngram_ban(sequences, cur_len, self.no_repeat_ngram_size, vocab_size)
            scores = tf.where(banned, neg_inf, scores)
        if self.encoder_no_repeat_ngram_size > 0:
            if encoder_input_ids is None:
                raise ValueError("encoder_no_repeat_ngram_size needs the encoder input ids (encoder_input_ids).")
            banned = encoder_no_repeat_ngram_ban(encoder_input_ids, sequences, cur_len,
                                                 self.encoder_no_repeat_ngram_size, vocab_size)
            scores = tf.where(banned, neg_inf, scores)
        if self.bad_words_ids:
            scores = tf.where(bad_words_ban(sequences, cur_len, self.bad_words_ids, vocab_size), neg_inf, scores)
        if self.min_length > 0:
            eos = tf.reduce_any(tf.one_hot(list(self.eos_token_ids), vocab_size, on_value=True, off_value=False,
                                           dtype=tf.bool), axis=0)
            scores = tf.where(tf.logical_and(eos, cur_len < self.min_length), neg_inf, scores)
        if self.forced_bos_token_id is not None:
            scores = force_tokens(scores, [self.forced_bos_token_id], tf.equal(cur_len, 1))
        if self.forced_eos_token_ids:
            scores = force_tokens(scores, self.forced_eos_token_ids, tf.equal(cur_len, self.max_length - 1))
        if self.renormalize_logits:
            scores = tf.nn.log_softmax(scores, axis=-1)
        return scores
