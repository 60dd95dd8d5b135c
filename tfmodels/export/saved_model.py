"""SavedModel export for TF Serving and `tf.saved_model.load`."""

import os
import shutil
import tempfile
from pathlib import Path

import tensorflow as tf

from tfmodels.export.signatures import make_generation_function, task_signature
from tfmodels.generation.seq2seq import Seq2SeqGenerationMixin

# Inputs a serving client sends; position ids are derived in-graph.
_SERVING_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_TOKENIZER_OUTPUTS = ("input_ids", "attention_mask", "token_type_ids")  # what InGraphTokenizer returns


def serving_input_names(model):
    """The inputs of `model`'s serving signature, in order: int32 token inputs, then
    architecture-specific ones, then float inputs (`pixel_values`)."""
    names = [name for name in _SERVING_INPUTS if name in model.input_names]
    names += [name for name in serving_extra_inputs(model) if name not in names]
    return names + [name for name in getattr(model, "float_input_names", ()) if name in model.input_names
                    and name not in names]


def serving_extra_inputs(model):
    """`{name: trailing_dims}` of architecture-specific serving inputs, e.g. LayoutLM's
    `bbox` `(batch, seq_len, 4)` -> `{"bbox": (4,)}`; a model declares them in
    its `serving_extra_inputs` attribute (or property)."""
    return dict(getattr(model, "serving_extra_inputs", None) or {})


def _input_rank(model):
    dummy = model.dummy_inputs()
    return len(dummy["input_ids"].shape) if "input_ids" in dummy else 2


def serving_input_specs(model):
    """`{name: tf.TensorSpec}` of the serving inputs: int32, dynamic batch and sequence dimensions;
    float32 `pixel_values` with a dynamic batch and the model's image size; float32 `input_values`
    `(batch, samples)` with both dynamic (models with `serving_dynamic_float_inputs`).

    `(None, None)` (`(None, None, None)` for multiple choice), plus the
    trailing dimensions of `serving_extra_inputs` (LayoutLM's `bbox`). Also
    the default `input_signature` of `model.export()`. Builds the model.
    """
    model.build_from_dummy_inputs()
    rank = _input_rank(model)
    extra = serving_extra_inputs(model)
    dummy = model.dummy_inputs()
    float_names = set(getattr(model, "float_input_names", ()))
    # Float inputs with other dynamic axes declare their shapes (LXMERT: any number of objects).
    float_shapes = dict(getattr(model, "serving_float_shapes", None) or {})

    def spec(name):
        if name in float_names and getattr(model, "serving_dynamic_float_inputs", False):  # audio samples
            return tf.TensorSpec([None] * len(dummy[name].shape), tf.float32, name=name)
        if name in float_names:  # images: dynamic batch, the model's static channels and size
            return tf.TensorSpec(float_shapes.get(name, [None, *dummy[name].shape[1:]]), tf.float32, name=name)
        return tf.TensorSpec([None] * rank + list(extra.get(name, ())), tf.int32, name=name)

    return {name: spec(name) for name in serving_input_names(model)}


def make_serving_function(model, output_names=None):
    """Returns a `tf.function` over dynamic int32 inputs `[None, None]` (or
    `[None, None, None]` for multiple choice) that returns a dict of the
    model's serving outputs."""
    specs = serving_input_specs(model)
    names = list(specs)
    output_names = list(output_names or model.serving_outputs)
    signature = list(specs.values())

    @tf.function(input_signature=signature)
    def serve(*tensors):
        outputs = model(dict(zip(names, tensors)), training=False)
        return {name: outputs[name] for name in output_names}

    return serve


def make_task_serving_function(model, postprocess):
    """Like `make_serving_function`, returning `postprocess(model, outputs, inputs)`
    (e.g. class probabilities) instead of the raw outputs."""
    specs = serving_input_specs(model)
    names = list(specs)

    @tf.function(input_signature=list(specs.values()))
    def serve(*tensors):
        inputs = dict(zip(names, tensors))
        return postprocess(model, model(inputs, training=False), inputs)

    return serve


def make_text_serving_function(model, tokenizer, output_names=None, postprocess=None):
    """A `tf.function` over a string tensor `text (batch,)`: tokenizes in-graph
    with `tokenizer` (an `InGraphTokenizer`) and returns the model's serving
    outputs, or `postprocess(model, outputs, inputs)` when given."""
    model.build_from_dummy_inputs()
    if _input_rank(model) != 2:
        raise ValueError(f"Text signatures need (batch, seq_len) inputs; {type(model).__name__} takes rank "
                         f"{_input_rank(model)} inputs.")
    names = serving_input_names(model)
    output_names = list(output_names or model.serving_outputs)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve(text):
        features = tokenizer(text)
        inputs = {name: features[name] for name in names if name in tokenizer.model_input_names}
        outputs = model(inputs, training=False)
        if postprocess is not None:
            return postprocess(model, outputs, inputs)
        return {name: outputs[name] for name in output_names}

    return serve


def make_text_generation_function(model, tokenizer, generate):
    """A `tf.function` over a string tensor `text (batch,)`: tokenizes in-graph with `tokenizer` (an
    `InGraphTokenizer`; prompts left-padded for a causal LM) and returns the `generate` signature's
    `sequences` (see `make_generation_function`)."""
    encoder_decoder = isinstance(model, Seq2SeqGenerationMixin)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def generate_text(text):
        features = tokenizer.encode(text, pad_left=False if encoder_decoder else True)
        return generate(input_ids=features["input_ids"], attention_mask=features["attention_mask"])

    return generate_text


def text_signature_names(model, generation):
    """The names of the text signatures `export_saved_model(model, tokenizer=..., generation=...)` adds."""
    names = ["tokenize"] + (["generate_text"] if generation else [])
    if all(name in _TOKENIZER_OUTPUTS for name in serving_input_names(model)):
        names.append("serve_text")
        task = task_signature(model)
        if task is not None:
            names.append(f"{task[0]}_text")
    return names


def _max_positions(model):
    config = getattr(model, "backbone", model).config
    return config.get("max_position_embeddings")


def build_signatures(model, output_names=None, tokenizer=None, max_length=None, task_signatures=True,
                     generation=None, serving_postprocess=None):
    """The SavedModel signatures for `model` (see `export_saved_model`).

    Returns:
        `(signatures, in_graph_tokenizer_or_None)`.
    """
    if serving_postprocess is not None:
        signatures = {"serving_default": make_task_serving_function(model, serving_postprocess)}
    else:
        signatures = {"serving_default": make_serving_function(model, output_names)}
    task = task_signature(model) if task_signatures else None
    if task is not None:
        signatures[task[0]] = make_task_serving_function(model, task[1])
    if generation is not None:
        signatures["generate"] = make_generation_function(model, **generation)
    in_graph = None
    if tokenizer is not None:
        from tfmodels.export.tokenizer import InGraphTokenizer

        in_graph = tokenizer if isinstance(tokenizer, InGraphTokenizer) else InGraphTokenizer(tokenizer, max_length)
        limit = _max_positions(model)
        if limit is not None and in_graph.max_length > limit:
            raise ValueError(f"The tokenizer pads to max_length={in_graph.max_length}, more than the model's "
                             f"max_position_embeddings={limit}. Pass max_length=<= {limit}.")
        signatures["tokenize"] = in_graph.__call__
        missing = [name for name in serving_input_names(model) if name not in _TOKENIZER_OUTPUTS]
        if generation is not None:
            if in_graph.max_length > generation["prompt_length"]:
                raise ValueError(f"The tokenizer pads to max_length={in_graph.max_length}, longer than the generation "
                                 f"prompt_length={generation['prompt_length']}. Pass max_length=<= "
                                 f"{generation['prompt_length']}.")
            signatures["generate_text"] = make_text_generation_function(model, in_graph, signatures["generate"])
        elif missing:
            raise ValueError(f"Text signatures need every serving input from the tokenizer; {type(model).__name__} "
                             f"also takes {missing}. Pass generation={{...}} for a `generate_text` signature, or "
                             "export without tokenizer=.")
        if not missing:
            signatures["serve_text"] = make_text_serving_function(model, in_graph, output_names)
            if task is not None:
                signatures[f"{task[0]}_text"] = make_text_serving_function(model, in_graph, postprocess=task[1])
    return signatures, in_graph


def export_saved_model(model, directory, output_names=None, overwrite=False, tokenizer=None, max_length=None,
                       task_signatures=True, generation=None, serving_postprocess=None):
    """Exports `model` as a SavedModel with a `serving_default` signature.

    The signature takes int32 tensors with dynamic batch and sequence
    dimensions, `input_ids`, `attention_mask` and `token_type_ids` (as the
    model accepts them), shape `(batch, seq_len)` (`(batch, num_choices,
    seq_len)` for multiple choice), plus the model's `serving_extra_inputs`
    (LayoutLM's `bbox` `(batch, seq_len, 4)`, XLM's `langs`, an
    encoder-decoder LM's `decoder_input_ids` and `decoder_attention_mask`
    `(batch, target_len)`), and returns the model's serving outputs
    (`last_hidden_state`/`pooler_output` for a backbone, `logits` for
    classifiers, `start_logits`/`end_logits` for QA). The result loads with
    `tf.saved_model.load` in a process that never imports tfmodels, and TF
    Serving serves it as it is.

    The SavedModel is written to a temporary directory next to `directory`
    and renamed into place when complete.

    More signatures (same SavedModel, chosen by `signature_name`):

    - a task signature for heads that have one (`task_signatures=True`):
      `classify` (probabilities, label id and name), `token_labels`,
      `answer_span`; see `tfmodels.export.signatures`;
    - with `tokenizer`: `serve_text` (the `serving_default` outputs from a
      string tensor `text (batch,)`, tokenized in-graph, padded to
      `max_length`), `<task>_text`, and `tokenize` (the token ids the model
      sees); with `generation` too, `generate_text` (`sequences` from raw
      prompts or sources; `max_length <= prompt_length`). An encoder-decoder
      (T5, BART, ...) gets `generate_text` but no `serve_text` (its serving
      inputs include `decoder_input_ids`). Tokenizers that run in-graph:
      WordPiece (BERT family), byte-level BPE (GPT-2, RoBERTa, BART, ...),
      Unigram (T5, ALBERT, XLNet, XLM-R, CamemBERT, mBART, Pegasus, Marian,
      ...); see `tfmodels.export.tokenizer`. Loading such a SavedModel needs
      the TF Text ops: `import tensorflow_text` first.

    Args:
        model: a tfmodels model (built or not).
        directory: output directory.
        output_names: outputs to export; default `model.serving_outputs`.
        overwrite: replace an existing non-empty `directory`.
        tokenizer: optional Hugging Face tokenizer (`tokenizers.Tokenizer`,
            fast tokenizer, `tokenizer.json` path or directory) or an
            `InGraphTokenizer`, for the text signatures.
        max_length: tokenizer output length; default the tokenizer's
            truncation length (else 512).
        task_signatures: add the head's task signature.
        generation: for causal and encoder-decoder LMs, a dict with
            `batch_size`, `prompt_length`, `max_new_tokens` (and any other
            `generate()` arguments) adds a `generate` signature over int32
            `input_ids`, `attention_mask` of up to that batch size and length
            (left-padded prompts; for an encoder-decoder, sources), returning
            `sequences` as `model.generate()` does (compiled once for that
            shape; see `tfmodels.export.signatures.make_generation_function`).
        serving_postprocess: optional `fn(model, outputs, inputs) -> dict` whose
            result `serving_default` returns instead of the raw outputs (e.g.
            pooled sentence embeddings, `SentenceEmbedder.export`).

    Returns:
        `pathlib.Path` of the SavedModel directory.

    Raises:
        FileExistsError: `directory` exists, is not empty and `overwrite` is False.
        ValueError: a tokenizer that cannot run in-graph (`InGraphTokenizer`),
            a tokenizer `max_length` above the model's positions or the
            generation `prompt_length`, or a `tokenizer` for a model whose
            serving inputs it does not produce, without `generation`.
    """
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()) and not overwrite:
        raise FileExistsError(f"{directory} exists and is not empty; pass overwrite=True "
                              "(`tfmodels export --overwrite`) to replace it.")
    signatures, in_graph = build_signatures(model, output_names, tokenizer, max_length, task_signatures, generation,
                                            serving_postprocess)
    module = tf.Module()
    module.model = model
    module.serve = signatures["serving_default"]
    if in_graph is not None:
        module.tokenizer = in_graph
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        tf.saved_model.save(module, str(tmp), signatures=signatures)
        if directory.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old.", dir=directory.parent))
            os.replace(directory, old / directory.name)
            os.replace(tmp, directory)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, directory)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return directory
