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
L = P + N, V vocabulary. Beam search: `tfmodels.generation.beam`.
"""

import functools
import inspect

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


def _autograph_converted(fn):
    """A user's logits processor or stopping criterion as autograph converts it in a default `tf.function`.

    The generation programs trace with `autograph=False` (tfmodels' own code is plain TensorFlow ops and an
    explicit `tf.while_loop`; converting every layer's source took over half of GPT-2's first call). User
    code keeps the conversion a default `tf.function` gives it, so Python `if`/`for` on tensors in it still
    work. Where autograph cannot convert it (no source, e.g. defined in a REPL), it is called as is, as a
    default `tf.function` does after its warning.
    """
    if inspect.isfunction(fn):
        function, owner = fn, None
    elif inspect.ismethod(fn):
        function, owner = fn.__func__, fn.__self__
    else:  # a callable object: convert its class's __call__ and bind it again
        function, owner = type(fn).__call__, fn
    try:
        converted = tf.autograph.to_graph(function)
    except Exception:  # autograph's ConversionError, or a callable it cannot inspect at all
        return fn
    return converted if owner is None else functools.partial(converted, owner)


def apply_user_processors(processors, input_ids, scores, cur_len):
    """Runs user logits processors `(input_ids, scores, cur_len) -> scores` in order (see `generate()`)."""
    for processor in processors:
        new_scores = _autograph_converted(processor)(input_ids, scores, cur_len)
        if not isinstance(new_scores, tf.Tensor) or new_scores.shape != scores.shape:
            raise ValueError(f"logits_processor {processor!r} must return a tensor of the scores' shape "
                             f"{tuple(scores.shape)}. Received: {new_scores!r}")
        scores = tf.cast(new_scores, scores.dtype)
    return scores


def user_criteria_hit(criteria, input_ids, scores, cur_len):
    """Bool `(rows,)`: any user stopping criterion `(input_ids, scores, cur_len) -> bool (rows,)` holds."""
    hit = tf.zeros((input_ids.shape[0],), tf.bool)
    for criterion in criteria:
        done = tf.convert_to_tensor(_autograph_converted(criterion)(input_ids, scores, cur_len))
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
            scores = self.processors.apply(scores, sequences, index, s.get("encoder_input_ids"))
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


def with_encoder_input_ids(search, state, encoder_input_ids):
    """`state` carrying `encoder_input_ids` `(B, S)` when the search's `encoder_no_repeat_ngram_size` bans
    their n-grams (the reference's `encoder_input_ids`: an encoder-decoder's source, a decoder-only
    model's prompt; one row per source, shared by its beams). Inputs that are not token ids (speech
    features) carry none: the reference then skips the ban (with a warning)."""
    processors = search.processors
    if encoder_input_ids is None or processors is None or not processors.encoder_no_repeat_ngram_size:
        return state
    if len(encoder_input_ids.shape) != 2 or not encoder_input_ids.dtype.is_integer:
        return state
    return {**state, "encoder_input_ids": tf.cast(encoder_input_ids, tf.int32)}


def run_search(search, model, input_ids, attention_mask, seed=None, encoder_input_ids=None):
    """`search.finish` of the whole loop, run as one `tf.while_loop` (inside the caller's compiled program);
    `encoder_input_ids`: see `with_encoder_input_ids`."""
    state = with_encoder_input_ids(search, search.init(model, input_ids, attention_mask, seed), encoder_input_ids)
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
