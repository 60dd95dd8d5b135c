"""`EncoderModel`: the backbone shared by BERT and its relatives.

embeddings -> encoder blocks (optionally shared across layers) -> optional
final LayerNorm -> optional tanh pooler. Each architecture's backbone is a
subclass whose constructor takes its Hugging Face config fields and calls
`_build_encoder()` with the architectural choices as explicit arguments:

- BERT: the defaults.
- RoBERTa / XLM-RoBERTa / CamemBERT: `position_padding_idx=pad_token_id`.
- ELECTRA: `embedding_size` with a projection to `hidden_size`, no pooler.
- ALBERT: `embedding_size` + projection, blocks shared in groups
  (`num_hidden_groups`, `inner_group_num`).
- DistilBERT: no token types, no pooler (and its own config names).
- Megatron-BERT: pre-norm blocks, no embedding LayerNorm, a final LayerNorm.
- RoFormer: no learned positions (`position_embeddings=False`), rotary blocks
  via `_make_encoder_layer`, pooler = dropout + dense + `hidden_act`.
- ConvBERT: span-convolution blocks via `_make_encoder_layer`, same pooler.
- MPNet: fairseq positions, one relative position bias shared by all blocks
  (`_block_call_kwargs`).

The blocks run through the one block stack (`tfmodels.layers.block_stack`),
in `layer_order`. Backbones with `decoder_capable = True` (BERT, RoBERTa &
co, ELECTRA, Megatron-BERT) honour the Hugging Face `is_decoder` config
field: their self-attention then runs under a causal mask, with the KV cache
of `tfmodels.layers.kv_cache`, as the backbone of the `*ForCausalLM` /
`BertLMHeadModel` heads. Those with `cross_attention_capable = True` (BERT,
RoBERTa & co, ELECTRA, BertGeneration) also honour `add_cross_attention`
(with `is_decoder`): their blocks are then `TransformerDecoderBlock`s
(post-norm self-attention, cross-attention over `encoder_hidden_states`,
feed-forward), the decoder of an `EncoderDecoderModel`.
"""

import keras
from keras import ops

from tfmodels.layers import LayerNormalization, Pooler, TransformerEmbeddings, TransformerEncoderBlock
from tfmodels.layers.decoder_block import TransformerDecoderBlock
from tfmodels.layers import masks
from tfmodels.layers.attention.multi_head_attention import MultiHeadAttention
from tfmodels.layers.block_stack import run_block_stack
from tfmodels.layers.packing import TokenPacking
from tfmodels.layers.kv_cache import cache_span, causal_attention_mask, check_sequence_length, init_kv_cache
from tfmodels.layers.utils import hf_initializer
from tfmodels.models.base import PreTrainedModel, stack_outputs
from tfmodels.models.seq2seq import cross_attention_kwargs


def attention_mask_to_bool(attention_mask):
    """A model's 0/1 `attention_mask` (any dtype; nonzero = attend) as the blocks' bool mask.

    `(batch, key_len)` -> `(batch, 1, 1, key_len)`; `(batch, q, k)` -> `(batch, 1, q, k)`, through
    `tfmodels.layers.masks.attention_mask_to_bool` (model inputs are 0/1, never additive).
    """
    if attention_mask is None:
        return None
    return masks.attention_mask_to_bool(ops.not_equal(attention_mask, 0))


# Hugging Face config fields shared by BERT, RoBERTa, ELECTRA, ALBERT, Megatron-BERT, DPR.
BERT_FIELDS = (
    "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "hidden_act",
    "hidden_dropout_prob", "attention_probs_dropout_prob", "max_position_embeddings", "type_vocab_size",
    "initializer_range", "layer_norm_eps",
)


class EncoderModel(PreTrainedModel):
    """Base of the BERT-like backbones (see the module docstring).

    Attributes set by `_build_encoder`:
        embeddings: `TransformerEmbeddings`.
        encoder_layers: list of the distinct `TransformerEncoderBlock`s.
        layer_order: indices into `encoder_layers`, one per applied block
            (repeats when parameters are shared).
        final_layer_norm: `LayerNormalization` or None.
        pooler: `Pooler` or None.
        pooler_dropout: `Dropout` before the pooler, or None.
        arch: dict of normalised architecture sizes the heads read
            (`vocab_size`, `hidden_size`, `embedding_size`, `hidden_act`,
            `layer_norm_eps`, `initializer_range`, `hidden_dropout`).

    Call inputs and outputs: see `BertModel`.
    """

    has_pooler = True
    # Whether the Hugging Face reference honours `is_decoder` (causal self-attention) for this backbone.
    decoder_capable = False
    # Whether it builds cross-attention for `add_cross_attention=True` (a decoder of `EncoderDecoderModel`).
    cross_attention_capable = False
    # Packed tokens (`use_packed_tokens`): off unless asked for; a class default so every relative has it.
    packed_tokens = False
    # Packed row counts are rounded up to a multiple of this (`TokenPacking.from_attention_mask`): oneDNN compiles
    # a matmul per shape, and batches of similar token counts then share them.
    packed_token_multiple = 64

    def __init__(self, add_pooling_layer=True, **kwargs):
        super().__init__(**kwargs)
        self.add_pooling_layer = add_pooling_layer

    def packed_tokens_unsupported(self):
        """Why this backbone cannot run packed tokens (`use_packed_tokens`), or None when it can.

        Packing needs `EncoderModel`'s own forward pass, plain
        `TransformerEncoderBlock`s around attention whose `call` is
        `MultiHeadAttention`'s (variants that only override its hooks, like
        rotary attention, qualify), and no decoder (causal attention over a
        cache, cross-attention).
        """
        if self.is_decoder:
            return "it is configured as a decoder (is_decoder=True)"
        if type(self).call is not EncoderModel.call or type(self)._run is not EncoderModel._run:
            return "it runs its own forward pass"
        for block in getattr(self, "encoder_layers", []):
            if type(block).call is not TransformerEncoderBlock.call:
                return f"its blocks ({type(block).__name__}) are not plain TransformerEncoderBlocks"
            attention = type(block.self_attention) if hasattr(block, "self_attention") else block.attention_class
            if attention.call is not MultiHeadAttention.call:
                return f"its attention ({attention.__name__}) has its own call"
        return None

    def _constructor_only_config(self):
        return {"add_pooling_layer": self.add_pooling_layer}

    @property
    def is_decoder(self):
        """True when the config sets `is_decoder` and the architecture supports it: causal self-attention."""
        return bool(self.decoder_capable and self.extra_config.get("is_decoder", False))

    @property
    def has_cross_attention(self):
        """True when the blocks have cross-attention (`is_decoder` and `add_cross_attention` in the config)."""
        return bool(self.cross_attention_capable and self.is_decoder
                    and self.extra_config.get("add_cross_attention", False))

    def _check_cross_attention_config(self):
        """Raises `ValueError` for `add_cross_attention=True` without `is_decoder`, as the reference's layers
        do, or on a backbone tfmodels builds without cross-attention."""
        if not (self.decoder_capable and self.extra_config.get("add_cross_attention", False)):
            return
        if not self.cross_attention_capable:
            raise ValueError(f"{type(self).__name__} does not support cross-attention yet. "
                             "Received: add_cross_attention=True")
        if not self.is_decoder:
            raise ValueError(f"{type(self).__name__} adds cross-attention only as a decoder: set is_decoder=True. "
                             "Received: add_cross_attention=True, is_decoder=False")

    def _build_encoder(
        self,
        *,
        vocab_size,
        hidden_size,
        num_hidden_layers,
        num_attention_heads,
        intermediate_size,
        hidden_act,
        hidden_dropout_prob,
        attention_probs_dropout_prob,
        max_position_embeddings,
        type_vocab_size,
        initializer_range,
        layer_norm_eps,
        embedding_size=None,
        project_embeddings=None,
        position_padding_idx=None,
        embedding_layer_norm=True,
        normalize_first=False,
        final_layer_norm=False,
        num_hidden_groups=None,
        inner_group_num=1,
        position_embeddings=True,
        pooler_activation="tanh",
        pooler_dropout=None,
        embedding_options=None,
    ):
        """Creates the sublayers.

        Args (beyond the BERT fields):
            embedding_size: embedding width `E` (default `hidden_size`).
            project_embeddings: project `E` -> `hidden_size` after the
                embeddings; default: only when they differ.
            position_padding_idx: RoBERTa-style positions, see `TransformerEmbeddings`.
            embedding_layer_norm: LayerNorm on the embeddings.
            normalize_first: pre-norm blocks.
            final_layer_norm: LayerNorm after the last block.
            num_hidden_groups: if set, `num_hidden_groups * inner_group_num`
                distinct blocks shared ALBERT-style over `num_hidden_layers`
                layers, each layer applying its group's `inner_group_num` blocks.
            inner_group_num: blocks per group.
            position_embeddings: learned absolute positions in the embeddings
                (False: positions enter elsewhere, e.g. rotary attention;
                `max_position_embeddings` still bounds the length).
            pooler_activation: activation after the pooler's dense layer.
            pooler_dropout: if set, dropout rate before the pooler (RoFormer/
                ConvBERT classification heads).
            embedding_options: optional dict of extra `TransformerEmbeddings`
                arguments (BigBird: `dropout_first`, `word_embedding_scale`).

        Raises:
            ValueError: for sizes that do not divide evenly.
        """
        if hidden_size % num_attention_heads:
            raise ValueError(
                "hidden_size must be a multiple of num_attention_heads. "
                f"Received: hidden_size={hidden_size}, num_attention_heads={num_attention_heads}"
            )
        embedding_size = embedding_size or hidden_size
        if project_embeddings is None:
            project_embeddings = embedding_size != hidden_size
        self.arch = dict(
            vocab_size=vocab_size, hidden_size=hidden_size, embedding_size=embedding_size, hidden_act=hidden_act,
            layer_norm_eps=layer_norm_eps, initializer_range=initializer_range, hidden_dropout=hidden_dropout_prob,
        )
        self._max_positions = max_position_embeddings
        self._position_offset = 0 if position_padding_idx is None else position_padding_idx + 1
        init = hf_initializer(initializer_range)
        self.embeddings = TransformerEmbeddings(
            vocab_size=vocab_size,
            hidden_size=embedding_size,
            max_position_embeddings=max_position_embeddings if position_embeddings else None,
            type_vocab_size=type_vocab_size,
            layer_norm_eps=layer_norm_eps if embedding_layer_norm else None,
            dropout=hidden_dropout_prob,
            initializer_range=initializer_range,
            position_padding_idx=position_padding_idx,
            projection_size=hidden_size if project_embeddings else None,
            dtype=self.dtype_policy,
            name="embeddings",
            **(embedding_options or {}),
        )
        if num_hidden_groups:
            if num_hidden_groups > num_hidden_layers:
                raise ValueError(
                    "num_hidden_groups must not exceed num_hidden_layers. Received: "
                    f"num_hidden_groups={num_hidden_groups}, num_hidden_layers={num_hidden_layers}"
                )
            num_blocks = num_hidden_groups * inner_group_num
            self.layer_order = [
                int(i / (num_hidden_layers / num_hidden_groups)) * inner_group_num + j
                for i in range(num_hidden_layers)
                for j in range(inner_group_num)
            ]
        else:
            num_blocks = num_hidden_layers
            self.layer_order = list(range(num_hidden_layers))
        self._block_kwargs = dict(
            num_heads=num_attention_heads,
            intermediate_size=intermediate_size,
            hidden_act=hidden_act,
            hidden_dropout=hidden_dropout_prob,
            attention_dropout=attention_probs_dropout_prob,
            layer_norm_eps=layer_norm_eps,
            normalize_first=normalize_first,
            kernel_initializer=init,
        )
        self._check_cross_attention_config()
        self.encoder_layers = [self._make_encoder_layer(i) for i in range(num_blocks)]
        self.final_layer_norm = None
        if final_layer_norm:
            self.final_layer_norm = LayerNormalization(
                epsilon=layer_norm_eps, dtype=self.dtype_policy, name="final_layer_norm"
            )
        self.pooler = self.pooler_dropout = None
        if self.add_pooling_layer and self.has_pooler:
            self.pooler = Pooler(hidden_size, activation=pooler_activation, kernel_initializer=init,
                                 dtype=self.dtype_policy, name="pooler")
            if pooler_dropout is not None:
                self.pooler_dropout = keras.layers.Dropout(pooler_dropout, dtype=self.dtype_policy,
                                                           name="pooler_dropout")

    def _make_encoder_layer(self, index):
        """Block `index`; the override point for relatives with other blocks (SqueezeBERT). A
        `TransformerDecoderBlock` (same weights plus `cross_attention`) with cross-attention."""
        block_class = TransformerDecoderBlock if self.has_cross_attention else TransformerEncoderBlock
        return block_class(**self._block_kwargs, dtype=self.dtype_policy, name=f"encoder_layer_{index}")

    def _block_call_kwargs(self, inputs, x):
        """Extra keyword arguments for every block call, computed once per call from the
        prepared `inputs` and the embeddings `x` (e.g. a shared `attention_bias`)."""
        return {}

    def _build_from_bert_fields(self, **options):
        """`_build_encoder` from the BERT-named fields of `self.config` plus `options`.

        Raises:
            ValueError: for a `position_embedding_type` other than "absolute".
        """
        position_embedding_type = self.config.get("position_embedding_type", "absolute")
        if position_embedding_type != "absolute":
            raise ValueError(
                f"{type(self).__name__} supports position_embedding_type='absolute' only. "
                f"Received: position_embedding_type={position_embedding_type!r}"
            )
        self._build_encoder(**{name: self.config[name] for name in BERT_FIELDS}, **options)

    def _embed(self, inputs, training):
        """`(batch, seq_len, hidden_size)` embeddings; the override point for relatives."""
        return self.embeddings(
            inputs["input_ids"],
            token_type_ids=inputs.get("token_type_ids"),
            position_ids=inputs.get("position_ids"),
            training=training,
        )

    @property
    def max_positions(self):
        """Length of the position table (the limit `generate()` checks)."""
        return getattr(self, "_max_positions", None) or self.config["max_position_embeddings"]

    def init_cache(self, batch_size, max_length, dtype="float32"):
        """Zero KV caches for decoding (`is_decoder=True`), one `(batch, 2, heads, max_length, head_dim)`
        tensor per applied layer (`tfmodels.layers.kv_cache.init_kv_cache`).

        Raises:
            ValueError: if the model is not a decoder.
        """
        self._require_decoder()
        num_heads = self._block_kwargs["num_heads"]
        return init_kv_cache(batch_size, max_length, num_heads, self.arch["hidden_size"] // num_heads,
                             len(self._applied_order()), dtype)

    def _applied_order(self):
        """`layer_order`, or each block once for relatives that build `encoder_layers` themselves (MobileBERT)."""
        return getattr(self, "layer_order", None) or list(range(len(self.encoder_layers)))

    def _require_decoder(self):
        if not self.is_decoder:
            raise ValueError(
                f"{type(self).__name__} caches keys/values only as a decoder. Received: is_decoder="
                f"{self.extra_config.get('is_decoder', False)} (decoder_capable={self.decoder_capable})"
            )

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False,
             past_key_values=None, cache_update_index=None, packed_tokens=None):
        """See `BertModel`; `packed_tokens` (bool) overrides `use_packed_tokens()` for this call."""
        options = {} if packed_tokens is None else {"packed_tokens": packed_tokens}  # relatives' own `_run`s lack it
        return self._run(self._prepare_inputs(inputs, cached=past_key_values is not None), training,
                         output_attentions, output_hidden_states,
                         past_key_values, cache_update_index, **options)

    def forward(self, input_ids, attention_mask=None, position_ids=None, token_type_ids=None,
                past_key_values=None, cache_update_index=None, training=None,
                output_attentions=False, output_hidden_states=False, encoder_hidden_states=None,
                encoder_attention_mask=None, cross_key_values=None):
        """The forward pass on tensors, with `CausalDecoderModel.forward`'s signature (what
        `CausalLMMixin.decode_step` runs). With `past_key_values` (from `init_cache`), keys/values of
        this pass are written at `cache_update_index` and `attention_mask` covers every cache slot.
        With cross-attention, `encoder_hidden_states` `(batch, source_len, hidden_size)` or their
        per-layer projections `cross_key_values` (`cross_key_values()`) and `encoder_attention_mask`
        `(batch, source_len)`."""
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask, "position_ids": position_ids,
                  "token_type_ids": token_type_ids, "encoder_hidden_states": encoder_hidden_states,
                  "encoder_attention_mask": encoder_attention_mask}
        inputs = self._prepare_inputs({k: v for k, v in inputs.items() if v is not None},
                                      cached=past_key_values is not None)
        return self._run(inputs, training, output_attentions, output_hidden_states, past_key_values,
                         cache_update_index, cross_key_values)

    def cross_key_values(self, encoder_hidden_states):
        """Every applied layer's cross-attention keys/values `(batch, 2, source_len, heads, head_dim)`,
        projected once per `generate()` call from `encoder_hidden_states` `(batch, source_len, hidden_size)`."""
        return tuple(self.encoder_layers[i].cross_attention.project_key_value(encoder_hidden_states)
                     for i in self._applied_order())

    def _self_attention_mask(self, attention_mask, x, past_key_values=None, cache_update_index=None):
        """The blocks' bool mask `(batch | 1, 1, query | 1, key)` (causal over the cache for decoders,
        `tfmodels.layers.kv_cache.causal_attention_mask`) and the cache offset."""
        if not self.is_decoder:
            return attention_mask_to_bool(attention_mask), 0
        cache = None if past_key_values is None else past_key_values[0]
        offset, _ = cache_span(ops.shape(x)[1], cache, cache_update_index)
        return causal_attention_mask(ops.shape(x)[1], attention_mask, cache, cache_update_index), offset

    def _token_packing(self, attention_mask, enabled=None):
        """The `TokenPacking` of this call when packing is on (`enabled`, default the `packed_tokens`
        attribute) and the batch has a `(batch, seq_len)` padding mask.

        Raises:
            ValueError: if `packed_tokens` is on and the backbone cannot pack
                (see `packed_tokens_unsupported`).
        """
        enabled = self.packed_tokens if enabled is None else enabled
        if not enabled or attention_mask is None or len(attention_mask.shape) != 2:
            return None
        reason = self.packed_tokens_unsupported()
        if reason is not None:
            raise ValueError(f"{type(self).__name__} cannot run packed tokens: {reason}. "
                             "Call use_packed_tokens(False).")
        return TokenPacking.from_attention_mask(attention_mask, self.packed_token_multiple)

    def _run(self, inputs, training, output_attentions, output_hidden_states, past_key_values=None,
             cache_update_index=None, cross_key_values=None, packed_tokens=None):
        position_offset = getattr(self, "_position_offset", 0)
        if past_key_values is not None:
            self._require_decoder()
            if "position_ids" not in inputs:
                # Queries continue the cached sequence (unpadded rows; `generate()` passes its own positions).
                offset, _ = cache_span(ops.shape(inputs["input_ids"])[1], past_key_values[0], cache_update_index)
                positions = ops.arange(ops.shape(inputs["input_ids"])[1], dtype="int32") + ops.cast(offset, "int32")
                inputs["position_ids"] = (positions + position_offset)[None, :]
        if "position_ids" not in inputs:
            check_sequence_length(inputs["input_ids"], self.max_positions, type(self).__name__,
                                  position_offset=position_offset)
        x = self._embed(inputs, training)
        mask, _ = self._self_attention_mask(inputs.get("attention_mask"), x, past_key_values, cache_update_index)
        cross_kwargs, cross_layer_kwargs = cross_attention_kwargs(
            self, inputs.get("encoder_hidden_states"), inputs.get("encoder_attention_mask"), cross_key_values)
        call_kwargs = {"attention_mask": mask, **self._block_call_kwargs(inputs, x), **cross_kwargs}
        packing = self._token_packing(inputs.get("attention_mask"), packed_tokens)
        if packing is not None:
            x = packing.pack(x)
            call_kwargs["token_packing"] = packing
        stack = run_block_stack(
            self.encoder_layers, x, order=self._applied_order(),
            call_kwargs=call_kwargs,
            layer_kwargs=cross_layer_kwargs,
            caches=past_key_values, cache_update_index=0 if cache_update_index is None else cache_update_index,
            output_attentions=output_attentions, training=training,
        )
        x, hidden_states = stack.x, stack.hidden_states
        if getattr(self, "final_layer_norm", None) is not None:
            x = self.final_layer_norm(x)
            hidden_states[-1] = x
        if packing is not None:
            x = packing.unpack(x)
            hidden_states = [packing.unpack(h) for h in hidden_states] if output_hidden_states else hidden_states
        outputs = {"last_hidden_state": x}
        if self.pooler is not None:
            pooled_input = x if getattr(self, "pooler_dropout", None) is None else self.pooler_dropout(
                x, training=training)
            outputs["pooler_output"] = self.pooler(pooled_input)
        if stack.caches is not None:
            outputs["past_key_values"] = stack.caches
        return stack_outputs(outputs, output_hidden_states, output_attentions, hidden_states, stack.attentions,
                             stack.cross_attentions)
