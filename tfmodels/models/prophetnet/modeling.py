"""ProphetNet's stacks: the encoder, the n-gram decoder, and the encoder-decoder.

Encoder: token embeddings (`word_embeddings`, shared with the decoder) plus
learned positions, a layer norm, then post-norm `TransformerEncoderBlock`s.
Decoder: the main stream (token + position embeddings) and `ngram` predict
streams (n-gram embedding + the next position's embedding, no token), all
normalised by one layer norm and run, concatenated `(B, (1 + G) * T, D)`,
through `NgramDecoderBlock`s (n-gram self-attention, cross-attention over the
encoder output, feed-forward, post-norm). Positions count from
`pad_token_id + 1` and do not depend on padding, as in the reference; a
cached step at index `t` is position `pad_token_id + 1 + t`. As the
reference, predict stream `g` adds n-gram embedding row `(g - 1) mod G`, and
the encoder and cross-attention "attentions" are the masked pre-softmax
scores (masked entries at the float32 minimum), the n-gram self-attention's
the probabilities; the predict streams' relative-position values are read
through the reference's layout (see `NgramSelfAttention._relative_bias`:
with more than one target token, a query reads another position's values,
as in `transformers`; a cached step, one token, reads its own).

Masks are boolean. A main-stream row whose keys are all masked (a left-padding
row of the decoder) weighs its once-masked keys uniformly, as the
reference's summed additive `finfo.min` masks do (`once_masked_keys`).

Size glossary: B batch, S source length, T target length, G `ngram`,
D `hidden_size`, N heads, V `vocab_size`.

References:
    Qi et al., "ProphetNet: Predicting Future N-gram for Sequence-to-Sequence
    Pre-training", Findings of EMNLP 2020. Parity references:
    `transformers.ProphetNetModel`, `ProphetNetEncoder`, `ProphetNetDecoder` (PyTorch).
"""

import keras
import numpy as np
from keras import ops

from tfmodels.layers.attention.ngram_attention import ngram_relative_buckets, ngram_stream_masks, once_masked_keys
from tfmodels.layers.block_stack import run_block_stack
from tfmodels.layers.embeddings import WordEmbedding
from tfmodels.layers.kv_cache import check_sequence_length
from tfmodels.layers.masks import padding_mask
from tfmodels.layers.ngram_decoder_block import NgramDecoderBlock
from tfmodels.layers.normalization import LayerNormalization
from tfmodels.layers.position.absolute import PositionEmbedding
from tfmodels.layers.transformer_block import TransformerEncoderBlock
from tfmodels.layers.utils import hf_initializer
from tfmodels.models.base import PreTrainedModel, run_encoder_layers, stack_outputs
from tfmodels.models.seq2seq import decoder_input_ids_from

LAYER_NORM_EPS = 1e-5  # torch.nn.LayerNorm's default


class ProphetNetPreTrainedModel(PreTrainedModel):
    """The ProphetNet stacks from the `ProphetNetConfig` fields (`has_encoder` / `has_decoder` pick them).

    Constructor arguments are the fields of a Hugging Face ProphetNet
    `config.json`; other fields (`is_decoder`, `use_cache`, ...) are kept in
    `extra_config`.

    Raises:
        ValueError: `hidden_size` not divisible by a stack's head count, or
            `max_position_embeddings <= pad_token_id + 1`.
    """

    model_type = "prophetnet"
    has_encoder = True
    has_decoder = True
    input_names = ("input_ids", "attention_mask", "decoder_input_ids", "decoder_attention_mask")

    def __init__(
        self,
        vocab_size=30522,
        hidden_size=1024,
        encoder_ffn_dim=4096,
        num_encoder_layers=12,
        num_encoder_attention_heads=16,
        decoder_ffn_dim=4096,
        num_decoder_layers=12,
        num_decoder_attention_heads=16,
        activation_function="gelu",
        activation_dropout=0.1,
        attention_dropout=0.1,
        dropout=0.1,
        max_position_embeddings=512,
        init_std=0.02,
        add_cross_attention=True,
        ngram=2,
        num_buckets=32,
        relative_max_distance=128,
        disable_ngram_loss=False,
        eps=0.0,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._record_config(locals())
        for stack, heads in (("encoder", num_encoder_attention_heads), ("decoder", num_decoder_attention_heads)):
            if hidden_size % heads:
                raise ValueError(f"hidden_size must be divisible by num_{stack}_attention_heads. "
                                 f"Received: hidden_size={hidden_size}, num_{stack}_attention_heads={heads}")
        if max_position_embeddings <= pad_token_id + 1:
            raise ValueError("ProphetNet positions start at pad_token_id + 1: max_position_embeddings must exceed it. "
                             f"Received: max_position_embeddings={max_position_embeddings}, pad_token_id={pad_token_id}")
        init = hf_initializer(init_std)
        self.word_embeddings = WordEmbedding(vocab_size, hidden_size, embeddings_initializer=init,
                                             dtype=self.dtype_policy, name="word_embeddings")
        self.dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy)
        block = dict(intermediate_size=None, hidden_act=activation_function, hidden_dropout=dropout,
                     attention_dropout=attention_dropout, layer_norm_eps=LAYER_NORM_EPS, normalize_first=False,
                     kernel_initializer=init, feed_forward_kwargs={"dropout": activation_dropout},
                     dtype=self.dtype_policy)
        if self.has_encoder:
            self.encoder_position_embeddings = self._positions("encoder_position_embeddings")
            self.encoder_embeddings_layer_norm = self._norm("encoder_embeddings_layer_norm")
            self.encoder_blocks = [
                TransformerEncoderBlock(**{**block, "intermediate_size": encoder_ffn_dim},
                                        num_heads=num_encoder_attention_heads,
                                        attention_kwargs={"return_logits": True}, name=f"encoder_block_{i}")
                for i in range(num_encoder_layers)]
        if self.has_decoder:
            self.decoder_position_embeddings = self._positions("decoder_position_embeddings")
            self.ngram_embeddings = keras.layers.Embedding(ngram, hidden_size, embeddings_initializer=init,
                                                           dtype=self.dtype_policy, name="ngram_embeddings")
            self.ngram_embeddings.build((None,))  # its table is read directly, never called
            self.decoder_embeddings_layer_norm = self._norm("decoder_embeddings_layer_norm")
            self.decoder_blocks = [
                NgramDecoderBlock(**{**block, "intermediate_size": decoder_ffn_dim},
                                  num_heads=num_decoder_attention_heads, add_cross_attention=add_cross_attention,
                                  attention_kwargs=dict(ngram=ngram, num_buckets=num_buckets,
                                                        relative_max_distance=relative_max_distance),
                                  cross_attention_kwargs={"return_logits": True}, name=f"decoder_block_{i}")
                for i in range(num_decoder_layers)]

    def _positions(self, name):
        config = self.config
        offset = config["pad_token_id"] + 1  # position t reads row pad_token_id + 1 + t
        return PositionEmbedding(config["max_position_embeddings"] - offset, config["hidden_size"], offset=offset,
                                 embeddings_initializer=hf_initializer(config["init_std"]), dtype=self.dtype_policy,
                                 name=name)

    def _norm(self, name):
        return LayerNormalization(epsilon=LAYER_NORM_EPS, dtype=self.dtype_policy, name=name)

    def dummy_inputs(self, batch_size=1, seq_len=4):
        inputs = super().dummy_inputs(batch_size, seq_len)
        if self.has_encoder and self.has_decoder:
            inputs["decoder_input_ids"] = np.ones((batch_size, seq_len), dtype="int32")
        return inputs

    def _check_length(self, input_ids, used_after_last):
        check_sequence_length(input_ids, self.config["max_position_embeddings"], type(self).__name__,
                              self.config["pad_token_id"] + 1 + used_after_last)

    # -- the two stacks -----------------------------------------------------------

    def encode(self, input_ids, attention_mask=None, training=None, output_attentions=False,
               output_hidden_states=False):
        """Runs the encoder.

        Args:
            input_ids: int tensor `(B, S)`.
            attention_mask: optional int tensor `(B, S)`, 0 on padding.

        Returns:
            dict with `last_hidden_state` `(B, S, D)` and, when asked,
            `hidden_states` (`num_encoder_layers + 1` tensors `(B, S, D)`) and
            `attentions` (`num_encoder_layers` masked pre-softmax scores `(B, N, S, S)`).

        Raises:
            ValueError: a sequence longer than `max_position_embeddings - pad_token_id - 1`.
        """
        self._check_length(input_ids, 0)
        x = self.word_embeddings(input_ids)
        x = x + ops.cast(self.encoder_position_embeddings(x), x.dtype)  # (B, S, D)
        x = self.dropout(self.encoder_embeddings_layer_norm(x), training=training)
        mask = padding_mask(attention_mask) if attention_mask is not None else None  # (B, 1, 1, S)
        x, hidden_states, attentions = run_encoder_layers(self.encoder_blocks, x, output_attentions=output_attentions,
                                                          training=training, attention_mask=mask)
        return stack_outputs({"last_hidden_state": x}, output_hidden_states, output_attentions, hidden_states,
                             attentions)

    def _embed_streams(self, input_ids, start, training):
        """`(B, T)` ids -> `(B, (1 + G) * T, D)`: the main stream then the `G` predict streams."""
        ngram = self.config["ngram"]
        main = self.word_embeddings(input_ids)
        main = main + ops.cast(self.decoder_position_embeddings(main, start=start), main.dtype)  # (B, T, D)
        following = ops.cast(self.decoder_position_embeddings(main, start=start + 1), main.dtype)  # (1, T, D)
        rows = ops.take(ops.cast(self.ngram_embeddings.embeddings, main.dtype),
                        [(g - 1) % ngram for g in range(ngram)], axis=0)  # (G, D): the reference's `ngram - 1` index
        predict = rows[None, :, None, :] + following[:, None]  # (1, G, T, D)
        batch, length = ops.shape(main)[0], ops.shape(main)[1]
        predict = ops.reshape(ops.broadcast_to(predict, (batch, ngram, length, main.shape[-1])),
                              (batch, ngram * length, main.shape[-1]))
        x = self.decoder_embeddings_layer_norm(ops.concatenate([main, predict], axis=1))
        return self.dropout(x, training=training)

    def decode(self, decoder_input_ids, encoder_hidden_states=None, attention_mask=None,
               decoder_attention_mask=None, cache=None, cache_update_index=None, cross_key_values=None,
               training=None, output_attentions=False, output_hidden_states=False):
        """Runs the n-gram decoder over the whole target (teacher forcing) or one cached step.

        Args:
            decoder_input_ids: int tensor `(B, T)` (`T = 1` with a cache).
            encoder_hidden_states: float tensor `(B, S, D)` or `None` (with
                `cross_key_values`, or a decoder alone: no cross-attention).
            attention_mask: optional int tensor `(B, S)`, encoder padding.
            decoder_attention_mask: optional int tensor `(B, T)`, decoder padding: without a cache,
                or in the first pass of a cache (below). A later cached step takes none (the
                reference's attends every slot written so far).
            cache: optional tuple of per-layer main-stream caches `(B, 2, N, L, D / N)`.
            cache_update_index: int or scalar int tensor, the step's first slot. The Python int `0`
                is the reference's first pass (its cache is empty): the `T` tokens (a prompt) are
                run as a full pass (its masks, padding and relative buckets) and their main-stream
                keys/values written to slots `0..T-1`; later steps take one token
                (`T = 1`) at a traced or int index and use the reference's cached formulas.
            cross_key_values: optional tuple of per-layer `(B, 2, S, N, D / N)`.

        Returns:
            dict with `last_hidden_state` `(B, T, D)` (main stream),
            `last_hidden_state_ngram` `(B, G * T, D)`, `past_key_values` with a
            cache and, when asked, `hidden_states` / `hidden_states_ngram`
            (`num_decoder_layers + 1` tensors), `attentions` `(B, N, T, T)`,
            `ngram_attentions` `(B, G, N, T, 2T)` and `cross_attentions`
            `(B, N, (1 + G) T, S)` (with an encoder).

        Raises:
            ValueError: a target longer than `max_position_embeddings - pad_token_id - 2`.
        """
        config = self.config
        self._check_length(decoder_input_ids, 1)
        length = decoder_input_ids.shape[1]
        cache_length = None if cache is None else cache[0].shape[3]
        start = 0 if cache is None else cache_update_index
        # The reference's first pass (an empty cache) is a full pass: its masks and buckets, over the cache slots.
        first_pass = cache is not None and isinstance(cache_update_index, int) and cache_update_index == 0
        fallback = None
        if cache is None or first_pass:
            main_mask, predict_mask = ngram_stream_masks(length, config["ngram"], decoder_attention_mask)
            main_buckets, predict_buckets = ngram_relative_buckets(length, config["num_buckets"],
                                                                   config["relative_max_distance"])
            if decoder_attention_mask is not None:
                fallback = once_masked_keys(length, decoder_attention_mask)  # left-padding rows
            if first_pass:
                main_mask, predict_mask, main_buckets, predict_buckets, fallback = full_pass_over_cache(
                    main_mask, predict_mask, main_buckets, predict_buckets, fallback, cache_length)
        else:
            if decoder_attention_mask is not None:
                raise ValueError("A cached ProphetNet decoder step attends every slot written so far, as the "
                                 "reference's; it takes no decoder_attention_mask.")
            main_mask, predict_mask = ngram_stream_masks(length, config["ngram"], None, cache_length,
                                                         cache_update_index)
            main_buckets, predict_buckets = ngram_relative_buckets(
                length, config["num_buckets"], config["relative_max_distance"], cache_length, cache_update_index,
                position_shift=config["pad_token_id"])
        y = self._embed_streams(decoder_input_ids, start, training)  # (B, (1 + G) T, D)
        stack = run_block_stack(
            self.decoder_blocks, y,
            call_kwargs=dict(encoder_hidden_states=encoder_hidden_states, attention_mask=main_mask,
                             predict_attention_mask=predict_mask, main_relative_buckets=main_buckets,
                             predict_relative_buckets=predict_buckets, main_fallback_mask=fallback,
                             cross_attention_mask=None if attention_mask is None else padding_mask(attention_mask)),
            layer_kwargs=None if cross_key_values is None else (lambda step: {"cross_key_value": cross_key_values[step]}),
            caches=cache, cache_update_index=cache_update_index, output_attentions=output_attentions,
            training=training)
        length = ops.shape(decoder_input_ids)[1]
        outputs = {"last_hidden_state": stack.x[:, :length], "last_hidden_state_ngram": stack.x[:, length:]}
        if cache is not None:
            outputs["past_key_values"] = stack.caches
        if output_hidden_states:
            outputs["hidden_states"] = tuple(h[:, :length] for h in stack.hidden_states)
            outputs["hidden_states_ngram"] = tuple(h[:, length:] for h in stack.hidden_states)
        if output_attentions:
            outputs["attentions"] = tuple(main for main, _ in stack.attentions)
            outputs["ngram_attentions"] = tuple(predict for _, predict in stack.attentions)
            if stack.cross_attentions:
                outputs["cross_attentions"] = tuple(stack.cross_attentions)
        return outputs


def full_pass_over_cache(main_mask, predict_mask, main_buckets, predict_buckets, fallback, cache_length):
    """A full pass's masks `(B | 1, 1, T, T)`, `(B | 1, G, T, 2T)`, buckets `(T, T)`, `(T, 2T)` and
    optional fallback mask `(B, 1, T, T)` widened to the `L` cache slots its main-stream keys are
    read from (slots `>= T` masked): `(.., L)`, `(.., L + T)`."""
    length = main_buckets.shape[0]
    extra = cache_length - length

    def widen(mask):  # (..., T) -> (..., L): masked empty slots
        shape = ops.shape(mask)
        return ops.concatenate([mask, ops.zeros((*shape[:-1], extra), "bool")], axis=-1)

    zeros = ops.zeros((length, extra), "int32")
    main_buckets = ops.concatenate([main_buckets, zeros], axis=-1)
    predict_buckets = ops.concatenate([predict_buckets[:, :length], zeros, predict_buckets[:, length:]], axis=-1)
    predict_mask = ops.concatenate([widen(predict_mask[..., :length]), predict_mask[..., length:]], axis=-1)
    return (widen(main_mask), predict_mask, main_buckets, predict_buckets,
            None if fallback is None else widen(fallback))


def prophetnet_seq2seq_outputs(encoder_outputs, decoder_outputs):
    """Encoder and decoder output dicts under the reference's `ProphetNetSeq2SeqModelOutput` names."""
    names = {"last_hidden_state": "last_hidden_state", "last_hidden_state_ngram": "last_hidden_state_ngram",
             "hidden_states": "decoder_hidden_states", "hidden_states_ngram": "decoder_ngram_hidden_states",
             "attentions": "decoder_attentions", "ngram_attentions": "decoder_ngram_attentions",
             "cross_attentions": "cross_attentions"}
    outputs = {new: decoder_outputs[old] for old, new in names.items() if old in decoder_outputs}
    outputs["encoder_last_hidden_state"] = encoder_outputs["last_hidden_state"]
    for key in ("hidden_states", "attentions"):
        if key in encoder_outputs:
            outputs[f"encoder_{key}"] = encoder_outputs[key]
    return outputs


class ProphetNetModel(ProphetNetPreTrainedModel):
    """The bare ProphetNet encoder-decoder.

    Call inputs (dict or keywords): `input_ids` `(B, S)`, `attention_mask`
    `(B, S)`, `decoder_input_ids` `(B, T)` (required), `decoder_attention_mask`
    `(B, T)`; call keywords `output_attentions`, `output_hidden_states`.

    Returns:
        dict with `last_hidden_state` `(B, T, D)` (main stream),
        `last_hidden_state_ngram` `(B, G * T, D)` (predict streams),
        `encoder_last_hidden_state` `(B, S, D)` and, when asked,
        `decoder_hidden_states`, `decoder_ngram_hidden_states`,
        `decoder_attentions`, `decoder_ngram_attentions`, `cross_attentions`,
        `encoder_hidden_states`, `encoder_attentions`.

    Raises:
        ValueError: without `decoder_input_ids`.

    References: `transformers.ProphetNetModel`.
    """

    serving_outputs = ("last_hidden_state", "encoder_last_hidden_state")

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = self._prepare_inputs(inputs)
        return self.encode_decode(inputs, decoder_input_ids_from(self, inputs), training, output_attentions,
                                  output_hidden_states)

    def encode_decode(self, inputs, decoder_input_ids, training=None, output_attentions=False,
                      output_hidden_states=False):
        """Both stacks on prepared inputs; the `ProphetNetSeq2SeqModelOutput` dict."""
        flags = dict(training=training, output_attentions=output_attentions, output_hidden_states=output_hidden_states)
        encoder_outputs = self.encode(inputs["input_ids"], inputs.get("attention_mask"), **flags)
        decoder_outputs = self.decode(decoder_input_ids, encoder_outputs["last_hidden_state"],
                                      attention_mask=inputs.get("attention_mask"),
                                      decoder_attention_mask=inputs.get("decoder_attention_mask"), **flags)
        return prophetnet_seq2seq_outputs(encoder_outputs, decoder_outputs)


class ProphetNetEncoder(ProphetNetPreTrainedModel):
    """The ProphetNet encoder alone (checkpoint keys without prefix, its own `word_embeddings`).

    Call inputs: `input_ids` `(B, S)`, `attention_mask` `(B, S)`.

    Returns:
        dict with `last_hidden_state` `(B, S, D)` and, when asked, `hidden_states`
        and `attentions` (masked pre-softmax scores, as the reference).

    References: `transformers.ProphetNetEncoder`.
    """

    has_decoder = False
    input_names = ("input_ids", "attention_mask")
    serving_outputs = ("last_hidden_state",)

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = self._prepare_inputs(inputs)
        return self.encode(inputs["input_ids"], inputs.get("attention_mask"), training=training,
                           output_attentions=output_attentions, output_hidden_states=output_hidden_states)


class ProphetNetDecoder(ProphetNetPreTrainedModel):
    """The ProphetNet n-gram decoder alone (checkpoint keys without prefix).

    Call inputs: `input_ids` `(B, T)`, `attention_mask` `(B, T)`, optional
    `encoder_hidden_states` `(B, S, D)` (float) and `encoder_attention_mask` `(B, S)`.

    Returns:
        dict with `last_hidden_state` `(B, T, D)`, `last_hidden_state_ngram`
        `(B, G * T, D)` and, when asked, `hidden_states`, `hidden_states_ngram`,
        `attentions`, `ngram_attentions`, `cross_attentions` (with encoder states).

    References: `transformers.ProphetNetDecoder`.
    """

    has_encoder = False
    input_names = ("input_ids", "attention_mask", "encoder_hidden_states", "encoder_attention_mask")
    float_input_names = ("encoder_hidden_states",)
    serving_outputs = ("last_hidden_state", "last_hidden_state_ngram")

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = self._prepare_inputs(inputs)
        return self.decode(inputs["input_ids"], inputs.get("encoder_hidden_states"),
                           attention_mask=inputs.get("encoder_attention_mask"),
                           decoder_attention_mask=inputs.get("attention_mask"), training=training,
                           output_attentions=output_attentions, output_hidden_states=output_hidden_states)


class XLMProphetNetModel(ProphetNetModel):
    """XLM-ProphetNet's encoder-decoder: ProphetNet's architecture (multilingual checkpoints).

    References: `transformers` 4.46 `XLMProphetNetModel` (removed in `transformers` 5).
    """

    model_type = "xlm-prophetnet"


class XLMProphetNetEncoder(ProphetNetEncoder):
    """XLM-ProphetNet's encoder alone. References: `transformers` 4.46 `XLMProphetNetEncoder`."""

    model_type = "xlm-prophetnet"


class XLMProphetNetDecoder(ProphetNetDecoder):
    """XLM-ProphetNet's n-gram decoder alone. References: `transformers` 4.46 `XLMProphetNetDecoder`."""

    model_type = "xlm-prophetnet"
