"""What every encoder-decoder architecture shares (T5, BART, mBART, Marian, Pegasus).

- `shift_tokens_right`: decoder inputs from labels, as Hugging Face derives
  them when only `labels` are given; `decoder_input_ids_from` picks them;
- `decoder_masks`, `run_decoder_layers`, `decoder_outputs`: the decoder stack
  (self-attention with an optional KV cache, cross-attention, outputs) on
  the one block stack and cache mask (`tfmodels.layers.block_stack`,
  `tfmodels.layers.kv_cache`);
- `encode_decode`: both stacks of a model with `encode()` / `decode()`;
- `init_decoder_cache`, `project_cross_key_values`: the generation caches
  (`BackboneGenerationMixin`: the interface methods of heads over a backbone);
- `CROSS_ATTENTION_INPUTS`, `cross_attention_kwargs`: the encoder inputs of a
  decoder-only or encoder backbone built with cross-attention
  (`add_cross_attention=True`: BERT & co, GPT-2), as block-stack arguments;
- `seq2seq_lm_loss`: the LM loss on the decoder logits (no shift: the
  decoder inputs are already the shifted labels), through
  `tfmodels.layers.losses`;
- `seq2seq_outputs`: the Hugging Face names of an encoder-decoder's outputs;
- `Seq2SeqLMMixin`: the LM heads' labels, loss, serving inputs and the
  train/test steps that derive the decoder inputs from `labels` given as `y`.
"""

import keras
from keras import ops

from tfmodels.layers.block_stack import run_block_stack
from tfmodels.layers.kv_cache import cache_span, causal_attention_mask, init_kv_cache
from tfmodels.layers.losses import masked_sparse_categorical_crossentropy
from tfmodels.layers.masks import padding_mask


def shift_tokens_right(labels, pad_token_id, decoder_start_token_id):
    """Decoder inputs for teacher forcing: `[start, labels[:-1]]`, `-100` replaced by `pad_token_id`.

    Args:
        labels: int tensor `(batch, target_len)`; `-100` marks ignored tokens.
        pad_token_id: int, written where the shifted labels hold `-100`.
        decoder_start_token_id: int, the first decoder input of every row.

    Returns:
        int32 tensor `(batch, target_len)`.

    Raises:
        ValueError: if `pad_token_id` or `decoder_start_token_id` is `None`.

    References:
        `transformers.models.t5.modeling_t5.T5PreTrainedModel._shift_right`.
    """
    if decoder_start_token_id is None:
        raise ValueError("decoder_start_token_id must be set in the config to derive decoder inputs from labels.")
    if pad_token_id is None:
        raise ValueError("pad_token_id must be set in the config to derive decoder inputs from labels.")
    labels = ops.cast(labels, "int32")
    start = ops.full((ops.shape(labels)[0], 1), decoder_start_token_id, dtype="int32")
    shifted = ops.concatenate([start, labels[:, :-1]], axis=1)  # (batch, target_len)
    return ops.where(ops.equal(shifted, -100), ops.cast(pad_token_id, "int32"), shifted)


def shift_tokens_right_wrapping(labels, pad_token_id):
    """mBART's decoder inputs: `[last non-pad token, labels[:-1]]`, `-100` replaced by `pad_token_id`.

    mBART has no single start token: each row starts with its own last
    non-pad token (the target language id). As the reference, the last
    non-pad token is taken at index `count(non-pad) - 1` (right padding).

    Args:
        labels: int tensor `(batch, target_len)`; `-100` marks ignored tokens.
        pad_token_id: int.

    Returns:
        int32 tensor `(batch, target_len)`.

    Raises:
        ValueError: if `pad_token_id` is `None`.

    References:
        `transformers.models.mbart.modeling_mbart.shift_tokens_right`.
    """
    if pad_token_id is None:
        raise ValueError("pad_token_id must be set in the config to derive decoder inputs from labels.")
    labels = ops.cast(labels, "int32")
    labels = ops.where(ops.equal(labels, -100), ops.cast(pad_token_id, "int32"), labels)
    last = ops.sum(ops.cast(ops.not_equal(labels, pad_token_id), "int32"), axis=1) - 1  # (batch,)
    start = ops.take_along_axis(labels, ops.expand_dims(last, 1), axis=1)  # (batch, 1)
    return ops.concatenate([start, labels[:, :-1]], axis=1)


def seq2seq_lm_loss(labels, logits, sample_weight=None):
    """Mean cross-entropy of `logits (batch, target_len, vocab)` against `labels (batch, target_len)`, -100 ignored.

    `sample_weight` `(batch,)` weighs every token of an example, `(batch, target_len)` each token
    (the rule of `tfmodels.layers.losses.weighted_mean`)."""
    return masked_sparse_categorical_crossentropy(labels, logits, sample_weight=sample_weight)


# The int32 `(batch, target_len)` decoder inputs an encoder-decoder's `serving_default` takes beside its
# encoder inputs (`tfmodels.export.saved_model.serving_extra_inputs`).
SEQ2SEQ_SERVING_INPUTS = {"decoder_input_ids": (), "decoder_attention_mask": ()}


class Seq2SeqLMMixin:
    """Training and serving hooks of the encoder-decoder LM heads (`T5ForConditionalGeneration`, the BART family).

    - `compile()` without a loss trains on `seq2seq_lm_loss` of `labels` `(batch, target_len)` (`-100`
      ignored), given inside the input dict or as `y` (a dict with `labels`, or the array itself);
    - the decoder inputs are `labels` shifted right (`prepare_decoder_input_ids_from_labels`: the
      start token first, `-100` -> `pad_token_id`) unless the batch has `decoder_input_ids`. Keras
      calls the model on `x` only, so with the labels in `y` the train and test steps put the shifted
      labels into `x` first (inside the compiled step: it stays one XLA program with
      `jit_compile=True`);
    - `serving_default` (`tfmodels.export_saved_model`) takes `decoder_input_ids`,
      `decoder_attention_mask` beside `input_ids`, `attention_mask`, and returns `logits`.

    The model has `config` with `pad_token_id` and `decoder_start_token_id` (a head model: on its
    `backbone`, whose `shift_right` wins when it has one, as mBART's).
    """

    label_names = ("labels",)
    serving_outputs = ("logits",)
    serving_extra_inputs = SEQ2SEQ_SERVING_INPUTS

    def prepare_decoder_input_ids_from_labels(self, labels):
        """Decoder inputs for teacher forcing from `labels` `(batch, target_len)` -> int32 `(batch, target_len)`.

        Raises:
            ValueError: the config has no `pad_token_id` or `decoder_start_token_id`.

        References: `transformers` `*ForConditionalGeneration.prepare_decoder_input_ids_from_labels`.
        """
        return decoder_input_ids_from(getattr(self, "backbone", self), {"labels": labels})

    def task_loss(self, labels, outputs, sample_weight=None):
        return seq2seq_lm_loss(labels["labels"], outputs["logits"], sample_weight)

    def _with_decoder_inputs(self, data):
        """`data` with `x["decoder_input_ids"]` from the labels in `y`, when `x` is a dict holding neither."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if not isinstance(x, dict) or x.get("decoder_input_ids") is not None or x.get("labels") is not None:
            return data
        labels = y.get("labels") if isinstance(y, dict) else y
        if labels is None:
            return data
        x = {**x, "decoder_input_ids": self.prepare_decoder_input_ids_from_labels(labels)}
        return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)

    def train_step(self, data):
        return super().train_step(self._with_decoder_inputs(data))

    def test_step(self, data):
        return super().test_step(self._with_decoder_inputs(data))


def seq2seq_outputs(encoder_outputs, decoder_outputs):
    """Merges encoder and decoder output dicts under the Hugging Face seq2seq names.

    Args:
        encoder_outputs: dict with `last_hidden_state` and optional
            `hidden_states` / `attentions`.
        decoder_outputs: dict with `last_hidden_state` and optional
            `hidden_states` / `attentions` / `cross_attentions`.

    Returns:
        dict with `last_hidden_state` (the decoder's),
        `encoder_last_hidden_state` and, when present, `decoder_hidden_states`,
        `decoder_attentions`, `cross_attentions`, `encoder_hidden_states`,
        `encoder_attentions`, `encoder_global_attentions`.
    """
    outputs = {"last_hidden_state": decoder_outputs["last_hidden_state"]}
    for key in ("hidden_states", "attentions"):
        if key in decoder_outputs:
            outputs[f"decoder_{key}"] = decoder_outputs[key]
    if "cross_attentions" in decoder_outputs:
        outputs["cross_attentions"] = decoder_outputs["cross_attentions"]
    outputs["encoder_last_hidden_state"] = encoder_outputs["last_hidden_state"]
    for key in ("hidden_states", "attentions", "global_attentions"):  # global: LED's Longformer encoder
        if key in encoder_outputs:
            outputs[f"encoder_{key}"] = encoder_outputs[key]
    return outputs



def decoder_input_ids_from(model, inputs, from_input_ids=False, from_labels=True):
    """The decoder inputs of a call: given, else `labels` shifted right, else (BART) `input_ids` shifted right.

    Args:
        model: the model (its `config` has `pad_token_id`, `decoder_start_token_id`); a
            `shift_right(ids)` method of the model, when it has one, does the shifting (mBART).
        inputs: the prepared input dict.
        from_input_ids: bool, fall back to shifting `input_ids` (as `BartModel` does).
        from_labels: bool, shift `labels` when given (FSMT's reference shifts `input_ids` even then).

    Returns:
        int tensor `(B, T)`.

    Raises:
        ValueError: with neither `decoder_input_ids` nor `labels` (and no fallback).
    """
    if inputs.get("decoder_input_ids") is not None:
        return inputs["decoder_input_ids"]
    source = inputs.get("labels") if from_labels else None
    if source is None and from_input_ids:
        source = inputs["input_ids"]
    if source is None:
        raise ValueError(
            f"{type(model).__name__} needs `decoder_input_ids` (or `labels`, from which they are "
            f"shifted). Received inputs: {sorted(inputs)}."
        )
    if hasattr(model, "shift_right"):
        return model.shift_right(source)
    return shift_tokens_right(source, model.config["pad_token_id"], model.config["decoder_start_token_id"])


def decoder_masks(decoder_input_ids, attention_mask=None, decoder_attention_mask=None, cache=None,
                  cache_update_index=None):
    """Masks of a decoder pass: causal + decoder padding for self-attention, encoder padding for cross-attention.

    Args:
        decoder_input_ids: int tensor `(B, T)`.
        attention_mask: optional `(B, S)` encoder padding mask.
        decoder_attention_mask: optional `(B, T)` (with a cache `(B, max_length)`) decoder padding mask.
        cache: optional first-layer cache `(B, 2, N, max_length, H)`; sets the key length.
        cache_update_index: position of the first query when `cache` is given.

    Returns:
        `(self_mask (B | 1, 1, T, key_len), cross_mask (B, 1, 1, S) or None, offset, key_len)`.
    """
    query_len = ops.shape(decoder_input_ids)[1]
    offset, key_len = cache_span(query_len, cache, cache_update_index)
    self_mask = causal_attention_mask(query_len, decoder_attention_mask, cache, cache_update_index)
    cross_mask = padding_mask(attention_mask) if attention_mask is not None else None
    return self_mask, cross_mask, offset, key_len


# Call inputs of backbones that can carry cross-attention (`add_cross_attention=True`).
CROSS_ATTENTION_INPUTS = ("encoder_hidden_states", "encoder_attention_mask")


def cross_attention_kwargs(model, encoder_hidden_states=None, encoder_attention_mask=None, cross_key_values=None):
    """The block-stack arguments of a cross-attention decoder pass.

    Args:
        model: the backbone; its `has_cross_attention` says whether its blocks are
            `TransformerDecoderBlock`s.
        encoder_hidden_states: optional float tensor `(B, S, D)`.
        encoder_attention_mask: optional 0/1 tensor `(B, S)`, 0 on encoder padding.
        cross_key_values: optional tuple of per-layer `(B, 2, S, N, H)` keys/values
            (`project_cross_key_values`), used instead of `encoder_hidden_states`.

    Returns:
        `(call_kwargs, layer_kwargs)`: a dict for every block (`encoder_hidden_states`,
        `cross_attention_mask`) and `fn(step) -> {"cross_key_value": ...}` or `None`;
        `({}, None)` without encoder inputs (the cross-attention sub-blocks are skipped,
        as in the reference).

    Raises:
        ValueError: encoder inputs for a model built without cross-attention.
    """
    if encoder_hidden_states is None and cross_key_values is None:
        return {}, None
    if not model.has_cross_attention:
        raise ValueError(
            f"{type(model).__name__} got `encoder_hidden_states` but has no cross-attention layers. Build it "
            "with add_cross_attention=True (and is_decoder=True) in its config, e.g. "
            "EncoderDecoderModel.from_encoder_decoder_pretrained(encoder_path, decoder_path)."
        )
    mask = None if encoder_attention_mask is None else padding_mask(encoder_attention_mask)
    call_kwargs = {"encoder_hidden_states": encoder_hidden_states, "cross_attention_mask": mask}
    layer_kwargs = None if cross_key_values is None else (lambda step: {"cross_key_value": cross_key_values[step]})
    return call_kwargs, layer_kwargs


def run_decoder_layers(blocks, y, encoder_hidden_states=None, self_mask=None, cross_mask=None, attention_bias=None,
                       cache=None, cache_update_index=None, cross_key_values=None, output_attentions=False,
                       training=None):
    """Runs `TransformerDecoderBlock`s in order: `tfmodels.layers.block_stack.run_block_stack` with
    the encoder states and masks shared by every block and each layer's cross key/values.

    Args:
        blocks: the decoder blocks.
        y: float tensor `(B, T, D)`, the embedded decoder inputs.
        encoder_hidden_states: float tensor `(B, S, D)` or `None` (with
            `cross_key_values`, or a decoder without encoder: cross-attention skipped).
        self_mask, cross_mask: from `decoder_masks`.
        attention_bias: optional self-attention bias shared by every block (T5).
        cache: optional tuple of per-layer caches `(B, 2, N, max_length, H)`.
        cache_update_index: where the new keys/values are written.
        cross_key_values: optional tuple of per-layer `(B, 2, S, N, H)` (`project_cross_key_values`).
        output_attentions: bool, also collect the probabilities.
        training: bool, enables dropout.

    Returns:
        `(y, hidden_states, attentions, cross_attentions, caches)`: the last
        output `(B, T, D)`, the lists of the input and every block's output,
        of self-attention `(B, N, T, key_len)` and cross-attention
        `(B, N, T, S)` probabilities, of the updated caches (empty without a cache).
    """
    stack = run_block_stack(
        blocks, y,
        call_kwargs=dict(encoder_hidden_states=encoder_hidden_states, attention_mask=self_mask,
                         attention_bias=attention_bias, cross_attention_mask=cross_mask),
        layer_kwargs=None if cross_key_values is None else (lambda step: {"cross_key_value": cross_key_values[step]}),
        caches=cache, cache_update_index=cache_update_index, output_attentions=output_attentions, training=training,
    )
    return stack.x, stack.hidden_states, stack.attentions, stack.cross_attentions, list(stack.caches or ())


def decoder_outputs(y, hidden_states, attentions, cross_attentions, caches, output_attentions=False,
                    output_hidden_states=False):
    """The output dict of a decoder stack (`last_hidden_state`, `past_key_values`, states and probabilities)."""
    outputs = {"last_hidden_state": y}
    if caches:
        outputs["past_key_values"] = tuple(caches)
    if output_hidden_states:
        outputs["hidden_states"] = tuple(hidden_states)
    if output_attentions:
        outputs["attentions"] = tuple(attentions)
        if cross_attentions:
            outputs["cross_attentions"] = tuple(cross_attentions)
    return outputs


def encode_decode(model, inputs, decoder_input_ids, training=None, output_attentions=False,
                  output_hidden_states=False):
    """Runs `model.encode` then `model.decode` (teacher forcing); returns `seq2seq_outputs`.

    A precomputed `inputs["encoder_outputs"]` `(B, S, D)` (see `encoder_hidden_state`) replaces the encoder pass.
    Inputs named in `model.encoder_input_names` (LED: `global_attention_mask`) go to `encode` by name. The
    encoder reads `inputs[model.main_input_name]` (`input_ids`; speech: `input_features`), and the decoder's
    cross-attention `encoder_attention_mask(model, attention_mask, encoder_hidden_states)`.
    """
    flags = dict(training=training, output_attentions=output_attentions, output_hidden_states=output_hidden_states)
    if inputs.get("encoder_outputs") is not None:  # precomputed: the encoder does not run
        encoder_outputs = {"last_hidden_state": inputs["encoder_outputs"]}
    else:
        extra = {k: inputs[k] for k in getattr(model, "encoder_input_names", ()) if inputs.get(k) is not None}
        encoder_outputs = model.encode(inputs[model.main_input_name], inputs.get("attention_mask"), **extra, **flags)
    hidden = encoder_outputs["last_hidden_state"]
    outputs = model.decode(
        decoder_input_ids, hidden, attention_mask=encoder_attention_mask(model, inputs.get("attention_mask"), hidden),
        decoder_attention_mask=inputs.get("decoder_attention_mask"), **flags,
    )
    return seq2seq_outputs(encoder_outputs, outputs)


def encoder_attention_mask(model, attention_mask, encoder_hidden_states):
    """The source mask `(B, S_enc)` of the decoder's cross-attention, from the input `attention_mask`.

    The input mask itself, unless the model's encoder shortens its input: then the model's
    `feature_vector_attention_mask(attention_mask, S_enc)` (Speech2Text's subsampled frames; a head
    model asks its backbone). `None` stays `None`.
    """
    if attention_mask is None:
        return None
    reduce = getattr(getattr(model, "backbone", model), "feature_vector_attention_mask", None)
    if reduce is None:
        return attention_mask
    return reduce(attention_mask, ops.shape(encoder_hidden_states)[1])


def init_decoder_cache(blocks, batch_size, max_length, dtype):
    """Zero self-attention caches, one `(B, 2, N, max_length, H)` tensor per (built) decoder block
    (`tfmodels.layers.kv_cache.init_kv_cache` with the blocks' attention sizes)."""
    attention = blocks[0].self_attention
    return init_kv_cache(batch_size, max_length, attention.num_heads, attention.key_dim, len(blocks), dtype)


def project_cross_key_values(blocks, encoder_hidden_states):
    """Every decoder block's cross-attention keys/values `(B, 2, S, N, H)`, projected once per `generate()`."""
    return tuple(block.cross_attention.project_key_value(encoder_hidden_states) for block in blocks)


class BackboneGenerationMixin:
    """`encode`, `init_cache` and `cross_key_values` of the encoder-decoder generation interface
    (`tfmodels.generation.seq2seq`) for LM heads whose `backbone` has `encode()` and `decoder_blocks`
    (the BART family, ProphetNet); the head adds its own `decode_step`."""

    def encode(self, input_ids, attention_mask=None, **kwargs):
        return self.backbone.encode(input_ids, attention_mask, **kwargs)

    def init_cache(self, batch_size, max_length):
        return init_decoder_cache(self.backbone.decoder_blocks, batch_size, max_length, self.compute_dtype)

    def cross_key_values(self, encoder_hidden_states):
        return project_cross_key_values(self.backbone.decoder_blocks, encoder_hidden_states)

    def _encoder_attention_mask(self, attention_mask, encoder_hidden_states):
        return encoder_attention_mask(self, attention_mask, encoder_hidden_states)


def encoder_hidden_state(encoder_outputs):
    """The precomputed encoder output of an `encoder_outputs` input, as `transformers` accepts it.

    Args:
        encoder_outputs: a float tensor/array `(batch, source_len, d_model)`, a tuple or list whose first
            item is one (`encoder_outputs=(hidden,)`), or a mapping with `last_hidden_state`
            (`BaseModelOutput`, our encoder's output dict).

    Returns:
        float tensor `(batch, source_len, d_model)`.

    Raises:
        ValueError: for an empty tuple, a mapping without `last_hidden_state`, or another rank.
    """
    if hasattr(encoder_outputs, "keys"):
        if "last_hidden_state" not in encoder_outputs:
            raise ValueError("encoder_outputs given as a mapping needs `last_hidden_state`. "
                             f"Received keys: {sorted(encoder_outputs.keys())}.")
        encoder_outputs = encoder_outputs["last_hidden_state"]
    elif isinstance(encoder_outputs, (tuple, list)):
        if not encoder_outputs:
            raise ValueError("encoder_outputs is an empty tuple; pass (last_hidden_state,).")
        encoder_outputs = encoder_outputs[0]
    hidden = ops.convert_to_tensor(encoder_outputs)
    if len(hidden.shape) != 3:
        raise ValueError("encoder_outputs must be (batch, source_len, d_model). "
                         f"Received shape {tuple(hidden.shape)}.")
    return hidden
