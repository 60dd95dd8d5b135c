"""Generation pipelines: `text-generation` (causal LMs) and `text2text-generation`, `summarization`,
`translation` (encoder-decoders), decoding with tfmodels' `generate()`.

References: `transformers.pipelines.text_generation` (v5.24) and
`transformers.pipelines.text2text_generation` of `transformers` 4.46.3 (the
seq2seq tasks were removed from `transformers` 5). Generation options are
`generate()`'s (`max_new_tokens`, `do_sample`, `num_beams`, `temperature`,
`top_k`, `top_p`, `repetition_penalty`, `num_return_sequences`, `seed`,
`jit_compile`, ...), given at construction or per call.
"""

import logging

import numpy as np

from tfmodels.generation import config as generation_config
from tfmodels.pipelines.base import Pipeline, chunks_from_encoding
from tfmodels.pipelines.text import model_config

logger = logging.getLogger("tfmodels")

# `transformers.TextGenerationPipeline._default_generation_config`: for options neither the call
# nor the checkpoint sets.
TEXT_GENERATION_DEFAULTS = {"max_new_tokens": 256, "do_sample": True, "temperature": 0.7}
_SAMPLING_OPTIONS = ("temperature", "top_k", "top_p")
# Prompt the reference prepends for XLNet and Transformer-XL, which generate poorly from short prompts.
XL_PREFIX = """
    In 1991, the remains of Russian Tsar Nicholas II and his family (except for Alexei and Maria) are discovered. The
    voice of Nicholas's young son, Tsarevich Alexei Nikolaevich, narrates the remainder of the story. 1883 Western
    Siberia, a young Grigori Rasputin is asked by his father and a group of men to perform magic. Rasputin has a vision
    and denounces one of the men as a horse thief. Although his father initially slaps him for making such an
    accusation, Rasputin watches as the man is chased outside and beaten. Twenty years later, Rasputin sees a vision of
    the Virgin Mary, prompting him to become a priest. Rasputin quickly becomes famous, with people, even a bishop,
    begging for his blessing. <eod> </s> <eos>
    """


def _is_chat(item):
    return isinstance(item, (list, tuple)) and bool(item) and isinstance(item[0], dict) and "role" in item[0]


def _checkpoint_options(model):
    """The generation options the checkpoint sets to non-default values (`GenerationConfig.to_diff_dict()`)."""
    stored = dict(getattr(model, "generation_config", None) or {})
    return {k: v for k, v in stored.items() if generation_config.LIBRARY_DEFAULTS.get(k) != v}


def with_pipeline_defaults(model, generate_kwargs, defaults):
    """The call's `generate()` options plus a pipeline's `defaults` (its `_default_generation_config` in the
    reference) for the options neither the call nor the checkpoint sets; sampling options only when sampling.

    Returns:
        `(options, options set by the checkpoint or the call, defaults added)`.
    """
    set_options = {**_checkpoint_options(model), **generate_kwargs}
    added = {k: v for k, v in defaults.items()
             if k not in set_options and not (k == "max_new_tokens" and "max_length" in set_options)}
    if not {**set_options, **added}.get("do_sample"):
        added = {k: v for k, v in added.items() if k not in _SAMPLING_OPTIONS}
    return {**generate_kwargs, **added}, set_options, added


def generated_ids(output):
    """The token ids of a `generate()` result: the array itself, or `sequences` of the dict that
    `return_dict_in_generate=True` (from a call or a checkpoint's generation config) returns."""
    if hasattr(output, "keys") and "sequences" in output.keys():
        output = output["sequences"]
    return np.asarray(output)


class TextGenerationPipeline(Pipeline):
    """Continues prompts with a causal LM (`AutoModelForCausalLM`): `generator("Once upon a time")`.

    Parameters: `return_full_text` (default `True`: the prompt plus the new
    text), `return_tensors` (token ids instead of text), `prefix`,
    `clean_up_tokenization_spaces`, `skip_special_tokens` (default `True`),
    `add_special_tokens`, `truncation`, `max_length` (tokenizer and
    `generate()`), `stop_sequence` (a string or a list of them: `generate()`'s
    `stop_strings`, with the pipeline's tokenizer), and any `generate()`
    option. As in `transformers`, options
    the checkpoint's generation config does not set default to
    `max_new_tokens=256, do_sample=True, temperature=0.7`; pass
    `do_sample=False` for greedy decoding. Prompts are left-padded in batches.

    Returns:
        per prompt, a list of `{"generated_text": str}` (or
        `{"generated_token_ids": list}`), one per returned sequence.

    Raises:
        ValueError: conflicting return options, chat inputs, an empty prompt,
            or `handle_long_generation` (not supported).
    """

    default_task = "text-generation"

    def __init__(self, model, tokenizer, **kwargs):
        super().__init__(model, tokenizer, **kwargs)
        if getattr(self.tokenizer, "padding_side", None) == "right":
            self.tokenizer.padding_side = "left"
        if "prefix" not in self._init_params[0]:
            prefix = model_config(model).get("prefix")
            if prefix is None and type(model).__name__ in ("XLNetLMHeadModel", "TransfoXLLMHeadModel"):
                prefix = XL_PREFIX
            if prefix is not None:
                pre, fwd, _ = self._sanitize_parameters(prefix=prefix)
                self._init_params = ({**self._init_params[0], **pre}, {**self._init_params[1], **fwd},
                                     self._init_params[2])

    def _sanitize_parameters(self, return_full_text=None, return_tensors=None, return_text=None,
                             clean_up_tokenization_spaces=None, prefix=None, handle_long_generation=None,
                             stop_sequence=None, truncation=None, max_length=None, skip_special_tokens=None,
                             add_special_tokens=None, padding=None, **generate_kwargs):
        if handle_long_generation is not None:
            raise ValueError("handle_long_generation is not supported by tfmodels pipelines; truncate the prompt "
                             "or set max_new_tokens instead.")
        if stop_sequence is not None:  # as the reference: generate()'s stop strings, with the pipeline's tokenizer
            generate_kwargs["stop_strings"] = [stop_sequence] if isinstance(stop_sequence, str) else stop_sequence
            generate_kwargs["tokenizer"] = self.tokenizer
        pre = {k: v for k, v in dict(truncation=truncation, max_length=max_length, padding=padding,
                                     add_special_tokens=add_special_tokens).items() if v is not None}
        if max_length is not None:
            generate_kwargs["max_length"] = max_length
        if prefix is not None:
            pre["prefix"] = prefix
            if prefix:
                ids = self.tokenizer(prefix, padding=False, add_special_tokens=bool(add_special_tokens))["input_ids"]
                generate_kwargs["prefix_length"] = len(ids)
        post = {}
        if return_full_text is not None:
            if return_text is not None or return_tensors is not None:
                raise ValueError("return_full_text cannot be combined with return_text or return_tensors.")
            post["return_type"] = "full_text" if return_full_text else "new_text"
        elif return_tensors is not None:
            if return_text is not None:
                raise ValueError("return_text cannot be combined with return_tensors.")
            post["return_type"] = "tensors" if return_tensors else "full_text"
        if clean_up_tokenization_spaces is not None:
            post["clean_up_tokenization_spaces"] = clean_up_tokenization_spaces
        if skip_special_tokens is not None:
            post["skip_special_tokens"] = skip_special_tokens
        return pre, generate_kwargs, post

    def preprocess(self, prompt, prefix="", **tokenizer_kwargs):
        if _is_chat(prompt):
            raise ValueError("Chat inputs (lists of {'role', 'content'} messages) are not supported by tfmodels "
                             "pipelines yet: apply the chat template yourself and pass the text.")
        if not isinstance(prompt, str):
            raise ValueError(f"text-generation takes strings. Received: {type(prompt).__name__}")
        encoding = self.tokenize(prefix + prompt, **tokenizer_kwargs)
        if encoding["input_ids"].shape[-1] == 0:
            raise ValueError("The prompt tokenizes to no tokens; tfmodels' generate() needs at least one.")
        chunk = chunks_from_encoding(encoding, prompt_text=prompt)[0]
        return [{k: v for k, v in chunk.items() if k in ("input_ids", "attention_mask", "prompt_text")}]

    def generation_options(self, generate_kwargs):
        """`generate()` options of one call: the call's, then the pipeline defaults the checkpoint does not set."""
        generate_kwargs = dict(generate_kwargs)
        prefix_length = generate_kwargs.pop("prefix_length", 0)
        defaults = dict(TEXT_GENERATION_DEFAULTS)
        if getattr(self.tokenizer, "pad_token_id", None) is not None:
            defaults["pad_token_id"] = self.tokenizer.pad_token_id
        options, set_options, added = with_pipeline_defaults(self.model, generate_kwargs, defaults)
        if prefix_length:  # a total length has to include the prefix
            resolved = {**set_options, **added}
            for length, new_tokens in (("max_length", "max_new_tokens"), ("min_length", "min_new_tokens")):
                if length in resolved and new_tokens not in resolved:
                    options[length] = resolved[length] + prefix_length
        return options

    def _forward(self, batch, **generate_kwargs):
        sequences = generated_ids(self.model.generate(batch["input_ids"], attention_mask=batch["attention_mask"],
                                                      **self.generation_options(generate_kwargs)))
        rows = batch["input_ids"].shape[0]
        return {"generated_sequence": sequences.reshape(rows, sequences.shape[0] // rows, -1)}

    def postprocess(self, chunk_outputs, return_type="full_text", clean_up_tokenization_spaces=None,
                    skip_special_tokens=True):
        output = chunk_outputs[0]
        prompt_length = output["input_ids"].shape[-1]
        records = []
        for sequence in output["generated_sequence"].tolist():
            if return_type == "tensors":
                records.append({"generated_token_ids": sequence})
                continue
            text = self.tokenizer.decode(sequence[prompt_length:], skip_special_tokens=skip_special_tokens,
                                         clean_up_tokenization_spaces=clean_up_tokenization_spaces)
            records.append({"generated_text": output["prompt_text"] + text if return_type == "full_text" else text})
        return records


class Text2TextGenerationPipeline(Pipeline):
    """Generates text from text with an encoder-decoder (`AutoModelForSeq2SeqLM`: T5, BART, ...).

    The model config's `prefix` (or `task_specific_params[task]["prefix"]`,
    e.g. T5's `"summarize: "`) is prepended to every input; the other
    `task_specific_params[task]` entries are generation defaults, as in
    `transformers` 4.x. Parameters: `return_tensors`, `return_text`,
    `clean_up_tokenization_spaces` (default `False`), `truncation`, and any
    `generate()` option (default: the checkpoint's generation config; when
    nothing sets a length, `max_length=20` counts the whole output, decoder
    start token included, as in `transformers` 4.x).

    Returns:
        per input, a list of `{"generated_text": str}` (`summary_text`,
        `translation_text` for the subclasses; `*_token_ids` with
        `return_tensors=True`), one per returned sequence; a list of strings
        returning one sequence each gives a flat list of dicts.

    Raises:
        ValueError: inputs that are not strings; `stop_sequence` (not supported).
    """

    default_task = "text2text-generation"
    return_name = "generated"

    def __init__(self, model, tokenizer, **kwargs):
        self.prefix = model_config(model).get("prefix")
        self.task_options = {}
        task = kwargs.get("task") or self.default_task
        params = dict((model_config(model).get("task_specific_params") or {}).get(task) or {})
        if "prefix" in params:
            self.prefix = params.pop("prefix")
        self.task_options = {k: v for k, v in params.items() if k in generation_config.LIBRARY_DEFAULTS}
        super().__init__(model, tokenizer, **kwargs)

    def _sanitize_parameters(self, return_tensors=None, return_text=None, clean_up_tokenization_spaces=None,
                             truncation=None, stop_sequence=None, **generate_kwargs):
        if stop_sequence is not None:
            raise ValueError("stop_sequence is not supported by tfmodels pipelines; pass eos_token_id instead.")
        pre = {"truncation": truncation} if truncation is not None else {}
        post = {}
        if return_tensors is not None:
            post["return_type"] = "tensors" if return_tensors else "text"
        if clean_up_tokenization_spaces is not None:
            post["clean_up_tokenization_spaces"] = clean_up_tokenization_spaces
        return pre, generate_kwargs, post

    def __call__(self, inputs, **kwargs):
        result = super().__call__(inputs, **kwargs)
        if (isinstance(inputs, list) and all(isinstance(x, str) for x in inputs)
                and all(len(r) == 1 for r in result)):
            return [r[0] for r in result]
        return result

    def preprocess(self, text, truncation=False, **kwargs):
        if not isinstance(text, str):
            raise ValueError(f"{self.task} takes strings or lists of strings. Received: {type(text).__name__}")
        encoding = self.tokenize((self.prefix or "") + text, padding=False, truncation=truncation, **kwargs)
        return [{k: v for k, v in chunks_from_encoding(encoding)[0].items() if k != "token_type_ids"}]

    def check_inputs(self, input_length, min_length, max_length):
        """Logs a warning for lengths that look wrong for the task (none for plain text2text)."""

    def _forward(self, batch, **generate_kwargs):
        checkpoint = {**dict(getattr(self.model, "generation_config", None) or {}), **self.task_options}
        options = {**self.task_options, **generate_kwargs}
        if checkpoint.get("pad_token_id") is None and getattr(self.tokenizer, "pad_token_id", None) is not None:
            options.setdefault("pad_token_id", self.tokenizer.pad_token_id)
        if not {"max_length", "max_new_tokens"} & {k for k, v in {**checkpoint, **options}.items() if v is not None}:
            # transformers 4.x: the default max_length=20 is the whole output, decoder start token included.
            options["max_length"] = generation_config.LIBRARY_DEFAULTS["max_length"]
        resolved = {**generation_config.LIBRARY_DEFAULTS, **checkpoint, **options}
        self.check_inputs(batch["input_ids"].shape[1], resolved["min_length"], resolved["max_length"])
        sequences = generated_ids(self.model.generate(batch["input_ids"], attention_mask=batch.get("attention_mask"),
                                                      **options))
        rows = batch["input_ids"].shape[0]
        return {"output_ids": sequences.reshape(rows, sequences.shape[0] // rows, -1)}

    def postprocess(self, chunk_outputs, return_type="text", clean_up_tokenization_spaces=False):
        records = []
        for ids in chunk_outputs[0]["output_ids"].tolist():
            if return_type == "tensors":
                records.append({f"{self.return_name}_token_ids": ids})
            else:
                records.append({f"{self.return_name}_text": self.tokenizer.decode(
                    ids, skip_special_tokens=True, clean_up_tokenization_spaces=clean_up_tokenization_spaces)})
        return records


class SummarizationPipeline(Text2TextGenerationPipeline):
    """`summarization`: `Text2TextGenerationPipeline` returning `summary_text`."""

    default_task = "summarization"
    return_name = "summary"

    def check_inputs(self, input_length, min_length, max_length):
        if max_length < min_length:
            logger.warning("min_length=%s must be smaller than max_length=%s.", min_length, max_length)
        if input_length < max_length:
            logger.warning("max_length is %s but the input has only %s tokens; summaries are usually shorter than "
                           "their input (e.g. max_length=%s).", max_length, input_length, input_length // 2)


class TranslationPipeline(Text2TextGenerationPipeline):
    """`translation` (and `translation_xx_to_yy`): `Text2TextGenerationPipeline` returning `translation_text`.

    `src_lang`/`tgt_lang` (or the task name's `xx`/`yy`) go to tokenizers that
    build translation inputs (`_build_translation_inputs`, multilingual models).
    """

    default_task = "translation"
    return_name = "translation"

    def _sanitize_parameters(self, src_lang=None, tgt_lang=None, **kwargs):
        pre, fwd, post = super()._sanitize_parameters(**kwargs)
        if src_lang is not None:
            pre["src_lang"] = src_lang
        if tgt_lang is not None:
            pre["tgt_lang"] = tgt_lang
        parts = (self.task or "").split("_")
        if src_lang is None and tgt_lang is None and len(parts) == 4:
            pre["src_lang"], pre["tgt_lang"] = parts[1], parts[3]
        return pre, fwd, post

    def preprocess(self, text, truncation=False, src_lang=None, tgt_lang=None):
        if getattr(self.tokenizer, "_build_translation_inputs", None):
            encoding = self.tokenizer._build_translation_inputs(text, return_tensors="np", truncation=truncation,
                                                                src_lang=src_lang, tgt_lang=tgt_lang)
            return [{k: v for k, v in chunks_from_encoding(encoding)[0].items() if k != "token_type_ids"}]
        return super().preprocess(text, truncation=truncation)

    def check_inputs(self, input_length, min_length, max_length):
        if input_length > 0.9 * max_length:
            logger.warning("The input has %s tokens, more than 0.9 * max_length (%s); consider a larger max_length.",
                           input_length, max_length)
