"""Logits processors with Hugging Face semantics, as pure XLA-friendly functions.

Each takes scores `(batch, vocab_size)` (float32) and returns new scores of
the same shape; removed tokens get `-inf` (Hugging Face's `filter_value`).

References: `transformers.generation.logits_process` (`RepetitionPenaltyLogitsProcessor`,
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
