"""SavedModel export for TF Serving and `tf.saved_model.load`."""

import logging
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
_TEXT = tf.TensorSpec([None], tf.string, name="text")
_TEXT_PAIR = tf.TensorSpec([None], tf.string, name="text_pair")
logger = logging.getLogger(__name__)


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
    return make_raw_serving_function(model, list(serving_input_specs(model).values()), dict, output_names)


def make_task_serving_function(model, postprocess):
    """Like `make_serving_function`, returning `postprocess(model, outputs, inputs)`
    (e.g. class probabilities) instead of the raw outputs."""
    return make_raw_serving_function(model, list(serving_input_specs(model).values()), dict,
                                     postprocess=postprocess)


def make_raw_serving_function(model, raw_specs, featurize, output_names=None, postprocess=None):
    """A `tf.function` over raw inputs (`raw_specs`, a list of named `tf.TensorSpec`s): builds the
    model's inputs in-graph with `featurize(raw_dict) -> inputs_dict` and returns the model's serving
    outputs, or `postprocess(model, outputs, inputs)` when given. The one mechanism behind the text
    (`serve_text`) and image (`serve_images`, `serve_image_bytes`) signatures."""
    names = [spec.name for spec in raw_specs]
    output_names = list(output_names or model.serving_outputs)

    @tf.function(input_signature=list(raw_specs))
    def serve(*tensors):
        inputs = featurize(dict(zip(names, tensors)))
        outputs = model(inputs, training=False)
        if postprocess is not None:
            return postprocess(model, outputs, inputs)
        return {name: outputs[name] for name in output_names}

    return serve


def make_text_serving_function(model, tokenizer, output_names=None, postprocess=None, pairs=False):
    """A `tf.function` over a string tensor `text (batch,)` (with `pairs`, also `text_pair (batch,)`:
    sentence pairs): tokenizes in-graph with `tokenizer` (an `InGraphTokenizer`) and returns the model's
    serving outputs, or `postprocess(model, outputs, inputs)` when given."""
    model.build_from_dummy_inputs()
    if _input_rank(model) != 2:
        raise ValueError(f"Text signatures need (batch, seq_len) inputs; {type(model).__name__} takes rank "
                         f"{_input_rank(model)} inputs.")
    names = serving_input_names(model)

    def featurize(raw):
        features = tokenizer.encode_pair(raw["text"], raw["text_pair"]) if pairs else tokenizer(raw["text"])
        return {name: features[name] for name in names if name in tokenizer.model_input_names}

    return make_raw_serving_function(model, [_TEXT, _TEXT_PAIR] if pairs else [_TEXT], featurize, output_names,
                                     postprocess)


def image_input_specs(model, processor, image_bytes=False):
    """The raw inputs of an image signature: uint8 `images (batch, height, width, 3)` (or string
    `image_bytes (batch,)`) in place of `pixel_values`, then the model's other serving inputs
    (CLIP's `input_ids`, `attention_mask`).

    Raises:
        ValueError: the model takes no `pixel_values`, or the processor's output size is not
            fixed or is not the model's image size.
    """
    specs = serving_input_specs(model)
    if "pixel_values" not in specs:
        raise ValueError(f"Image signatures need a model that takes pixel_values; {type(model).__name__} "
                         f"takes {list(specs)}.")
    shape = specs["pixel_values"].shape.as_list()  # (None, 3, H, W) or (None, H, W, 3)
    expected = tuple(shape[2:]) if processor.data_format == "channels_first" else tuple(shape[1:3])
    size = processor.output_size()
    if size is None or tuple(size) != expected:
        raise ValueError(f"The image processor must give images of the model's size {expected[0]}x{expected[1]} "
                         "(set do_center_crop with crop_size, or size={'height', 'width'}). Received: "
                         f"output size {size} (size={processor.processor.size}, "
                         f"do_center_crop={processor.processor.do_center_crop}).")
    raw = tf.TensorSpec([None], tf.string, name="image_bytes") if image_bytes else \
        tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")
    return [raw] + [spec for name, spec in specs.items() if name != "pixel_values"]


def make_image_serving_function(model, processor, image_bytes=False, output_names=None, postprocess=None):
    """A `tf.function` over uint8 `images (batch, height, width, 3)`, or string `image_bytes (batch,)`
    of encoded JPEG/PNG/GIF/BMP files of any sizes, plus the model's other serving inputs:
    preprocesses in-graph with `processor` (an `InGraphImageProcessor`) and returns the model's
    serving outputs, or `postprocess(model, outputs, inputs)` when given."""
    specs = image_input_specs(model, processor, image_bytes)

    def featurize(raw):
        raw = dict(raw)
        images = raw.pop("image_bytes") if image_bytes else raw.pop("images")
        pixel_values = processor.from_image_bytes(images) if image_bytes else processor(images)
        return {**raw, "pixel_values": pixel_values}

    return make_raw_serving_function(model, specs, featurize, output_names, postprocess)


def _in_graph_tokenizer(tokenizer, max_length):
    """An `InGraphTokenizer` for `tokenizer`: itself, Marian's (`MarianInGraphTokenizer`: a
    `MarianTokenizer` or a directory with `source.spm` and `vocab.json`), or one from `tokenizer.json`."""
    from tfmodels.export.marian_tokenizer import MarianInGraphTokenizer, is_marian_tokenizer
    from tfmodels.export.tokenizer import InGraphTokenizer

    if isinstance(tokenizer, InGraphTokenizer):
        return tokenizer
    if is_marian_tokenizer(tokenizer):
        return MarianInGraphTokenizer(tokenizer, max_length)
    return InGraphTokenizer(tokenizer, max_length)


def _in_graph_image_processor(model, image_processor):
    from tfmodels.processors.image_graph import InGraphImageProcessor

    if isinstance(image_processor, InGraphImageProcessor):
        return image_processor
    data_format = getattr(model, "data_format", None) or "channels_first"
    return InGraphImageProcessor(image_processor, data_format=data_format)


def make_text_generation_function(model, tokenizer, generate, detokenizer=None):
    """A `tf.function` over a string tensor `text (batch,)`: tokenizes in-graph with `tokenizer` (an
    `InGraphTokenizer`; prompts left-padded for a causal LM) and returns the `generate` signature's
    `sequences` (see `make_generation_function`).

    With `detokenizer` (an `InGraphDetokenizer`; Marian's `MarianInGraphDetokenizer`), text out as well:
    `text (batch * num_return_sequences,)`, the decoded `sequences` (the prompt and its continuation for a
    causal LM, the decoder's output for an encoder-decoder; the prompt padding left out), as `tokenizer.decode(sequences, skip_special_tokens=True)`,
    and for a causal LM `generated_text`, the continuation alone
    (`tokenizer.decode(sequences[:, prompt_len:], skip_special_tokens=True)`).
    """
    encoder_decoder = isinstance(model, Seq2SeqGenerationMixin)

    @tf.function(input_signature=[_TEXT])
    def generate_text(text):
        features = tokenizer.encode(text, pad_left=False if encoder_decoder else True)
        outputs = generate(input_ids=features["input_ids"], attention_mask=features["attention_mask"])
        if detokenizer is None:
            return outputs
        sequences = outputs["sequences"]
        if encoder_decoder:
            return {"sequences": sequences, "text": detokenizer.decode(sequences)}
        returned = tf.shape(sequences)[0] // tf.shape(text)[0]  # num_return_sequences: rows b * n + r
        prompt_mask = tf.repeat(features["attention_mask"], returned, axis=0)  # (rows, prompt_len)
        new_tokens = sequences[:, tokenizer.max_length:]
        mask = tf.concat([prompt_mask, tf.ones_like(new_tokens)], axis=1)
        return {"sequences": sequences, "text": detokenizer.decode(sequences, mask=mask),
                "generated_text": detokenizer.decode(new_tokens)}

    return generate_text


def text_signature_names(model, generation, text_pairs=False, detokenize=True):
    """The names of the text signatures `export_saved_model(model, tokenizer=..., generation=...,
    text_pairs=...)` adds (`detokenize`: the tokenizer's decoder runs in-graph)."""
    pairs = text_pairs
    names = ["tokenize"] + (["tokenize_pair"] if pairs else []) + (["detokenize"] if detokenize else [])
    names += ["generate_text"] if generation else []
    if all(name in _TOKENIZER_OUTPUTS for name in serving_input_names(model)):
        names += ["serve_text"] + (["serve_text_pair"] if pairs else [])
        task = task_signature(model)
        if task is not None:
            names += [f"{task[0]}_text"] + ([f"{task[0]}_text_pair"] if pairs else [])
    return names


def _in_graph_detokenizer(tokenizer):
    """The in-graph tokenizer's decoder: Marian's own (`MarianInGraphDetokenizer`), else an
    `InGraphDetokenizer` from its `tokenizer.json`, or None (logged) when that cannot run in-graph."""
    from tfmodels.export.detokenizer import InGraphDetokenizer

    if getattr(tokenizer, "detokenizer", None) is not None:
        return tokenizer.detokenizer
    try:
        return InGraphDetokenizer(tokenizer)
    except ValueError as error:
        logger.warning("No detokenize signature, and generate_text returns no text: %s", error)
        return None


def _max_positions(model):
    config = getattr(model, "backbone", model).config
    return config.get("max_position_embeddings")


def build_signatures(model, output_names=None, tokenizer=None, max_length=None, task_signatures=True,
                     generation=None, serving_postprocess=None, image_processor=None, text_pairs=False):
    """The SavedModel signatures for `model` (see `export_saved_model`).

    Returns:
        `(signatures, modules)`: the signatures, and the in-graph tokenizer /
        image processor (`{"tokenizer": ..., "image_processor": ...}`, those given)
        to track in the SavedModel.
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
    modules = {}
    if tokenizer is not None:
        in_graph = _in_graph_tokenizer(tokenizer, max_length)
        limit = _max_positions(model)
        if limit is not None and in_graph.max_length > limit:
            raise ValueError(f"The tokenizer pads to max_length={in_graph.max_length}, more than the model's "
                             f"max_position_embeddings={limit}. Pass max_length=<= {limit}.")
        modules["tokenizer"] = in_graph
        signatures["tokenize"] = in_graph.__call__
        pairs = bool(text_pairs)
        if pairs:
            in_graph.check_pairs()
            signatures["tokenize_pair"] = tf.function(in_graph.encode_pair, input_signature=[_TEXT, _TEXT_PAIR])
        detokenizer = _in_graph_detokenizer(in_graph)
        if detokenizer is not None:
            modules["detokenizer"] = detokenizer
            signatures["detokenize"] = detokenizer.__call__
        missing = [name for name in serving_input_names(model) if name not in _TOKENIZER_OUTPUTS]
        if generation is not None:
            if in_graph.max_length > generation["prompt_length"]:
                raise ValueError(f"The tokenizer pads to max_length={in_graph.max_length}, longer than the generation "
                                 f"prompt_length={generation['prompt_length']}. Pass max_length=<= "
                                 f"{generation['prompt_length']}.")
            signatures["generate_text"] = make_text_generation_function(model, in_graph, signatures["generate"],
                                                                        detokenizer)
        elif missing:
            raise ValueError(f"Text signatures need every serving input from the tokenizer; {type(model).__name__} "
                             f"also takes {missing}. Pass generation={{...}} for a `generate_text` signature, or "
                             "export without tokenizer=.")
        if not missing:
            for suffix, pair in (("text", False), ("text_pair", True))[:2 if pairs else 1]:
                signatures[f"serve_{suffix}"] = make_text_serving_function(model, in_graph, output_names, pairs=pair)
                if task is not None:
                    signatures[f"{task[0]}_{suffix}"] = make_text_serving_function(model, in_graph, postprocess=task[1],
                                                                                   pairs=pair)
    if image_processor is not None:
        processor = _in_graph_image_processor(model, image_processor)
        modules["image_processor"] = processor
        image_spec = image_input_specs(model, processor)[0]
        signatures["preprocess_images"] = tf.function(lambda images: {"pixel_values": processor(images)},
                                                      input_signature=[image_spec])
        for suffix, image_bytes in (("images", False), ("image_bytes", True)):
            signatures[f"serve_{suffix}"] = make_image_serving_function(model, processor, image_bytes, output_names)
            if task is not None:
                signatures[f"{task[0]}_{suffix}"] = make_image_serving_function(model, processor, image_bytes,
                                                                                postprocess=task[1])
    return signatures, modules


def export_saved_model(model, directory, output_names=None, overwrite=False, tokenizer=None, max_length=None,
                       task_signatures=True, generation=None, serving_postprocess=None, image_processor=None,
                       text_pairs=False):
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
      `max_length`), `<task>_text`, `tokenize` (the token ids the model
      sees) and `detokenize` (int32 `input_ids (batch, seq_len)` to
      `text (batch,)`, as `tokenizer.decode(ids, skip_special_tokens=True)`;
      see `tfmodels.export.detokenizer`); with `generation` too,
      `generate_text` (`sequences` from raw prompts or sources, and their
      decoded `text`, for a causal LM also the continuation alone,
      `generated_text`; `max_length <= prompt_length`). With `text_pairs`
      too, the sentence-pair signatures over string `text (batch,)` and
      `text_pair (batch,)`: `tokenize_pair`, `serve_text_pair`,
      `<task>_text_pair` (the pair template of the tokenizer's
      post-processor, `longest_first` truncation, as `tokenizer(text,
      text_pair, truncation=True, max_length=max_length)`). An encoder-decoder
      (T5, BART, ...) gets `generate_text` but no `serve_text` (its serving
      inputs include `decoder_input_ids`). Tokenizers that run in-graph:
      WordPiece (BERT family), byte-level BPE (GPT-2, RoBERTa, BART, ...),
      Unigram (T5, ALBERT, XLNet, XLM-R, CamemBERT, mBART, Pegasus, ...);
      see `tfmodels.export.tokenizer`; and Marian's (`source.spm` +
      `vocab.json`, `tfmodels.export.marian_tokenizer`; ids and text as
      `MarianTokenizer`). Loading such a SavedModel needs the
      TF Text ops: `import tensorflow_text` first;
    - with `image_processor`: `serve_images` (the `serving_default` outputs
      from uint8 `images (batch, height, width, 3)`, one size per call,
      preprocessed in-graph as the checkpoint's `preprocessor_config.json`
      says), `serve_image_bytes` (from string `image_bytes (batch,)`, encoded
      JPEG/PNG/GIF/BMP files of any sizes), `<task>_images`,
      `<task>_image_bytes`, and `preprocess_images` (the `pixel_values` the
      model sees). The model's other serving inputs (CLIP's `input_ids`,
      `attention_mask`) stay inputs of these signatures. Plain TensorFlow
      ops: loading needs no extra library. See
      `tfmodels.processors.image_graph` (the pixels equal Pillow's).

    Args:
        model: a tfmodels model (built or not).
        directory: output directory.
        output_names: outputs to export; default `model.serving_outputs`.
        overwrite: replace an existing non-empty `directory`.
        tokenizer: optional Hugging Face tokenizer (`tokenizers.Tokenizer`,
            fast tokenizer, `tokenizer.json` path or directory; a
            `MarianTokenizer` or a Marian checkpoint directory) or an
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
        image_processor: optional `tfmodels.processors.ImageProcessor`, a
            `preprocessor_config.json` dict, a checkpoint directory holding one,
            or an `InGraphImageProcessor`, for the image signatures; its output
            size must be fixed and equal to the model's image size.
        text_pairs: with `tokenizer`, add the sentence-pair signatures
            (cross-encoders, NLI, question/passage classifiers).

    Returns:
        `pathlib.Path` of the SavedModel directory.

    Raises:
        FileExistsError: `directory` exists, is not empty and `overwrite` is False.
        ValueError: a tokenizer that cannot run in-graph (`InGraphTokenizer`),
            or, with `text_pairs`, cannot tokenize pairs (`check_pairs`),
            a tokenizer `max_length` above the model's positions or the
            generation `prompt_length`, or a `tokenizer` for a model whose
            serving inputs it does not produce, without `generation`.
            Also an image processor whose output is not the model's image
            size, or a model without `pixel_values`.
    """
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()) and not overwrite:
        raise FileExistsError(f"{directory} exists and is not empty; pass overwrite=True "
                              "(`tfmodels export --overwrite`) to replace it.")
    signatures, modules = build_signatures(model, output_names, tokenizer, max_length, task_signatures, generation,
                                           serving_postprocess, image_processor, text_pairs)
    module = tf.Module()
    module.model = model
    module.serve = signatures["serving_default"]
    for name, tracked in modules.items():
        setattr(module, name, tracked)
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
