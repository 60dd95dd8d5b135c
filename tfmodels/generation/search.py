"""Decoding loops over a preallocated KV cache, written for XLA.

Every loop runs in a `tf.while_loop` over tensors of static shape:
`(batch, prompt_len + max_new_tokens)` sequences, a KV cache of that length
written in place at one index per step, and a boolean attention mask over
the cache slots. One compiled program therefore serves every step, and the
whole `generate()` call compiles once per (batch, prompt_len) shape.

The model interface (implemented by `tfmodels.models.causal.CausalLMMixin`):
`model.init_cache(batch, max_length)` and
`model.decode_step(input_ids, attention_mask, position_ids, cache, cache_index)
-> (logits (batch, T, vocab), cache)`.

Semantics follow `transformers.GenerationMixin._sample` / `_beam_search`
(v5): prompt positions `cumsum(mask) - 1` (0 on padding), finished rows
continue with `pad_token_id`, the loop stops when every row is finished,
repetition penalty ignores left padding, beam search keeps
`max(2, 1 + n_eos) * num_beams` candidates with the same early-stopping
heuristics.

Size glossary: B batch, K beams, P prompt length, N max_new_tokens,
L = P + N, V vocabulary.
"""

import tensorflow as tf

from tfmodels.generation import logits as lp


def _prompt_state(attention_mask, max_new_tokens):
    """Full-length attention mask `(B, L)`, prompt positions `(B, P)`, next position `(B,)`, penalty-valid `(B, P)`."""
    attention_mask = tf.cast(tf.not_equal(attention_mask, 0), tf.int32)
    batch = tf.shape(attention_mask)[0]
    full_mask = tf.concat([attention_mask, tf.zeros((batch, max_new_tokens), tf.int32)], axis=1)
    positions = tf.cumsum(attention_mask, axis=-1) - 1
    positions = tf.where(attention_mask == 0, tf.zeros_like(positions), positions)
    first_real = tf.argmax(attention_mask, axis=1, output_type=tf.int32)  # left-padding length
    valid = tf.range(tf.shape(attention_mask)[1])[None, :] >= first_real[:, None]
    return full_mask, positions, positions[:, -1] + 1, valid


def _is_eos(tokens, eos_token_ids):
    if not eos_token_ids:
        return tf.zeros_like(tokens, dtype=tf.bool)
    return tf.reduce_any(tokens[..., None] == tf.constant(eos_token_ids, tokens.dtype), axis=-1)


def greedy_or_sample(model, input_ids, attention_mask, seed, *, max_new_tokens, do_sample, temperature,
                     top_k, top_p, repetition_penalty, eos_token_ids, pad_token_id, vocab_size, processors=None,
                     encoder_input_ids=None):
    """Greedy decoding or multinomial sampling.

    `processors` (a `tfmodels.generation.logits.SequenceProcessors`) runs
    after the repetition penalty and before the sampling warpers, as in
    Hugging Face; `encoder_input_ids` `(B, S)` are the n-grams its
    `encoder_no_repeat_ngram_size` bans.

    Returns:
        `(sequences (B, L) int32, generated (scalar int32))`: the caller keeps
        the first `P + generated` columns, as Hugging Face stops once every
        row has finished.
    """
    batch, prompt_len = input_ids.shape[0], input_ids.shape[1]
    total = prompt_len + max_new_tokens
    full_mask, positions, next_position, valid = _prompt_state(attention_mask, max_new_tokens)
    cache = model.init_cache(batch, total)
    logits, cache = model.decode_step(input_ids, full_mask, positions, cache, 0)
    logits = tf.cast(logits[:, -1], tf.float32)
    fill = pad_token_id if pad_token_id is not None else 0
    sequences = tf.concat([input_ids, tf.fill((batch, max_new_tokens), tf.constant(fill, tf.int32))], axis=1)
    presence = lp.token_presence(input_ids, valid, vocab_size) if repetition_penalty != 1.0 else None
    unfinished = tf.ones((batch,), tf.bool)

    def cond(step, *_):
        return step < max_new_tokens

    def body(step, sequences, logits, cache, full_mask, unfinished, presence_state):
        scores = logits
        if repetition_penalty != 1.0:
            scores = lp.repetition_penalty(scores, presence_state, repetition_penalty)
        if processors is not None:
            scores = processors.apply(scores, sequences, prompt_len + step, encoder_input_ids)
        if do_sample:
            scores = lp.warp_for_sampling(scores, temperature, top_k, top_p)
            tokens = sample_tokens(scores, tf.stack([seed, step]))
        else:
            tokens = tf.argmax(scores, axis=-1, output_type=tf.int32)
        if eos_token_ids:
            tokens = tf.where(unfinished, tokens, tf.constant(fill, tf.int32))
        index = prompt_len + step
        sequences = tf.tensor_scatter_nd_update(
            sequences, tf.stack([tf.range(batch), tf.fill((batch,), index)], axis=1), tokens
        )
        unfinished = tf.logical_and(unfinished, tf.logical_not(_is_eos(tokens, eos_token_ids)))
        if repetition_penalty != 1.0:
            presence_state = lp.add_token(presence_state, tokens, vocab_size)
        full_mask = tf.tensor_scatter_nd_update(
            full_mask, tf.stack([tf.range(batch), tf.fill((batch,), index)], axis=1), tf.ones((batch,), tf.int32)
        )
        new_logits, cache = model.decode_step(
            tokens[:, None], full_mask, (next_position + step)[:, None], cache, index
        )
        step = step + 1
        # Hugging Face stops once every row is finished: ending the loop here keeps its output length.
        step = tf.where(tf.reduce_any(unfinished), step, step + max_new_tokens)
        return step, sequences, tf.cast(new_logits[:, -1], tf.float32), cache, full_mask, unfinished, presence_state

    state = (tf.constant(0), sequences, logits, cache, full_mask, unfinished,
             presence if presence is not None else tf.zeros((), tf.bool))
    step, sequences, *_ = tf.while_loop(cond, body, state, maximum_iterations=max_new_tokens)
    generated = tf.where(step > max_new_tokens, step - max_new_tokens, step)
    return sequences, generated


def sample_tokens(scores, seed):
    """One draw per row from `softmax(scores)` `(B, V)` by the Gumbel-max trick (exact, XLA-friendly).

    Args:
        scores: float32 `(B, V)`; `-inf` entries are never drawn.
        seed: int32 `(2,)`, a stateless seed (the same seed gives the same draws).
    """
    uniform = tf.random.stateless_uniform(tf.shape(scores), seed=seed, minval=1e-20, maxval=1.0)
    return tf.argmax(scores - tf.math.log(-tf.math.log(uniform)), axis=-1, output_type=tf.int32)


def _gather_beams(tensor, indices):
    """`tensor (B, K, ...)`, `indices (B, K')` -> `(B, K', ...)`."""
    return tf.gather(tensor, indices, batch_dims=1)


def beam_search(model, input_ids, attention_mask, *, max_new_tokens, num_beams, length_penalty, early_stopping,
                repetition_penalty, eos_token_ids, pad_token_id, vocab_size, processors=None,
                num_return_sequences=1, encoder_input_ids=None):
    """Beam search (no sampling), Hugging Face v5's vectorised algorithm.

    `processors` (a `tfmodels.generation.logits.SequenceProcessors`) runs on
    the log-probabilities after the repetition penalty, as in Hugging Face;
    `encoder_input_ids` `(B, S)` (one row per source, shared by its beams)
    are the n-grams its `encoder_no_repeat_ngram_size` bans.

    Returns:
        `(sequences (B * R, L) int32, generated (scalar int32))`: the best
        `R = num_return_sequences` beams of each row, best first (rows
        `b * R + r`); keep the first `P + generated` columns.
    """
    batch, prompt_len = input_ids.shape[0], input_ids.shape[1]
    k = num_beams
    total = prompt_len + max_new_tokens
    flat = batch * k
    n_eos = len(eos_token_ids)
    keep = max(2, 1 + n_eos) * k
    top_num_beam_mask = tf.concat([tf.ones((k,), tf.bool), tf.zeros((keep - k,), tf.bool)], axis=0)
    # Hugging Face: `pad_token_id or eos_token_id[0] if eos_token_id is not None else -1`.
    fill = (pad_token_id or eos_token_ids[0]) if eos_token_ids else -1

    repeat = lambda t: tf.repeat(t, k, axis=0)  # noqa: E731  (B, ...) -> (B * K, ...)
    full_mask, positions, next_position, valid = _prompt_state(repeat(attention_mask), max_new_tokens)
    flat_ids = repeat(input_ids)
    cache = model.init_cache(flat, total)
    logits, cache = model.decode_step(flat_ids, full_mask, positions, cache, 0)
    logits = tf.cast(logits[:, -1], tf.float32)
    full_mask = tf.concat([full_mask[:, :prompt_len], tf.ones((flat, max_new_tokens), tf.int32)], axis=1)
    presence = lp.token_presence(flat_ids, valid, vocab_size) if repetition_penalty != 1.0 else tf.zeros((), tf.bool)

    running_sequences = tf.concat(
        [tf.reshape(flat_ids, (batch, k, prompt_len)), tf.fill((batch, k, max_new_tokens), fill)], axis=2
    )
    running_scores = tf.concat([tf.zeros((batch, 1)), tf.fill((batch, k - 1), -1e9)], axis=1)
    running_indices = tf.fill((batch, k, max_new_tokens), -1)
    state = dict(
        cur_len=tf.constant(prompt_len), logits=logits, cache=cache, presence=presence,
        running_sequences=running_sequences, running_scores=running_scores, running_indices=running_indices,
        sequences=running_sequences, scores=tf.fill((batch, k), -1e9), indices=running_indices,
        finished=tf.zeros((batch, k), tf.bool), heuristic=tf.ones((batch, 1), tf.bool), stop=tf.constant(False),
    )
    batch_offset = tf.range(batch)[:, None] * k

    def body(s):
        cur_len = s["cur_len"]
        log_probs = tf.nn.log_softmax(s["logits"], axis=-1)
        if repetition_penalty != 1.0:
            log_probs = lp.repetition_penalty(log_probs, s["presence"], repetition_penalty)
        if processors is not None:
            log_probs = processors.apply(log_probs, tf.reshape(s["running_sequences"], (flat, total)), cur_len,
                                         encoder_input_ids)
        log_probs = tf.reshape(log_probs, (batch, k, vocab_size)) + s["running_scores"][:, :, None]
        log_probs = tf.reshape(log_probs, (batch, k * vocab_size))
        topk_log_probs, topk_indices = tf.math.top_k(log_probs, k=keep)
        origin = topk_indices // vocab_size  # (B, keep)
        tokens = topk_indices % vocab_size
        generated_at = cur_len - prompt_len
        topk_sequences = _gather_beams(s["running_sequences"], origin)
        topk_sequences = _set_column(topk_sequences, cur_len, tokens)
        topk_indices_hist = _set_column(_gather_beams(s["running_indices"], origin), generated_at, origin + batch_offset)
        hits = tf.logical_or(cur_len + 1 >= total, _is_eos(tokens, eos_token_ids))

        # Running beams for the next step: the best K that did not just finish.
        running_log_probs = topk_log_probs + tf.cast(hits, tf.float32) * -1.0e9
        next_top = tf.math.top_k(running_log_probs, k=k).indices
        running_sequences = _gather_beams(topk_sequences, next_top)
        running_scores = _gather_beams(running_log_probs, next_top)
        running_indices = _gather_beams(topk_indices_hist, next_top)

        # Finished beams: merge the newly finished top-K candidates into the kept hypotheses.
        just_finished = tf.logical_and(hits, top_num_beam_mask[None, :])
        finished_scores = topk_log_probs / tf.pow(tf.cast(cur_len + 1 - prompt_len, tf.float32), length_penalty)
        full = tf.logical_and(tf.reduce_all(s["finished"], axis=-1, keepdims=True), early_stopping is True)
        finished_scores += tf.cast(full, tf.float32) * -1.0e9
        finished_scores += tf.cast(tf.logical_not(s["heuristic"]), tf.float32) * -1.0e9
        finished_scores += tf.cast(tf.logical_not(just_finished), tf.float32) * -1.0e9
        merged_scores = tf.concat([s["scores"], finished_scores], axis=1)
        best = tf.math.top_k(merged_scores, k=k).indices
        sequences = _gather_beams(tf.concat([s["sequences"], topk_sequences], axis=1), best)
        scores = _gather_beams(merged_scores, best)
        indices = _gather_beams(tf.concat([s["indices"], topk_indices_hist], axis=1), best)
        finished = _gather_beams(tf.concat([s["finished"], just_finished], axis=1), best)

        # Reorder the cache (and the penalty state) to the new running beams, then feed their last token.
        beam_idx = tf.reshape(running_indices[:, :, generated_at], (flat,))
        cache = tuple(tf.gather(c, beam_idx, axis=0) for c in s["cache"])
        new_tokens = tf.reshape(running_sequences[:, :, cur_len], (flat,))
        presence = s["presence"]
        if repetition_penalty != 1.0:
            presence = lp.add_token(tf.gather(presence, beam_idx, axis=0), new_tokens, vocab_size)
        logits, cache = model.decode_step(
            new_tokens[:, None], full_mask, (next_position + generated_at)[:, None], cache, cur_len
        )
        cur_len = cur_len + 1

        # Early-stopping heuristic and loop condition, as Hugging Face.
        if early_stopping == "never" and length_penalty > 0.0:
            best_length = tf.cast(total - prompt_len, tf.float32)
        else:
            best_length = tf.cast(cur_len - prompt_len, tf.float32)
        best_running = running_scores[:, :1] / tf.pow(best_length, length_penalty)
        worst_finished = tf.where(finished, tf.reduce_min(scores, axis=1, keepdims=True), -1.0e9)
        heuristic = tf.logical_and(
            s["heuristic"], tf.reduce_any(best_running > worst_finished, axis=-1, keepdims=True)
        )
        improvement_possible = tf.reduce_any(heuristic)
        exists_open_beam = tf.logical_not(tf.logical_and(tf.reduce_all(finished), early_stopping is True))
        valid_continuations = tf.logical_not(tf.reduce_all(hits))
        stop = tf.logical_not(improvement_possible & exists_open_beam & valid_continuations)
        return dict(
            cur_len=cur_len, logits=tf.cast(logits[:, -1], tf.float32), cache=cache, presence=presence,
            running_sequences=running_sequences, running_scores=running_scores, running_indices=running_indices,
            sequences=sequences, scores=scores, indices=indices, finished=finished, heuristic=heuristic, stop=stop,
        )

    (state,) = tf.while_loop(
        lambda s: tf.logical_not(s["stop"]), lambda s: (body(s),), (state,), maximum_iterations=max_new_tokens
    )
    best_indices = state["indices"][:, :num_return_sequences]  # (B, R, N)
    generated = tf.reduce_max(tf.reduce_sum(tf.cast(best_indices >= 0, tf.int32), axis=-1))
    return tf.reshape(state["sequences"][:, :num_return_sequences], (batch * num_return_sequences, total)), generated


def _set_column(tensor, column, values):
    """`tensor (B, K, L)` with `[:, :, column] = values (B, K)`."""
    length = tensor.shape[-1]
    select = tf.one_hot(column, length, on_value=True, off_value=False, dtype=tf.bool)  # (L,)
    return tf.where(select[None, None, :], tf.cast(values, tensor.dtype)[:, :, None], tensor)
