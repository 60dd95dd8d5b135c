"""T5 and mT5: the encoder-decoder, its LM head and the encoder alone.

Both stacks are pre-norm blocks with RMS norms (`RMSNormalization`), no
biases and unscaled attention scores (`scale=1.0`: T5 folds the scaling
into its initialisation). Positions enter only through a bucketed relative
bias (`RelativePositionBias`), computed once per stack from the first
block's table and added in every block: bidirectional in the encoder, causal
in the decoder; cross-attention has none. The feed-forward is
`relu`/`gelu` (T5) or gated (`gated-gelu`, `gated-silu`: T5 v1.1, mT5,
Flan-T5). The token embedding `shared` feeds both stacks; the LM head is tied
to it unless `tie_word_embeddings=False`, and the decoder output is rescaled
by `d_model**-0.5` before the head when `scale_decoder_outputs` (default:
`tie_word_embeddings`, which is what the flag meant in original T5 configs).

Size glossary: B batch, S source length, T target length, D `d_model`,
N `num_heads`, V `vocab_size`.

References:
    Raffel et al., "Exploring the Limits of Transfer Learning with a Unified
    Text-to-Text Transformer", JMLR 2020; Xue et al., "mT5: A Massively
    Multilingual Pre-trained Text-to-Text Transformer", NAACL 2021.
    Parity references: `transformers.T5Model`, `T5ForConditionalGeneration`,
    `T5EncoderModel`, `MT5Model`, `MT5ForConditionalGeneration`,
    `MT5EncoderModel` (PyTorch).
"""

import keras
import numpy as np
from keras import ops

from tfmodels.generation.seq2seq import Seq2SeqGenerationMixin
from tfmodels.layers.decoder_block import TransformerDecoderBlock
from tfmodels.layers.embeddings import WordEmbedding
from tfmodels.layers.masks import padding_mask
from tfmodels.layers.normalization import RMSNormalization
from tfmodels.layers.position.relative_bias import RelativePositionBias
from tfmodels.layers.transformer_block import TransformerEncoderBlock
from tfmodels.layers.utils import hf_initializer
from tfmodels.models.base import PreTrainedModel, run_encoder_layers, stack_outputs
from tfmodels.models.seq2seq import (
    Seq2SeqLMMixin,
    decoder_input_ids_from,
    decoder_masks,
    decoder_outputs,
    encode_decode,
    encoder_hidden_state,
    init_decoder_cache,
    project_cross_key_values,
    run_decoder_layers,
)


def parse_feed_forward_proj(feed_forward_proj):
    """`"relu"` -> `("relu", False)`, `"gated-gelu"` -> `("gelu_new", True)`, as `T5Config` reads it.

    Raises:
        ValueError: for a value other than `ACT` or `gated-ACT`.
    """
    parts = feed_forward_proj.split("-")
    if len(parts) > 2 or (len(parts) == 2 and parts[0] != "gated"):
        raise ValueError(
            "feed_forward_proj must be an activation name or 'gated-' followed by one, e.g. 'relu' or "
            f"'gated-gelu'. Received: feed_forward_proj={feed_forward_proj!r}"
        )
    gated = len(parts) == 2
    activation = "gelu_new" if feed_forward_proj == "gated-gelu" else parts[-1]  # transformers' legacy rule
    return activation, gated


class T5PreTrainedModel(PreTrainedModel):
    """The T5 encoder (and decoder unless `has_decoder` is False) from the `T5Config` fields.

    Constructor arguments are the fields of a Hugging Face T5/mT5
    `config.json`; other fields are kept in `extra_config`.

    Precision. Under `mixed_bfloat16` every layer computes in bfloat16
    (norms, softmax and losses in float32). Under `mixed_float16` (or
    `float16`) T5 keeps the reference's float32 islands: the feed-forward's
    output projection `wo` (`_keep_in_fp32_modules = ["wo"]` in
    `transformers`' T5, which loads it in float32 when the model is float16)
    keeps a float32 kernel, reads its input cast to float32 and returns
    float32, so the residual stream after the first feed-forward is float32
    as in the reference (the blocks do not cast their input to float16:
    `autocast=False`); attention, the other projections and the LM head run
    in float16. This keeps T5 v1.1 / mT5 / Flan-T5, whose `wo` outputs
    exceed the float16 range, finite. The reference's clamping of float16
    hidden states to the float16 range (before the first feed-forward) is
    not reproduced. `keras.Model.compile` wraps the optimizer in a
    `LossScaleOptimizer` (dynamic loss scaling) under `mixed_float16`.

    Raises:
        ValueError: a malformed `feed_forward_proj`.
    """

    model_type = "t5"
    has_decoder = True
    input_names = ("input_ids", "attention_mask", "decoder_input_ids", "decoder_attention_mask", "encoder_outputs")
    # Serving signatures (`tfmodels.export`) take the decoder inputs beside the encoder's, all int32 (B, T).
    serving_extra_inputs = {"decoder_input_ids": (), "decoder_attention_mask": ()}

    def __init__(
        self,
        vocab_size=32128,
        d_model=512,
        d_kv=64,
        d_ff=2048,
        num_layers=6,
        num_decoder_layers=None,
        num_heads=8,
        relative_attention_num_buckets=32,
        relative_attention_max_distance=128,
        dropout_rate=0.1,
        layer_norm_epsilon=1e-6,
        initializer_factor=1.0,
        feed_forward_proj="relu",
        tie_word_embeddings=True,
        scale_decoder_outputs=None,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        **kwargs,
    ):
        kwargs.pop("dense_act_fn", None)  # derived from feed_forward_proj, as in T5Config
        kwargs.pop("is_gated_act", None)
        super().__init__(**kwargs)
        activation, gated = parse_feed_forward_proj(feed_forward_proj)
        num_decoder_layers = num_layers if num_decoder_layers is None else num_decoder_layers
        scale_decoder_outputs = bool(tie_word_embeddings if scale_decoder_outputs is None else scale_decoder_outputs)
        self._record_config(locals(), exclude=("activation", "gated"))
        self.d_model, self.num_heads, self.d_kv = d_model, num_heads, d_kv
        self.shared = WordEmbedding(vocab_size, d_model, embeddings_initializer=hf_initializer(initializer_factor),
                                    dtype=self.dtype_policy, name="shared")
        self.dropout = keras.layers.Dropout(dropout_rate, dtype=self.dtype_policy)
        feed_forward_kwargs = {"gated": gated, "dropout": dropout_rate}
        float32_islands = self.dtype_policy.compute_dtype == "float16"
        if float32_islands:  # see the class docstring: `wo` and the residual stream in float32
            feed_forward_kwargs["output_dtype"] = "float32"
        block_args = dict(
            num_heads=num_heads, intermediate_size=d_ff, hidden_act=activation, hidden_dropout=dropout_rate,
            attention_dropout=dropout_rate, layer_norm_eps=layer_norm_epsilon, normalize_first=True, key_dim=d_kv,
            use_bias=False, kernel_initializer=hf_initializer(initializer_factor * d_model ** -0.5),
            attention_kwargs={"scale": 1.0}, normalization="rms_norm", feed_forward_kwargs=feed_forward_kwargs,
            autocast=not float32_islands, dtype=self.dtype_policy,
        )
        bias_args = dict(num_buckets=relative_attention_num_buckets, num_heads=num_heads,
                         max_distance=relative_attention_max_distance,
                         embeddings_initializer=hf_initializer(initializer_factor * d_model ** -0.5),
                         dtype=self.dtype_policy)
        self.encoder_blocks = [TransformerEncoderBlock(**block_args, name=f"encoder_block_{i}")
                               for i in range(num_layers)]
        self.encoder_position_bias = RelativePositionBias(bidirectional=True, name="encoder_position_bias",
                                                          **bias_args)
        self.encoder_final_layer_norm = RMSNormalization(layer_norm_epsilon, dtype=self.dtype_policy,
                                                         name="encoder_final_layer_norm")
        if self.has_decoder:
            self.decoder_blocks = [TransformerDecoderBlock(**block_args, name=f"decoder_block_{i}")
                                   for i in range(num_decoder_layers)]
            self.decoder_position_bias = RelativePositionBias(bidirectional=False, name="decoder_position_bias",
                                                              **bias_args)
            self.decoder_final_layer_norm = RMSNormalization(layer_norm_epsilon, dtype=self.dtype_policy,
                                                             name="decoder_final_layer_norm")

    def dummy_inputs(self, batch_size=1, seq_len=4):
        inputs = super().dummy_inputs(batch_size, seq_len)
        if self.has_decoder:
            inputs["decoder_input_ids"] = np.ones((batch_size, seq_len), dtype="int32")
        return inputs

    # -- the two stacks -----------------------------------------------------------

    def _finish_stack(self, x, norm, hidden_states, training):
        x = self.dropout(norm(x), training=training)
        hidden_states[-1] = x  # as the reference: the last hidden state is the normed output
        return x

    def encode(self, input_ids, attention_mask=None, training=None, output_attentions=False,
               output_hidden_states=False):
        """Runs the encoder.

        Args:
            input_ids: int tensor `(B, S)`.
            attention_mask: optional int tensor `(B, S)`, 0 on padding.

        Returns:
            dict with `last_hidden_state` `(B, S, D)` and, when asked,
            `hidden_states` (`num_layers + 1` tensors `(B, S, D)`) and
            `attentions` (`num_layers` tensors `(B, N, S, S)`).
        """
        x = self.dropout(self.shared(input_ids), training=training)  # (B, S, D)
        mask = padding_mask(attention_mask) if attention_mask is not None else None  # (B, 1, 1, S)
        bias = self.encoder_position_bias(x)  # (1, N, S, S), shared by every block
        x, hidden_states, attentions = run_encoder_layers(
            self.encoder_blocks, x, output_attentions=output_attentions, training=training,
            attention_mask=mask, attention_bias=bias,
        )
        x = self._finish_stack(x, self.encoder_final_layer_norm, hidden_states, training)
        return stack_outputs({"last_hidden_state": x}, output_hidden_states, output_attentions, hidden_states,
                             attentions)

    def decode(self, decoder_input_ids, encoder_hidden_states=None, attention_mask=None,
               decoder_attention_mask=None, cache=None, cache_update_index=None, cross_key_values=None,
               training=None, output_attentions=False, output_hidden_states=False):
        """Runs the decoder over the whole target (teacher forcing) or one step with a cache.

        Args:
            decoder_input_ids: int tensor `(B, T)`.
            encoder_hidden_states: float tensor `(B, S, D)`, the encoder output;
                may be `None` when `cross_key_values` is given.
            attention_mask: optional int tensor `(B, S)`, encoder padding.
            decoder_attention_mask: optional int tensor `(B, T)`, decoder
                padding; with a cache `(B, max_length)` over the cache slots.
            cache: optional tuple of per-layer self-attention caches
                `(B, 2, N, max_length, d_kv)` (`init_cache`); the new keys and
                values are written at `cache_update_index`.
            cache_update_index: int or scalar int tensor, position of the first
                query (and of its cache slot).
            cross_key_values: optional tuple of per-layer `(B, 2, S, N, d_kv)`
                encoder keys/values (`cross_key_values()`), computed once.

        Returns:
            dict with `last_hidden_state` `(B, T, D)`, `past_key_values` (the
            updated caches) with a cache and, when asked, `hidden_states`
            (`num_decoder_layers + 1` tensors), `attentions` (`(B, N, T, T)`
            each, `(B, N, T, max_length)` with a cache) and `cross_attentions`
            (`(B, N, T, S)` each).
        """
        y = self.dropout(self.shared(decoder_input_ids), training=training)  # (B, T, D)
        self_mask, cross_mask, offset, key_len = decoder_masks(
            decoder_input_ids, attention_mask, decoder_attention_mask, None if cache is None else cache[0],
            cache_update_index)
        # (1, N, T, key_len), causal buckets; only axis 1 of `key` is read (the key length).
        bias = self.decoder_position_bias(y, ops.zeros((1, key_len)), query_offset=offset)
        y, hidden_states, attentions, cross_attentions, caches = run_decoder_layers(
            self.decoder_blocks, y, encoder_hidden_states, self_mask, cross_mask, attention_bias=bias, cache=cache,
            cache_update_index=cache_update_index, cross_key_values=cross_key_values,
            output_attentions=output_attentions, training=training,
        )
        y = self._finish_stack(y, self.decoder_final_layer_norm, hidden_states, training)
        return decoder_outputs(y, hidden_states, attentions, cross_attentions, caches, output_attentions,
                               output_hidden_states)

    def _prepare_inputs(self, inputs, kwargs=None, cached=False):
        """As `PreTrainedModel._prepare_inputs`, plus `encoder_outputs` (see `seq2seq.encoder_hidden_state`);
        with it, `input_ids` may be omitted (`attention_mask` is then checked against the encoder output)."""
        merged = dict(inputs) if hasattr(inputs, "keys") else ({} if inputs is None else {"input_ids": inputs})
        merged.update({k: v for k, v in (kwargs or {}).items() if v is not None})
        if merged.get("encoder_outputs") is None:
            merged.pop("encoder_outputs", None)
            return super()._prepare_inputs(merged, cached=cached)
        hidden = encoder_hidden_state(merged.pop("encoder_outputs"))
        has_ids = "input_ids" in merged
        if not has_ids:  # stands in for the shape checks of the source mask
            merged["input_ids"] = ops.zeros(ops.shape(hidden)[:2], dtype="int32")
        prepared = super()._prepare_inputs(merged, cached=cached)
        if not has_ids:
            del prepared["input_ids"]
        return {**prepared, "encoder_outputs": ops.cast(hidden, self.compute_dtype)}

    def _encode_decode(self, inputs, training, output_attentions, output_hidden_states):
        """Both stacks on prepared inputs; decoder inputs from `labels` when not given."""
        return encode_decode(self, inputs, decoder_input_ids_from(self, inputs), training, output_attentions,
                             output_hidden_states)


class T5Model(T5PreTrainedModel):
    """The bare T5 encoder-decoder.

    Call inputs (dict or keywords): `input_ids` `(B, S)`, `attention_mask`
    `(B, S)`, `decoder_input_ids` `(B, T)`, `decoder_attention_mask` `(B, T)`;
    call keywords `output_attentions`, `output_hidden_states`.

    Returns:
        dict with `last_hidden_state` `(B, T, D)` (the decoder's),
        `encoder_last_hidden_state` `(B, S, D)` and, when asked,
        `decoder_hidden_states`, `decoder_attentions`, `cross_attentions`,
        `encoder_hidden_states`, `encoder_attentions`.

    Raises:
        ValueError: without `decoder_input_ids`.

    References: `transformers.T5Model`.
    """

    serving_outputs = ("last_hidden_state", "encoder_last_hidden_state")

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = self._prepare_inputs(inputs)
        return self._encode_decode(inputs, training, output_attentions, output_hidden_states)


class T5ForConditionalGeneration(Seq2SeqLMMixin, Seq2SeqGenerationMixin, T5PreTrainedModel):
    """T5 with its LM head (tied to `shared` unless `tie_word_embeddings=False`); `generate()`.

    Call inputs: as `T5Model`, plus `labels` `(B, T)` (`-100` ignored): when
    `decoder_input_ids` is not given it is `labels` shifted right with
    `decoder_start_token_id` (`-100` -> `pad_token_id`).

    Returns:
        dict with `logits` `(B, T, V)`, `loss` (mean cross-entropy over the
        labels that are not -100) when `labels` is given,
        `encoder_last_hidden_state` and, when asked, the hidden states and
        attentions of `T5Model` (not its `last_hidden_state`).

    Training: `compile()` without a loss trains on the LM loss of `labels` given in the inputs or as `y`
    (see `tfmodels.models.seq2seq.Seq2SeqLMMixin`).

    References: `transformers.T5ForConditionalGeneration`.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.lm_head = None
        if not self.config["tie_word_embeddings"]:
            self.lm_head = keras.layers.Dense(
                self.config["vocab_size"], use_bias=False, kernel_initializer=hf_initializer(
                    self.config["initializer_factor"]), dtype=self.dtype_policy, name="lm_head",
            )

    def lm_logits(self, decoder_hidden_states):
        """`(B, T, D)` decoder output -> `(B, T, V)` logits (rescaled first if `scale_decoder_outputs`)."""
        if self.config["scale_decoder_outputs"]:
            decoder_hidden_states = decoder_hidden_states * ops.cast(self.d_model ** -0.5,
                                                                     decoder_hidden_states.dtype)
        if self.lm_head is None:
            return self.shared(decoder_hidden_states, reverse=True)
        return self.lm_head(decoder_hidden_states)

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = self._prepare_inputs(inputs)
        outputs = self._encode_decode(inputs, training, output_attentions, output_hidden_states)
        outputs = {"logits": self.lm_logits(outputs.pop("last_hidden_state")), **outputs}
        return self.with_task_loss(outputs, self.pop_labels(inputs))

    # -- generation interface (tfmodels.generation.seq2seq) ---------------------

    def init_cache(self, batch_size, max_length):
        """Zero self-attention caches, one `(B, 2, N, max_length, d_kv)` tensor per decoder layer."""
        return init_decoder_cache(self.decoder_blocks, batch_size, max_length, self.compute_dtype)

    def cross_key_values(self, encoder_hidden_states):
        """Every decoder layer's cross-attention keys/values `(B, 2, S, N, d_kv)`, projected once."""
        return project_cross_key_values(self.decoder_blocks, encoder_hidden_states)

    def decode_step(self, decoder_input_ids, decoder_attention_mask, cache, cache_index, encoder_attention_mask,
                    cross_key_values):
        """One cached decoder pass: `(logits (B, T, V), updated caches)`."""
        outputs = self.decode(decoder_input_ids, attention_mask=encoder_attention_mask,
                              decoder_attention_mask=decoder_attention_mask, cache=cache,
                              cache_update_index=cache_index, cross_key_values=cross_key_values, training=False)
        return self.lm_logits(outputs["last_hidden_state"]), outputs["past_key_values"]


class T5EncoderModel(T5PreTrainedModel):
    """The T5 encoder alone (sentence embeddings, classification backbones).

    Call inputs: `input_ids` `(B, S)`, `attention_mask` `(B, S)`.

    Returns:
        dict with `last_hidden_state` `(B, S, D)` and, when asked,
        `hidden_states` and `attentions`.

    References: `transformers.T5EncoderModel`.
    """

    has_decoder = False
    input_names = ("input_ids", "attention_mask")
    serving_extra_inputs = {}
    serving_outputs = ("last_hidden_state",)

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = self._prepare_inputs(inputs)
        return self.encode(inputs["input_ids"], inputs.get("attention_mask"), training=training,
                           output_attentions=output_attentions, output_hidden_states=output_hidden_states)


class MT5Model(T5Model):
    """mT5's encoder-decoder: `T5Model` for `model_type="mt5"` checkpoints. References: `transformers.MT5Model`."""

    model_type = "mt5"


class MT5ForConditionalGeneration(T5ForConditionalGeneration):
    """mT5 with its LM head: `T5ForConditionalGeneration` for `model_type="mt5"`.

    References: `transformers.MT5ForConditionalGeneration`.
    """

    model_type = "mt5"


class MT5EncoderModel(T5EncoderModel):
    """mT5's encoder: `T5EncoderModel` for `model_type="mt5"`. References: `transformers.MT5EncoderModel`."""

    model_type = "mt5"
