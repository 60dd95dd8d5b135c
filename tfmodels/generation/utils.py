"""`generate()`: the text-generation entry point of causal LM models."""

import logging
import weakref

import numpy as np
import tensorflow as tf

from tfmodels.generation import search

logger = logging.getLogger("tfmodels")

# model -> {static generation settings: tf.function}; weak so models can be freed.
_COMPILED = weakref.WeakKeyDictionary()
# model -> number of times a generation loop was traced (tests use it to prove reuse).
TRACE_COUNTS = weakref.WeakKeyDictionary()


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [int(v) for v in value]
    return [int(value)]


class GenerationMixin:
    """Adds `generate()` to a causal LM that implements `init_cache` and `decode_step`."""

    def _generation_defaults(self):
        config = {**self.backbone.extra_config, **self.backbone.config}
        return config.get("eos_token_id"), config.get("pad_token_id"), config["vocab_size"]

    def generate(self, input_ids, attention_mask=None, max_new_tokens=20, do_sample=False, num_beams=1,
                 temperature=1.0, top_k=0, top_p=1.0, repetition_penalty=1.0, length_penalty=1.0,
                 early_stopping=False, eos_token_id=None, pad_token_id=None, seed=None, jit_compile=True):
        """Generates continuations of (left-padded) prompts; returns prompt + new tokens.

        Hugging Face `generate()` semantics for every argument: greedy
        (default), multinomial sampling (`do_sample=True`, warped by
        `temperature`, then `top_k`, then `top_p`), or beam search
        (`num_beams > 1`, `length_penalty`, `early_stopping` in
        `{False, True, "never"}`); `repetition_penalty` (CTRL) over the prompt
        (left padding excluded) and the generated tokens. Rows that produced
        `eos_token_id` continue with `pad_token_id`; generation stops when
        every row has finished, so the output can be shorter than
        `prompt_len + max_new_tokens`, exactly as in Hugging Face.

        Compilation and prompt-length bucketing: the whole loop (prefill,
        every decoding step over a preallocated KV cache, the search) is one
        `tf.function(jit_compile=True)`, traced once per model, per set of
        static settings (`max_new_tokens`, `do_sample`, `num_beams`,
        `temperature`, `top_k`, `top_p`, `repetition_penalty`,
        `length_penalty`, `early_stopping`, eos/pad ids) and per input shape
        `(batch, prompt_len)`. Later calls with the same padded shape reuse
        the compiled program; `seed` is a tensor input and never retraces.
        To serve prompts of many lengths without recompiling, left-pad them
        to a few bucket lengths (e.g. multiples of 32 or powers of two) with
        `pad_token_id` and a 0 attention mask, and use fixed batch sizes::

            bucket = -(-prompt_len // 32) * 32  # round up to a multiple of 32
            ids = np.pad(ids, ((0, 0), (bucket - prompt_len, 0)), constant_values=pad_id)
            mask = np.pad(mask, ((0, 0), (bucket - prompt_len, 0)))
            model.generate(ids, attention_mask=mask, max_new_tokens=64)

        Left padding does not change the results (positions come from the
        attention mask, as in Hugging Face); `prompt_len + max_new_tokens`
        must not exceed the model's position table.

        Args:
            input_ids: int array `(batch, prompt_len)`, left-padded.
            attention_mask: int array `(batch, prompt_len)`, 0 on padding;
                all ones if absent.
            max_new_tokens: int, tokens to generate at most.
            do_sample: bool, sample instead of taking the argmax.
            num_beams: int, beam search when `> 1` (sampling with beams is
                not supported).
            temperature, top_k, top_p: sampling warpers (`top_k=0` and
                `top_p=1.0` disable them).
            repetition_penalty: float, `1.0` disables it.
            length_penalty: float, beam scores are divided by
                `generated_length ** length_penalty`.
            early_stopping: `False`, `True` or `"never"`, as Hugging Face.
            eos_token_id: int or list of ints; default: the model config's.
            pad_token_id: int; default: the config's, else the first eos id.
            seed: int, makes sampling reproducible; random if `None`.
            jit_compile: bool, compile the loop with XLA; `False` runs the
                same loop as a plain `tf.function` (for models or ops XLA
                cannot compile).

        Returns:
            int32 `tf.Tensor` `(batch, prompt_len + generated)`.

        Raises:
            ValueError: for invalid arguments (the message names them).
        """
        input_ids = tf.cast(tf.convert_to_tensor(input_ids), tf.int32)
        if len(input_ids.shape) != 2:
            raise ValueError(f"input_ids must be (batch, prompt_len). Received shape {tuple(input_ids.shape)}.")
        if attention_mask is None:
            attention_mask = tf.ones_like(input_ids)
        attention_mask = tf.cast(tf.convert_to_tensor(attention_mask), tf.int32)
        if attention_mask.shape != input_ids.shape:
            raise ValueError(
                f"attention_mask must match input_ids. Received shapes {tuple(attention_mask.shape)} "
                f"and {tuple(input_ids.shape)}."
            )
        if int(max_new_tokens) < 1:
            raise ValueError(f"max_new_tokens must be >= 1. Received: max_new_tokens={max_new_tokens}")
        if int(num_beams) < 1:
            raise ValueError(f"num_beams must be >= 1. Received: num_beams={num_beams}")
        if num_beams > 1 and do_sample:
            raise ValueError("Beam sampling (num_beams > 1 with do_sample=True) is not supported.")
        if do_sample and temperature is not None and temperature <= 0:
            raise ValueError(f"temperature must be > 0. Received: temperature={temperature}")
        if not 0.0 < top_p <= 1.0 or top_k < 0 or repetition_penalty <= 0:
            raise ValueError(
                f"Need 0 < top_p <= 1, top_k >= 0, repetition_penalty > 0. Received: top_p={top_p}, "
                f"top_k={top_k}, repetition_penalty={repetition_penalty}"
            )
        if early_stopping not in (False, True, "never"):
            raise ValueError(f"early_stopping must be False, True or 'never'. Received: {early_stopping!r}")
        default_eos, default_pad, vocab_size = self._generation_defaults()
        eos_ids = _as_list(default_eos if eos_token_id is None else eos_token_id)
        if pad_token_id is None:
            pad_token_id = default_pad if default_pad is not None else (eos_ids[0] if eos_ids else None)
        max_positions = self._max_generation_positions()
        if max_positions is not None and input_ids.shape[1] + max_new_tokens > max_positions:
            raise ValueError(
                f"prompt_len + max_new_tokens = {input_ids.shape[1] + max_new_tokens} exceeds the "
                f"model's {max_positions} positions."
            )
        self.build_from_dummy_inputs()

        settings = dict(
            max_new_tokens=int(max_new_tokens), num_beams=int(num_beams), do_sample=bool(do_sample),
            temperature=float(temperature), top_k=int(top_k), top_p=float(top_p),
            repetition_penalty=float(repetition_penalty), length_penalty=float(length_penalty),
            early_stopping=early_stopping, eos_token_ids=tuple(eos_ids), pad_token_id=pad_token_id,
            jit_compile=bool(jit_compile),
        )
        fn = self._generation_function(settings, vocab_size)
        if seed is None:
            seed = np.random.randint(0, 2**31 - 1)
        sequences, generated = fn(input_ids, attention_mask, tf.constant(int(seed) % (2**31 - 1), tf.int32))
        return sequences[:, : self._output_prefix_length(input_ids) + int(generated)]

    # -- override points (encoder-decoders: `tfmodels.generation.seq2seq`) ------

    def _max_generation_positions(self):
        """Longest `prompt_len + max_new_tokens` the model accepts, or `None`."""
        return getattr(self.backbone, "max_positions", None)

    def _output_prefix_length(self, input_ids):
        """Columns of the output before the generated tokens (decoder-only: the prompt)."""
        return input_ids.shape[1]

    def _search_inputs(self, input_ids, attention_mask, num_beams):
        """`(model, prompt_ids, prompt_mask)` the search loops decode from (inside the compiled loop).

        The loops repeat the prompt `num_beams` times (rows `b * num_beams + k`);
        a model with per-row state beside the prompt (an encoder output) repeats it likewise.
        """
        return self, input_ids, attention_mask

    def _generation_function(self, settings, vocab_size):
        key = tuple(sorted(settings.items()))
        functions = _COMPILED.setdefault(self, {})
        if key in functions:
            return functions[key]
        s = dict(settings)
        jit = s.pop("jit_compile")

        def run(input_ids, attention_mask, seed):
            TRACE_COUNTS[self] = TRACE_COUNTS.get(self, 0) + 1  # Python side effect: runs only when tracing
            model, input_ids, attention_mask = self._search_inputs(input_ids, attention_mask, s["num_beams"])
            if s["num_beams"] > 1:
                return search.beam_search(
                    model, input_ids, attention_mask, max_new_tokens=s["max_new_tokens"], num_beams=s["num_beams"],
                    length_penalty=s["length_penalty"], early_stopping=s["early_stopping"],
                    repetition_penalty=s["repetition_penalty"], eos_token_ids=list(s["eos_token_ids"]),
                    pad_token_id=s["pad_token_id"], vocab_size=vocab_size,
                )
            return search.greedy_or_sample(
                model, input_ids, attention_mask, seed, max_new_tokens=s["max_new_tokens"], do_sample=s["do_sample"],
                temperature=s["temperature"], top_k=s["top_k"], top_p=s["top_p"],
                repetition_penalty=s["repetition_penalty"], eos_token_ids=list(s["eos_token_ids"]),
                pad_token_id=s["pad_token_id"], vocab_size=vocab_size,
            )

        functions[key] = tf.function(run, jit_compile=jit, reduce_retracing=False)
        return functions[key]
