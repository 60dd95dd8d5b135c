"""Decoding loops over a preallocated KV cache, written for XLA.

Every loop runs in a `tf.while_loop` over tensors of static shape:
`(batch, prompt_len + max_new_tokens)` sequences, a KV cache of that length
written in place at one index per step, and a boolean attention mask over
the cache slots. One compiled program therefore serves every step, and the
whole `generate()` call compiles once per (batch, prompt_len) shape.

Each search is a small object with `init(model, ...) -> state`,
`cond(state)`, `body(model, state, force_finish) -> state` and
`finish(state) -> dict`; the state is a dict of tensors (the KV cache
included). `run_search` runs the whole loop in one program; `generate()`
with a streamer or `max_time` runs `body` in compiled chunks of a few steps
instead, carrying the state from one chunk to the next (see
`tfmodels.generation.utils`).

The model interface (implemented by `tfmodels.models.causal.CausalLMMixin`):
`model.init_cache(batch, max_length)` and
`model.decode_step(input_ids, attention_mask, position_ids, cache, cache_index)
-> (logits (batch, T, vocab), cache)`.

Semantics follow `transformers.GenerationMixin._sample` / `_beam_search`
(v5): prompt positions `cumsum(mask) - 1` (0 on padding), finished rows
continue with `pad_token_id`, the loop stops when every row is finished,
repetition penalty ignores left padding, beam search keeps
`max(2, 1 + n_eos) * num_beams` candidates with the same early-stopping
heuristics. With `output_scores` / `output_logits`, the processed scores and
the raw logits of every step are written into preallocated
`(max_new_tokens, rows, V)` buffers inside the loop (nothing is collected
otherwise).

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


def _record(buffer, step, values):
    """`buffer (N, rows, V)` with `[step] = values (rows, V)`."""
    return tf.tensor_scatter_nd_update(buffer, tf.reshape(step, (1, 1)), values[None])


def apply_user_processors(processors, input_ids, scores, cur_len):
    """Runs user logits processors `(input_ids, scores, cur_len) -> scores` in order (see `generate()`)."""
    for processor in processors:
        new_scores = processor(input_ids, scores, cur_len)
        if not isinstance(new_scores, tf.Tensor) or new_scores.shape != scores.shape:
            raise ValueError(f"logits_processor {processor!r} must return a tensor of the scores' shape "
                             f"{tuple(scores.shape)}. Received: {new_scores!r}")
        scores = tf.cast(new_scores, scores.dtype)
    return scores


def user_criteria_hit(criteria, input_ids, scores, cur_len):
    """Bool `(rows,)`: any user stopping criterion `(input_ids, scores, cur_len) -> bool (rows,)` holds."""
    hit = tf.zeros((input_ids.shape[0],), tf.bool)
    for criterion in criteria:
        done = tf.convert_to_tensor(criterion(input_ids, scores, cur_len))
        if done.shape.rank == 0:
            done = tf.fill((input_ids.shape[0],), done)
        if done.shape != (input_ids.shape[0],):
            raise ValueError(f"stopping_criteria {criterion!r} must return a bool tensor of shape "
                             f"({input_ids.shape[0]},) (one value per row). Received shape {tuple(done.shape)}.")
        hit = tf.logical_or(hit, tf.cast(done, tf.bool))
    return hit


class GreedyOrSample:
    """Greedy decoding or multinomial sampling (`transformers.GenerationMixin._sample`).

    The processors run in the reference's order: repetition penalty, the
    `SequenceProcessors`, the user's `logits_processor`, then (sampling) the
    warpers. `finish` returns `sequences (B, L)` int32 and `generated`
    (scalar int32): the caller keeps the first `P + generated` columns, as
    Hugging Face stops once every row has finished; with `output_scores` /
    `output_logits` also `scores` / `logits` `(N, B, V)` float32, valid for
    the first `generated` steps.
    """

    def __init__(self, *, max_new_tokens, do_sample, temperature, top_k, top_p, repetition_penalty, eos_token_ids,
                 pad_token_id, vocab_size, processors=None, user_processors=(), user_criteria=(),
                 output_scores=False, output_logits=False):
        self.max_new_tokens = max_new_tokens
        self.do_sample, self.temperature, self.top_k, self.top_p = do_sample, temperature, top_k, top_p
        self.repetition_penalty = repetition_penalty
        self.eos_token_ids, self.vocab_size = list(eos_token_ids), vocab_size
        self.fill = pad_token_id if pad_token_id is not None else 0
        self.processors, self.user_processors, self.user_criteria = processors, user_processors, user_criteria
        self.output_scores, self.output_logits = output_scores, output_logits

    def init(self, model, input_ids, attention_mask, seed):
        batch, prompt_len = input_ids.shape[0], input_ids.shape[1]
        total = prompt_len + self.max_new_tokens
        full_mask, positions, next_position, valid = _prompt_state(attention_mask, self.max_new_tokens)
        cache = model.init_cache(batch, total)
        logits, cache = model.decode_step(input_ids, full_mask, positions, cache, 0)
        sequences = tf.concat(
            [input_ids, tf.fill((batch, self.max_new_tokens), tf.constant(self.fill, tf.int32))], axis=1)
        presence = (lp.token_presence(input_ids, valid, self.vocab_size) if self.repetition_penalty != 1.0
                    else tf.zeros((), tf.bool))
        state = dict(step=tf.constant(0), sequences=sequences, logits=tf.cast(logits[:, -1], tf.float32), cache=cache,
                     full_mask=full_mask, unfinished=tf.ones((batch,), tf.bool), presence=presence,
                     next_position=next_position, seed=tf.cast(seed, tf.int32), done=tf.constant(False))
        for name in ("scores", "logits"):
            if getattr(self, f"output_{name}"):
                state[f"{name}_buffer"] = tf.zeros((self.max_new_tokens, batch, self.vocab_size), tf.float32)
        return state

    def cond(self, s):
        return tf.logical_and(s["step"] < self.max_new_tokens, tf.logical_not(s["done"]))

    def body(self, model, s, force_finish=False):
        s = dict(s)
        step, sequences, batch = s["step"], s["sequences"], s["sequences"].shape[0]
        index = self._prompt_len(s) + step
        raw = s["logits"]
        scores = raw
        if self.repetition_penalty != 1.0:
            scores = lp.repetition_penalty(scores, s["presence"], self.repetition_penalty)
        if self.processors is not None:
            scores = self.processors.apply(scores, sequences, index)
        scores = apply_user_processors(self.user_processors, sequences, scores, index)
        if self.do_sample:
            scores = lp.warp_for_sampling(scores, self.temperature, self.top_k, self.top_p)
            tokens = sample_tokens(scores, tf.stack([s["seed"], step]))
        else:
            tokens = tf.argmax(scores, axis=-1, output_type=tf.int32)
        if self.output_scores:
            s["scores_buffer"] = _record(s["scores_buffer"], step, scores)
        if self.output_logits:
            s["logits_buffer"] = _record(s["logits_buffer"], step, raw)
        if self.eos_token_ids:
            tokens = tf.where(s["unfinished"], tokens, tf.constant(self.fill, tf.int32))
        at = tf.stack([tf.range(batch), tf.fill((batch,), index)], axis=1)
        sequences = tf.tensor_scatter_nd_update(sequences, at, tokens)
        unfinished = tf.logical_and(s["unfinished"], tf.logical_not(_is_eos(tokens, self.eos_token_ids)))
        if self.user_criteria:
            hit = user_criteria_hit(self.user_criteria, sequences, scores, index + 1)
            unfinished = tf.logical_and(unfinished, tf.logical_not(hit))
        unfinished = tf.logical_and(unfinished, tf.logical_not(force_finish))
        if self.repetition_penalty != 1.0:
            s["presence"] = lp.add_token(s["presence"], tokens, self.vocab_size)
        full_mask = tf.tensor_scatter_nd_update(s["full_mask"], at, tf.ones((batch,), tf.int32))
        new_logits, cache = model.decode_step(
            tokens[:, None], full_mask, (s["next_position"] + step)[:, None], s["cache"], index
        )
        # Hugging Face stops once every row is finished: ending the loop here keeps its output length.
        s.update(step=step + 1, sequences=sequences, logits=tf.cast(new_logits[:, -1], tf.float32), cache=cache,
                 full_mask=full_mask, unfinished=unfinished, done=tf.logical_not(tf.reduce_any(unfinished)))
        return s

    def finish(self, s):
        out = dict(sequences=s["sequences"], generated=s["step"], steps=s["step"])
        for name in ("scores", "logits"):
            if f"{name}_buffer" in s:
                out[name] = s[f"{name}_buffer"]
        return out

    def new_tokens(self, s, start, stop):
        """`(B, stop - start)`: the tokens of steps `start..stop - 1` (what a streamer receives)."""
        prompt_len = self._prompt_len(s)
        return s["sequences"][:, prompt_len + start:prompt_len + stop]

    def _prompt_len(self, s):
        return s["sequences"].shape[1] - self.max_new_tokens

    finishes_on_time_out = False  # `max_time`: stopping after the last step run is the reference's result

    def prefix(self, s):
        """`(B, P)`: the prompt (the decoder start tokens of an encoder-decoder)."""
        return s["sequences"][:, :self._prompt_len(s)]

    def steps_done(self, s):
        return s["step"]


def run_search(search, model, input_ids, attention_mask, seed=None):
    """`search.finish` of the whole loop, run as one `tf.while_loop` (inside the caller's compiled program)."""
    state = search.init(model, input_ids, attention_mask, seed)
    (state,) = tf.while_loop(lambda s: search.cond(s), lambda s: (search.body(model, s),), (state,),
                             maximum_iterations=search.max_new_tokens)
    return search.finish(state)


def greedy_or_sample(model, input_ids, attention_mask, seed, **options):
    """Greedy decoding or sampling in one loop: `(sequences (B, L) int32, generated (scalar int32))`.

    `options`: the arguments of `GreedyOrSample`.
    """
    out = run_search(GreedyOrSample(**options), model, input_ids, attention_mask, seed)
    return out["sequences"], out["generated"]


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


class BeamSearch:
    """Beam search (no sampling), Hugging Face v5's vectorised algorithm (`GenerationMixin._beam_search`).

    The processors (repetition penalty, `SequenceProcessors`, the user's
    `logits_processor`) run on the log-probabilities, as in Hugging Face;
    user `stopping_criteria` see the `B * keep` candidate sequences of the
    step, as the reference's. `finish` returns `sequences (B * R, L)` int32,
    the best `R = num_return_sequences` beams of each row, best first (rows
    `b * R + r`; keep the first `P + generated` columns), `generated`,
    `steps` (loop iterations: the length of the reference's `scores`),
    `sequences_scores (B * R,)`, `beam_indices (B * R, N)` (`-1` past the
    end) and, when asked, `scores` / `logits` `(N, B * K, V)`.
    """

    def __init__(self, *, max_new_tokens, num_beams, length_penalty, early_stopping, repetition_penalty,
                 eos_token_ids, pad_token_id, vocab_size, processors=None, num_return_sequences=1,
                 user_processors=(), user_criteria=(), output_scores=False, output_logits=False):
        self.max_new_tokens, self.k = max_new_tokens, num_beams
        self.length_penalty, self.early_stopping = length_penalty, early_stopping
        self.repetition_penalty = repetition_penalty
        self.eos_token_ids, self.vocab_size = list(eos_token_ids), vocab_size
        self.keep = max(2, 1 + len(self.eos_token_ids)) * num_beams
        # Hugging Face: `pad_token_id or eos_token_id[0] if eos_token_id is not None else -1`.
        self.fill = (pad_token_id or self.eos_token_ids[0]) if self.eos_token_ids else -1
        self.processors, self.user_processors, self.user_criteria = processors, user_processors, user_criteria
        self.num_return_sequences = num_return_sequences
        self.output_scores, self.output_logits = output_scores, output_logits

    def init(self, model, input_ids, attention_mask, seed=None):
        del seed
        batch, prompt_len, k = input_ids.shape[0], input_ids.shape[1], self.k
        total = prompt_len + self.max_new_tokens
        flat = batch * k
        repeat = lambda t: tf.repeat(t, k, axis=0)  # noqa: E731  (B, ...) -> (B * K, ...)
        full_mask, positions, next_position, valid = _prompt_state(repeat(attention_mask), self.max_new_tokens)
        flat_ids = repeat(input_ids)
        cache = model.init_cache(flat, total)
        logits, cache = model.decode_step(flat_ids, full_mask, positions, cache, 0)
        full_mask = tf.concat([full_mask[:, :prompt_len], tf.ones((flat, self.max_new_tokens), tf.int32)], axis=1)
        presence = (lp.token_presence(flat_ids, valid, self.vocab_size) if self.repetition_penalty != 1.0
                    else tf.zeros((), tf.bool))
        running_sequences = tf.concat(
            [tf.reshape(flat_ids, (batch, k, prompt_len)), tf.fill((batch, k, self.max_new_tokens), self.fill)], axis=2
        )
        running_indices = tf.fill((batch, k, self.max_new_tokens), -1)
        state = dict(
            cur_len=tf.constant(prompt_len), logits=tf.cast(logits[:, -1], tf.float32), cache=cache,
            presence=presence, full_mask=full_mask, next_position=next_position,
            running_sequences=running_sequences,
            running_scores=tf.concat([tf.zeros((batch, 1)), tf.fill((batch, k - 1), -1e9)], axis=1),
            running_indices=running_indices, sequences=running_sequences, scores=tf.fill((batch, k), -1e9),
            indices=running_indices, finished=tf.zeros((batch, k), tf.bool), heuristic=tf.ones((batch, 1), tf.bool),
            stop=tf.constant(False),
        )
        for name in ("scores", "logits"):
            if getattr(self, f"output_{name}"):
                state[f"{name}_buffer"] = tf.zeros((self.max_new_tokens, flat, self.vocab_size), tf.float32)
        return state

    finishes_on_time_out = True  # `max_time`: one more step with every candidate finished, as the reference

    def steps_done(self, s):
        return s["cur_len"] - self._dims(s)[1]

    def _dims(self, s):
        """`(B, P, L)` of a state."""
        batch, _, total = s["running_sequences"].shape
        return batch, total - self.max_new_tokens, total

    def cond(self, s):
        return tf.logical_and(tf.logical_not(s["stop"]), s["cur_len"] < self._dims(s)[2])

    def body(self, model, s, force_finish=False):
        (batch, prompt_len, total), k, vocab_size = self._dims(s), self.k, self.vocab_size
        length_penalty, early_stopping = self.length_penalty, self.early_stopping
        flat = batch * k
        top_num_beam_mask = tf.concat([tf.ones((k,), tf.bool), tf.zeros((self.keep - k,), tf.bool)], axis=0)
        batch_offset = tf.range(batch)[:, None] * k
        cur_len = s["cur_len"]
        generated_at = cur_len - prompt_len
        log_probs = tf.nn.log_softmax(s["logits"], axis=-1)
        flat_sequences = tf.reshape(s["running_sequences"], (flat, total))
        if self.repetition_penalty != 1.0:
            log_probs = lp.repetition_penalty(log_probs, s["presence"], self.repetition_penalty)
        if self.processors is not None:
            log_probs = self.processors.apply(log_probs, flat_sequences, cur_len)
        log_probs = apply_user_processors(self.user_processors, flat_sequences, log_probs, cur_len)
        extra = {}
        if self.output_scores:
            extra["scores_buffer"] = _record(s["scores_buffer"], generated_at, log_probs)
        if self.output_logits:
            extra["logits_buffer"] = _record(s["logits_buffer"], generated_at, s["logits"])
        log_probs = tf.reshape(log_probs, (batch, k, vocab_size)) + s["running_scores"][:, :, None]
        log_probs = tf.reshape(log_probs, (batch, k * vocab_size))
        topk_log_probs, topk_indices = tf.math.top_k(log_probs, k=self.keep)
        origin = topk_indices // vocab_size  # (B, keep)
        tokens = topk_indices % vocab_size
        topk_sequences = _gather_beams(s["running_sequences"], origin)
        topk_sequences = _set_column(topk_sequences, cur_len, tokens)
        topk_indices_hist = _set_column(_gather_beams(s["running_indices"], origin), generated_at, origin + batch_offset)
        hits = tf.logical_or(cur_len + 1 >= total, _is_eos(tokens, self.eos_token_ids))
        if self.user_criteria:
            candidates = tf.reshape(topk_sequences, (batch * self.keep, total))
            hit = user_criteria_hit(self.user_criteria, candidates, log_probs, cur_len + 1)
            hits = tf.logical_or(hits, tf.reshape(hit, (batch, self.keep)))
        hits = tf.logical_or(hits, force_finish)

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
        if self.repetition_penalty != 1.0:
            presence = lp.add_token(tf.gather(presence, beam_idx, axis=0), new_tokens, vocab_size)
        logits, cache = model.decode_step(
            new_tokens[:, None], s["full_mask"], (s["next_position"] + generated_at)[:, None], cache, cur_len
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
            full_mask=s["full_mask"], next_position=s["next_position"],
            running_sequences=running_sequences, running_scores=running_scores, running_indices=running_indices,
            sequences=sequences, scores=scores, indices=indices, finished=finished, heuristic=heuristic, stop=stop,
            **extra,
        )

    def finish(self, s):
        r, (batch, prompt_len, total) = self.num_return_sequences, self._dims(s)
        best_indices = s["indices"][:, :r]  # (B, R, N)
        out = dict(
            sequences=tf.reshape(s["sequences"][:, :r], (batch * r, total)),
            generated=tf.reduce_max(tf.reduce_sum(tf.cast(best_indices >= 0, tf.int32), axis=-1)),
            steps=s["cur_len"] - prompt_len,
            sequences_scores=tf.reshape(s["scores"][:, :r], (batch * r,)),
            beam_indices=tf.reshape(best_indices, (batch * r, self.max_new_tokens)),
        )
        for name in ("scores", "logits"):
            if f"{name}_buffer" in s:
                out[name] = s[f"{name}_buffer"]
        return out


def beam_search(model, input_ids, attention_mask, **options):
    """Beam search in one loop: `(sequences (B * R, L) int32, generated (scalar int32))`.

    `options`: the arguments of `BeamSearch`.
    """
    out = run_search(BeamSearch(**options), model, input_ids, attention_mask)
    return out["sequences"], out["generated"]


def _set_column(tensor, column, values):
    """`tensor (B, K, L)` with `[:, :, column] = values (B, K)`."""
    length = tensor.shape[-1]
    select = tf.one_hot(column, length, on_value=True, off_value=False, dtype=tf.bool)  # (L,)
    return tf.where(select[None, None, :], tf.cast(values, tensor.dtype)[:, :, None], tensor)
