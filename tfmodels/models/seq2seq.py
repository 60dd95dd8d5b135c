"""What every encoder-decoder architecture shares (T5 now; BART, Marian, Pegasus next).

- `shift_tokens_right`: decoder inputs from labels, as Hugging Face derives
  them when only `labels` are given;
- `seq2seq_lm_loss`: the LM loss on the decoder logits (no shift: the
  decoder inputs are already the shifted labels), through
  `tfmodels.layers.losses`;
- `seq2seq_outputs`: the Hugging Face names of an encoder-decoder's outputs.
"""

from keras import ops

from tfmodels.layers.losses import masked_sparse_categorical_crossentropy


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


def seq2seq_lm_loss(labels, logits, sample_weight=None):
    """Mean cross-entropy of `logits (batch, target_len, vocab)` against `labels (batch, target_len)`, -100 ignored.

    `sample_weight` `(batch,)` weighs every token of an example, `(batch, target_len)` each token
    (the rule of `tfmodels.layers.losses.weighted_mean`)."""
    return masked_sparse_categorical_crossentropy(labels, logits, sample_weight=sample_weight)


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
        `encoder_attentions`.
    """
    outputs = {"last_hidden_state": decoder_outputs["last_hidden_state"]}
    for key in ("hidden_states", "attentions"):
        if key in decoder_outputs:
            outputs[f"decoder_{key}"] = decoder_outputs[key]
    if "cross_attentions" in decoder_outputs:
        outputs["cross_attentions"] = decoder_outputs["cross_attentions"]
    outputs["encoder_last_hidden_state"] = encoder_outputs["last_hidden_state"]
    for key in ("hidden_states", "attentions"):
        if key in encoder_outputs:
            outputs[f"encoder_{key}"] = encoder_outputs[key]
    return outputs


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
