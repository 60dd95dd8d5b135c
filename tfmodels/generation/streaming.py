"""`generate()` in compiled chunks: streaming (`streamer=`) and `max_time`.

One XLA program cannot hand tokens to Python while it runs (a
`tf.py_function` callback does not compile with XLA), and it cannot read
the clock. So when `generate()` gets a `streamer` or a `max_time`, it
compiles two programs instead of one, both once per settings and input
shape:

- `start`: the encoder (encoder-decoders), the prompt's forward pass over
  the preallocated KV cache, and the search's initial state;
- `chunk`: up to `steps_per_chunk` decoding steps (a scalar tensor
  argument, so any chunk length reuses it) from a state to the next state.

Between chunks the host reads the new tokens (`streamer.put`) and the
clock (`max_time`). The state (KV cache included) stays on the device and
is passed from one call to the next without a copy; the cost is one
program launch and one device-to-host read of `(rows, steps_per_chunk)`
tokens per chunk, which on small models and `steps_per_chunk=1` can be
several times slower than the single-program loop. Larger chunks amortise
it, at the price of coarser streaming and of `max_time` checked only
every `steps_per_chunk` steps.

`max_time` as the reference (`MaxTimeCriteria`): the clock starts when
`generate()` is called; once it has run out, greedy search and sampling
stop (every row counts as finished after the last step run); beam search
runs one more step in which every candidate counts as finished (the
reference's step at which the time ran out), so its hypotheses are
completed as the reference completes them. The result then depends on the
timing, as it does in `transformers`.

The streamer protocol is `transformers`' (`BaseStreamer`, e.g.
`TextStreamer`): `put(value)` first with the prompt `(rows, prompt_len)`
(for an encoder-decoder, the decoder start tokens `(rows, 1)`), then once
per step with that step's tokens `(rows,)` (finished rows get
`pad_token_id`), as numpy int32 arrays; `end()` once at the end.
"""

import contextlib
import time

import numpy as np
import tensorflow as tf

from tfmodels.generation.search import with_encoder_input_ids


def step_tensors(step):
    """The tensors a search-loop model object is bound to (an encoder output), `()` for a plain model."""
    return step.step_tensors() if hasattr(step, "step_tensors") else ()


def rebind(step, tensors):
    """`step` bound to `tensors` (from `step_tensors`) inside another compiled program."""
    return step.with_step_tensors(tensors) if hasattr(step, "with_step_tensors") else step


def make_chunked(search_inputs, make_search, jit_compile, count_trace, trace_context=contextlib.nullcontext):
    """The `(start, chunk, search)` programs of one generation setting.

    Args:
        search_inputs: `(input_ids, attention_mask, model_inputs) -> (model, ids, mask)`, the model's
            `_search_inputs` (run inside `start`).
        make_search: `() -> search` (`tfmodels.generation.search.GreedyOrSample` / `BeamSearch`).
        jit_compile: bool, compile both with XLA.
        count_trace: called on every trace (the trace counter of `generate()`).
        trace_context: `() -> context manager` entered while tracing either program (the XLA
            matrix-vector guard of `tfmodels.layers.einsum_dense`).
    """
    search = make_search()
    holder = {}

    def start(input_ids, attention_mask, seed, model_inputs):
        count_trace()
        with trace_context():
            model, ids, mask = search_inputs(input_ids, attention_mask, model_inputs)
            holder["model"] = model
            state = with_encoder_input_ids(search, search.init(model, ids, mask, seed), input_ids)
            return step_tensors(model), state

    def chunk(tensors, state, steps, force_finish):
        count_trace()
        model = rebind(holder["model"], tensors)
        with trace_context():
            _, state = tf.while_loop(
                lambda i, s: tf.logical_and(i < steps, search.cond(s)),
                lambda i, s: (i + 1, search.body(model, s, force_finish)),
                (tf.constant(0), state), maximum_iterations=search.max_new_tokens,
            )
        return state

    compile_ = lambda f: tf.function(f, jit_compile=jit_compile, reduce_retracing=False, autograph=False)  # noqa: E731
    return compile_(start), compile_(chunk), search


def run_chunked(programs, args, *, streamer=None, max_time=None, steps_per_chunk=1, started=None):
    """Runs `programs` (`make_chunked`) chunk by chunk; returns the search's `finish` dict (eager tensors).

    Args:
        programs: `(start, chunk, search)`.
        args: the arguments of `start`.
        streamer: optional object with `put(value)` / `end()`.
        max_time: optional float, seconds from `started`.
        steps_per_chunk: int >= 1.
        started: `time.time()` when `generate()` was called.
    """
    start, chunk, search = programs
    started = time.time() if started is None else started
    tensors, state = start(*args)
    if streamer is not None:
        streamer.put(np.asarray(search.prefix(state)))
    done = 0
    steps, no = tf.constant(int(steps_per_chunk)), tf.constant(False)
    while True:
        state = chunk(tensors, state, steps, no)
        now = int(search.steps_done(state))
        if streamer is not None:
            tokens = np.asarray(search.new_tokens(state, done, now))
            for column in range(tokens.shape[1]):
                streamer.put(tokens[:, column])
        done = now
        if not bool(search.cond(state)):
            break
        if max_time is not None and time.time() - started > max_time:
            if search.finishes_on_time_out:
                state = chunk(tensors, state, tf.constant(1), tf.constant(True))
            break
    if streamer is not None:
        streamer.end()
    return search.finish(state)
