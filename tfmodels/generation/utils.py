"""`generate()`: the text-generation entry point of causal LM models."""

import logging
import time
import weakref

import numpy as np
import tensorflow as tf

from tfmodels.generation import config as generation_config
from tfmodels.generation import beam, criteria, search, streaming
from tfmodels.generation import logits as lp
from tfmodels.layers.einsum_dense import xla_matrix_vector_guard
from tfmodels.models.outputs import ModelOutput

logger = logging.getLogger("tfmodels")

# model -> {static generation settings: tf.function}; weak so models can be freed.
_COMPILED = weakref.WeakKeyDictionary()
# model -> number of times a generation loop was traced (tests use it to prove reuse).
TRACE_COUNTS = weakref.WeakKeyDictionary()


def forget_compiled(model):
    """Drops `model`'s traced generation loops (they captured its variables; e.g. after `resize_token_embeddings`)."""
    _COMPILED.pop(model, None)


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [int(v) for v in value]
    return [int(value)]


def _check_options(o, new_tokens, num_beams, do_sample, num_return_sequences):
    """Raises `ValueError` for resolved options `transformers` would refuse (or that we do not implement)."""
    if new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1. Received: max_new_tokens={new_tokens}")
    if num_beams < 1:
        raise ValueError(f"num_beams must be >= 1. Received: num_beams={num_beams}")
    if num_beams > 1 and do_sample:
        raise ValueError("Beam sampling (num_beams > 1 with do_sample=True) is not supported.")
    if do_sample and o["temperature"] is not None and o["temperature"] <= 0:
        raise ValueError(f"temperature must be > 0. Received: temperature={o['temperature']}")
    if not 0.0 < o["top_p"] <= 1.0 or o["top_k"] < 0 or o["repetition_penalty"] <= 0:
        raise ValueError(
            f"Need 0 < top_p <= 1, top_k >= 0, repetition_penalty > 0. Received: top_p={o['top_p']}, "
            f"top_k={o['top_k']}, repetition_penalty={o['repetition_penalty']}"
        )
    if o["early_stopping"] not in (False, True, "never"):
        raise ValueError(f"early_stopping must be False, True or 'never'. Received: {o['early_stopping']!r}")
    for name in ("no_repeat_ngram_size", "encoder_no_repeat_ngram_size"):
        if int(o[name]) < 0:
            raise ValueError(f"{name} must be >= 0. Received: {name}={o[name]}")
    if num_return_sequences < 1:
        raise ValueError(f"num_return_sequences must be >= 1. Received: {num_return_sequences}")
    if num_return_sequences > 1 and num_beams == 1 and not do_sample:
        raise ValueError("Greedy decoding (do_sample=False, num_beams=1) does not support "
                         f"num_return_sequences != 1. Received: num_return_sequences={num_return_sequences}")
    if num_return_sequences > num_beams > 1:
        raise ValueError(f"num_return_sequences ({num_return_sequences}) must be <= num_beams ({num_beams}).")


def _bad_words(bad_words_ids, eos_ids, vocab_size):
    """Validated `bad_words_ids` as tuples, without eos-only words (the reference keeps eos generable)."""
    if bad_words_ids is None:
        return ()
    if (not isinstance(bad_words_ids, (list, tuple)) or not bad_words_ids
            or any(not isinstance(w, (list, tuple)) or not w for w in bad_words_ids)):
        raise ValueError(f"bad_words_ids must be a non-empty list of non-empty lists of token ids. "
                         f"Received: {bad_words_ids!r}")
    words = [tuple(int(t) for t in w) for w in bad_words_ids]
    invalid = sorted({t for w in words for t in w if not 0 <= t < vocab_size})
    if invalid:
        raise ValueError(f"bad_words_ids holds ids outside the vocabulary of {vocab_size}: {invalid}")
    return tuple(w for w in words if not (len(w) == 1 and w[0] in eos_ids))


def _check_callbacks(o, num_beams, streamer, steps_per_chunk, output_attentions, output_hidden_states):
    """Raises `ValueError` for the output, streaming and stopping options `generate()` cannot honour."""
    if output_attentions or output_hidden_states:
        raise ValueError("generate() does not return attentions or hidden states (output_attentions / "
                         "output_hidden_states): call the model on the returned sequences with "
                         "output_attentions=True / output_hidden_states=True instead.")
    if streamer is not None and num_beams > 1:
        raise ValueError("streamer cannot be used with beam search (as in transformers): set num_beams=1.")
    if streamer is not None and not all(callable(getattr(streamer, name, None)) for name in ("put", "end")):
        raise TypeError(f"streamer must have put(value) and end() methods (transformers' BaseStreamer protocol). "
                        f"Received: {streamer!r}")
    if o["max_time"] is not None and not float(o["max_time"]) > 0:
        raise ValueError(f"max_time must be > 0 seconds. Received: max_time={o['max_time']!r}")
    if not isinstance(steps_per_chunk, int) or steps_per_chunk < 1:
        raise ValueError(f"steps_per_chunk must be an integer >= 1. Received: steps_per_chunk={steps_per_chunk!r}")


def _stop_string_criteria(stop_strings, tokenizer):
    """`(StopStringCriteria,)` for the resolved `stop_strings` (the argument or `generation_config.json`'s), or `()`.

    Raises:
        ValueError: stop strings without a tokenizer (the reference's error), or invalid stop strings.
    """
    if stop_strings is None:
        return ()
    if tokenizer is None:
        raise ValueError("There are stop strings (stop_strings=..., given to generate() or in the model's "
                         "generation_config.json) but no tokenizer: matching them needs the model's vocabulary. "
                         "Pass the model's transformers tokenizer: "
                         "generate(..., stop_strings=..., tokenizer=tokenizer).")
    return (criteria.StopStringCriteria(tokenizer, stop_strings),)


def _generate_output(out, sequences, beams, output_scores):
    """The `ModelOutput` of `return_dict_in_generate=True`, with the reference's fields in its order."""
    steps = int(out["steps"])
    result = {"sequences": sequences}
    if beams and output_scores:
        result["sequences_scores"] = out["sequences_scores"]
    for name in ("scores", "logits"):
        if name in out:
            result[name] = tuple(out[name][i] for i in range(steps))
    if beams:
        result["beam_indices"] = out["beam_indices"][:, : int(out["generated"])]
    return ModelOutput(result)


class GenerationMixin:
    """Adds `generate()` to a causal LM that implements `init_cache` and `decode_step`."""

    # Tensors `generate()` accepts by keyword beside the prompt and hands to `_search_inputs` (RAG: `doc_scores`).
    generation_input_names = ()

    def _generation_model_config(self):
        """The model's `config.json` fields (a head model keeps them on its backbone)."""
        model = getattr(self, "backbone", self)
        return {**model.extra_config, **model.config}

    def _checkpoint_generation_config(self):
        """Generation defaults of the checkpoint: `generation_config` (set by `from_pretrained`), else `config.json`."""
        stored = getattr(self, "generation_config", None)
        if stored is not None:
            return dict(stored)
        return generation_config.from_model_config(self._generation_model_config())

    def generate(self, input_ids, attention_mask=None, max_new_tokens=None, do_sample=None, num_beams=None,
                 temperature=None, top_k=None, top_p=None, repetition_penalty=None, length_penalty=None,
                 early_stopping=None, eos_token_id=None, pad_token_id=None, seed=None, jit_compile=True,
                 max_length=None, min_length=None, min_new_tokens=None, no_repeat_ngram_size=None,
                 bad_words_ids=None, forced_bos_token_id=None, forced_eos_token_id=None, num_return_sequences=None,
                 output_scores=None, output_logits=None, return_dict_in_generate=None, logits_processor=None,
                 stopping_criteria=None, streamer=None, max_time=None, stop_strings=None, steps_per_chunk=1,
                 output_attentions=None, output_hidden_states=None, encoder_no_repeat_ngram_size=None,
                 renormalize_logits=None, tokenizer=None, **model_inputs):
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

        Defaults: an argument left `None` takes the checkpoint's
        `generation_config.json` value (or its `config.json` field when there
        is no such file), else `transformers.GenerationConfig`'s default
        (`max_length=20` counted as new tokens when nobody sets it,
        `top_k=50`, ...); see `tfmodels.generation.config`.

        Compilation and prompt-length bucketing: the whole loop (prefill,
        every decoding step over a preallocated KV cache, the search) is one
        `tf.function(jit_compile=True, autograph=False)` (tfmodels' loop is an
        explicit `tf.while_loop`; `logits_processor` and `stopping_criteria`
        callables are still converted by autograph, so Python control flow
        on tensors in them works), traced once per model, per set of
        static settings (lengths, search options, processors, eos/pad ids)
        and per input shape `(batch, prompt_len)`. Later calls with the same
        padded shape reuse the compiled program; `seed` is a tensor input and
        never retraces. To serve prompts of many lengths without
        recompiling, left-pad them to a few bucket lengths (e.g. multiples of
        32 or powers of two) with `pad_token_id` and a 0 attention mask, and
        use fixed batch sizes::

            bucket = -(-prompt_len // 32) * 32  # round up to a multiple of 32
            ids = np.pad(ids, ((0, 0), (bucket - prompt_len, 0)), constant_values=pad_id)
            mask = np.pad(mask, ((0, 0), (bucket - prompt_len, 0)))
            model.generate(ids, attention_mask=mask, max_new_tokens=64)

        Left padding does not change the results (positions come from the
        attention mask, as in Hugging Face); `prompt_len + max_new_tokens`
        must not exceed the model's position table. Processors that read the
        sequence (`no_repeat_ngram_size`, `bad_words_ids`) see the padded
        prompt, as in Hugging Face.

        Args:
            input_ids: int array `(batch, prompt_len)`, left-padded.
            attention_mask: int array `(batch, prompt_len)`, 0 on padding;
                all ones if absent.
            max_new_tokens: int, tokens to generate at most (wins over `max_length`).
            do_sample: bool, sample instead of taking the argmax.
            num_beams: int, beam search when `> 1` (sampling with beams is
                not supported).
            temperature: float, sampling warper (divides the logits).
            top_k: int, sampling warper keeping the `top_k` best tokens
                (`0` disables it).
            top_p: float, nucleus sampling warper (`1.0` disables it).
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
            max_length: int, total length (prompt, or the decoder start
                token, included).
            min_length: int, total length before which eos is banned
                (`MinLengthLogitsProcessor`).
            min_new_tokens: int, new tokens before which eos is banned
                (`MinNewTokensLengthLogitsProcessor`; wins over `min_length`).
            no_repeat_ngram_size: int, no n-gram of this size occurs twice.
            encoder_no_repeat_ngram_size: int, no n-gram of this size of the encoder input (of
                the padded prompt, for a decoder-only model) is generated
                (`EncoderNoRepeatNGramLogitsProcessor`; Blenderbot's checkpoints set 3).
            renormalize_logits: bool, log-softmax the processed scores (`LogitNormalization`,
                last; Marian's checkpoints set it): changes beam search only.
            bad_words_ids: list of token-id lists never generated (a
                multi-token word: its last token after the others).
            forced_bos_token_id: int, the token forced as the first generated one.
            forced_eos_token_id: int or list, forced at `max_length - 1`.
            num_return_sequences: int; with sampling, independent samples
                per row; with beams, the best `num_return_sequences` beams
                (`<= num_beams`), best first. Output rows `b * n + r`.
            output_scores: bool, with `return_dict_in_generate`: return the
                processed scores of every step (collected inside the compiled
                loop into a preallocated `(max_new_tokens, rows, vocab)`
                buffer; nothing is collected when not asked).
            output_logits: bool, likewise the raw logits of every step.
            return_dict_in_generate: bool, return a `ModelOutput` instead of
                the sequences tensor (see Returns).
            logits_processor: a callable `(input_ids, scores, cur_len) ->
                scores` of TensorFlow tensors, or a list of them, run inside
                the compiled loop after the built-in processors and before the
                sampling warpers (the reference's order); contract in
                `tfmodels.generation.criteria`.
            stopping_criteria: a callable `(input_ids, scores, cur_len) ->
                bool (rows,)`, or a list of them, run inside the compiled loop
                after each step (`tfmodels.generation.criteria`;
                `StopOnTokenSequences` stops on token-id sequences).
            streamer: an object with `put(value)` and `end()`
                (`transformers.TextStreamer`'s protocol): receives the prompt,
                then each step's tokens, as numpy arrays. The loop then runs in
                compiled chunks of `steps_per_chunk` steps; see
                `tfmodels.generation.streaming` for the protocol and the cost.
                Not with beam search (as the reference).
            max_time: float, seconds after which generation stops
                (`MaxTimeCriteria`), checked between compiled chunks of
                `steps_per_chunk` steps (`tfmodels.generation.streaming`).
            stop_strings: str or list of str: a row finishes once its text
                ends with one of them, whatever the tokenization (the
                reference's `StopStringCriteria`: the string must overlap the
                last token; `tfmodels.generation.StopStringCriteria`). Needs
                `tokenizer`; also read from `generation_config.json`. The check
                is tensor ops on a table precomputed from the vocabulary, so it
                runs inside the compiled loop (also with beams, where each
                candidate is checked, and with a `streamer`). As in the
                reference, a stopped row continues with `pad_token_id` only
                when there is an `eos_token_id`.
            tokenizer: the model's `transformers` tokenizer, needed by
                `stop_strings` (unused otherwise). Its vocabulary table is
                computed once per tokenizer and stop strings, and cached.
            steps_per_chunk: int, decoding steps per compiled chunk with a
                `streamer` or `max_time` (tfmodels-specific; default 1).
            **model_inputs: tensors a model's search reads beside the prompt, named in its
                `generation_input_names` (RAG's `doc_scores`); passed to `_search_inputs`.

        `output_attentions` and `output_hidden_states` are not supported in
        `generate()` (a `ValueError`); run the model's forward pass on the
        returned sequences instead.

        Returns:
            int32 `tf.Tensor` `(batch * num_return_sequences, prompt_len + generated)`; with
            `return_dict_in_generate=True` a `ModelOutput` with the reference's fields
            (`GenerateDecoderOnlyOutput` / `GenerateEncoderDecoderOutput`, and with beams
            `GenerateBeamDecoderOnlyOutput` / `GenerateBeamEncoderDecoderOutput`; no
            attentions, hidden states or cache): `sequences` (that tensor), `scores` /
            `logits` when asked (tuples with one float32 `(rows, vocab_size)` tensor per
            step, `rows = batch * num_return_sequences`, with beams `batch * num_beams`;
            beam scores are the processed log-probabilities), and with beams
            `sequences_scores` `(batch * num_return_sequences,)` (with `output_scores`)
            and `beam_indices` int32 `(batch * num_return_sequences, generated)`.

        Raises:
            ValueError: for invalid arguments or unsupported combinations (the message names them),
                e.g. `stop_strings` without `tokenizer`.
            TypeError: for a keyword argument that is neither an option nor one of
                `generation_input_names`, or a `logits_processor` / `stopping_criteria` entry
                that is not a TensorFlow callable, or a `tokenizer` that is not a `transformers` one.
        """
        started = time.time()  # `max_time` counts from here, as the reference's `MaxTimeCriteria`
        unknown = sorted(set(model_inputs) - set(self.generation_input_names))
        if unknown:
            raise TypeError(f"{type(self).__name__}.generate() got unexpected arguments {unknown}.")
        model_inputs = {k: tf.convert_to_tensor(v) for k, v in model_inputs.items() if v is not None}
        input_ids, attention_mask = self._generation_inputs(input_ids, attention_mask)
        explicit = dict(
            max_new_tokens=max_new_tokens, max_length=max_length, min_length=min_length,
            min_new_tokens=min_new_tokens, do_sample=do_sample, num_beams=num_beams, temperature=temperature,
            top_k=top_k, top_p=top_p, repetition_penalty=repetition_penalty, length_penalty=length_penalty,
            early_stopping=early_stopping, no_repeat_ngram_size=no_repeat_ngram_size, bad_words_ids=bad_words_ids,
            forced_bos_token_id=forced_bos_token_id, forced_eos_token_id=forced_eos_token_id,
            num_return_sequences=num_return_sequences, eos_token_id=eos_token_id, pad_token_id=pad_token_id,
            output_scores=output_scores, output_logits=output_logits, return_dict_in_generate=return_dict_in_generate,
            max_time=max_time, stop_strings=stop_strings,
            encoder_no_repeat_ngram_size=encoder_no_repeat_ngram_size, renormalize_logits=renormalize_logits,
        )
        o, max_length_is_default = generation_config.resolve(explicit, self._checkpoint_generation_config())
        vocab_size = self._generation_model_config()["vocab_size"]
        input_length = self._output_prefix_length(input_ids)  # the length the reference's processors start from
        max_positions = self._max_generation_positions()
        if o["max_new_tokens"] is not None:
            new_tokens = int(o["max_new_tokens"])
        elif max_length_is_default:  # the reference: the default max_length counts new tokens, within the positions
            total = int(o["max_length"]) + input_length
            new_tokens = (total if max_positions is None else min(total, max_positions)) - input_length
        else:
            new_tokens = int(o["max_length"]) - input_length
            if new_tokens < 1:
                raise ValueError(f"Input length is {input_length}, but max_length is {o['max_length']}: set "
                                 f"max_new_tokens or a larger max_length.")
        num_beams, do_sample, n_return = int(o["num_beams"]), bool(o["do_sample"]), int(o["num_return_sequences"])
        _check_options(o, new_tokens, num_beams, do_sample, n_return)
        user_processors = criteria.as_callables(logits_processor, "logits_processor")
        user_criteria = (_stop_string_criteria(o["stop_strings"], tokenizer)
                         + criteria.as_callables(stopping_criteria, "stopping_criteria"))
        _check_callbacks(o, num_beams, streamer, steps_per_chunk, output_attentions, output_hidden_states)
        return_dict = bool(o["return_dict_in_generate"])
        eos_ids = _as_list(o["eos_token_id"])
        pad = o["pad_token_id"] if o["pad_token_id"] is not None else (eos_ids[0] if eos_ids else None)
        if max_positions is not None and input_ids.shape[1] + new_tokens > max_positions:
            raise ValueError(
                f"prompt_len + max_new_tokens = {input_ids.shape[1] + new_tokens} exceeds the "
                f"model's {max_positions} positions."
            )
        min_total = o["min_length"] if o["min_new_tokens"] is None else int(o["min_new_tokens"]) + input_length
        processors = lp.SequenceProcessors(
            eos_token_ids=eos_ids, no_repeat_ngram_size=o["no_repeat_ngram_size"],
            bad_words_ids=_bad_words(o["bad_words_ids"], eos_ids, vocab_size), min_length=min_total,
            forced_bos_token_id=o["forced_bos_token_id"], forced_eos_token_ids=_as_list(o["forced_eos_token_id"]),
            max_length=input_length + new_tokens, encoder_no_repeat_ngram_size=o["encoder_no_repeat_ngram_size"],
            renormalize_logits=o["renormalize_logits"],
        )
        self.build_from_dummy_inputs()

        settings = dict(
            max_new_tokens=new_tokens, num_beams=num_beams, do_sample=do_sample,
            temperature=float(o["temperature"]), top_k=int(o["top_k"]), top_p=float(o["top_p"]),
            repetition_penalty=float(o["repetition_penalty"]), length_penalty=float(o["length_penalty"]),
            early_stopping=o["early_stopping"], eos_token_ids=tuple(eos_ids), pad_token_id=pad,
            jit_compile=bool(jit_compile), processors=processors,
            num_return_sequences=n_return if num_beams > 1 else 1, user_processors=user_processors,
            user_criteria=user_criteria, output_scores=return_dict and bool(o["output_scores"]),
            output_logits=return_dict and bool(o["output_logits"]), return_dict=return_dict,
            chunked=streamer is not None or o["max_time"] is not None,
        )
        if num_beams == 1 and n_return > 1:  # independent samples: the reference expands the inputs
            input_ids = tf.repeat(input_ids, n_return, axis=0)
            attention_mask = tf.repeat(attention_mask, n_return, axis=0)
        fn = self._generation_function(settings, vocab_size)
        if seed is None:
            seed = np.random.randint(0, 2**31 - 1)
        args = (input_ids, attention_mask, tf.constant(int(seed) % (2**31 - 1), tf.int32), model_inputs)
        if settings["chunked"]:
            out = streaming.run_chunked(fn, args, streamer=streamer, max_time=o["max_time"],
                                        steps_per_chunk=steps_per_chunk, started=started)
        else:
            out = fn(*args)
        sequences = out["sequences"][:, : self._output_prefix_length(input_ids) + int(out["generated"])]
        if not return_dict:
            return sequences
        return _generate_output(out, sequences, num_beams > 1, bool(o["output_scores"]))

    # -- override points (encoder-decoders: `tfmodels.generation.seq2seq`) ------

    def _generation_inputs(self, input_ids, attention_mask):
        """The checked source tensors: int32 `input_ids (batch, prompt_len)` and its int32 mask (all ones
        if `None`); speech encoder-decoders take float `input_features (batch, frames, features)` instead.

        Raises:
            ValueError: `input_ids` not 2-D, or a mask of another shape.
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
        return input_ids, attention_mask

    def _max_generation_positions(self):
        """Longest `prompt_len + max_new_tokens` the model accepts, or `None`."""
        return getattr(self.backbone, "max_positions", None)

    def _output_prefix_length(self, input_ids):
        """Columns of the output before the generated tokens (decoder-only: the prompt)."""
        return input_ids.shape[1]

    def _search_inputs(self, input_ids, attention_mask, num_beams, **model_inputs):
        """`(model, prompt_ids, prompt_mask)` the search loops decode from (inside the compiled loop).

        The loops repeat the prompt `num_beams` times (rows `b * num_beams + k`);
        a model with per-row state beside the prompt (an encoder output) repeats it likewise.
        `model_inputs` are the tensors named in `generation_input_names` given to `generate()`.
        """
        return self, input_ids, attention_mask

    def _generation_function(self, settings, vocab_size):
        key = tuple(sorted(settings.items()))
        functions = _COMPILED.setdefault(self, {})
        if key in functions:
            return functions[key]
        s = dict(settings)
        jit, chunked, return_dict = s.pop("jit_compile"), s.pop("chunked"), s.pop("return_dict")

        def count_trace():
            TRACE_COUNTS[self] = TRACE_COUNTS.get(self, 0) + 1  # Python side effect: runs only when tracing

        def search_inputs(input_ids, attention_mask, model_inputs):
            return self._search_inputs(input_ids, attention_mask, s["num_beams"], **model_inputs)

        def make_search():
            shared = dict(
                max_new_tokens=s["max_new_tokens"], repetition_penalty=s["repetition_penalty"],
                eos_token_ids=list(s["eos_token_ids"]), pad_token_id=s["pad_token_id"], vocab_size=vocab_size,
                processors=s["processors"], user_processors=s["user_processors"], user_criteria=s["user_criteria"],
                output_scores=s["output_scores"], output_logits=s["output_logits"],
            )
            if s["num_beams"] > 1:
                return beam.BeamSearch(num_beams=s["num_beams"], length_penalty=s["length_penalty"],
                                       early_stopping=s["early_stopping"],
                                       num_return_sequences=s["num_return_sequences"], **shared)
            return search.GreedyOrSample(do_sample=s["do_sample"], temperature=s["temperature"], top_k=s["top_k"],
                                         top_p=s["top_p"], **shared)

        if chunked:
            functions[key] = streaming.make_chunked(search_inputs, make_search, jit, count_trace,
                                                    trace_context=lambda: xla_matrix_vector_guard(jit))
            return functions[key]

        def run(input_ids, attention_mask, seed, model_inputs):
            count_trace()
            with xla_matrix_vector_guard(jit):
                model, search_ids, search_mask = search_inputs(input_ids, attention_mask, model_inputs)
                out = search.run_search(make_search(), model, search_ids, search_mask, seed,
                                        encoder_input_ids=input_ids)
            return out if return_dict else {k: out[k] for k in ("sequences", "generated")}

        functions[key] = tf.function(run, jit_compile=jit, reduce_retracing=False, autograph=False)
        return functions[key]
