"""Beam search over the preallocated KV cache (`transformers.GenerationMixin._beam_search`, v5), for XLA.

The loop protocol (`init` / `cond` / `body` / `finish`) and the helpers are
those of `tfmodels.generation.search`; sizes as there, plus K beams.
"""

import tensorflow as tf

from tfmodels.generation import logits as lp
from tfmodels.generation.search import (
    _is_eos,
    _prompt_state,
    _record,
    apply_user_processors,
    run_search,
    user_criteria_hit,
)


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
            log_probs = self.processors.apply(log_probs, flat_sequences, cur_len, s.get("encoder_input_ids"))
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
        topk_indices_hist = _set_column(_gather_beams(s["running_indices"], origin), generated_at,
                                        origin + batch_offset)
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
            **extra, **{k: s[k] for k in ("encoder_input_ids",) if k in s},
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
