"""What every decoder-only (causal) architecture shares.

`CausalDecoderModel` is the backbone of GPT, GPT-2, CTRL and GPT-Neo: token
(+ position) embeddings, a stack of `TransformerEncoderBlock`s run under a
causal mask by the one block stack (`tfmodels.layers.block_stack`), an
optional final LayerNorm, and the preallocated KV cache of
`tfmodels.layers.kv_cache`. Architectures supply `_embed()` and build
`self.blocks` / `self.final_layer_norm`; GPT-Neo overrides `_layer_window()`
for its local layers (a per-layer mask, not another loop). GPT-2 with
`add_cross_attention=True` builds `TransformerDecoderBlock`s instead
(cross-attention over `encoder_hidden_states` between self-attention and
feed-forward): the decoder of an `EncoderDecoderModel`. The heads
(`CausalLMMixin`, `LastTokenClassificationMixin`) sit on top of any such
backbone.

KV cache layout (one tensor per layer, the `MultiHeadAttention` layout):
`(batch, 2, num_heads, max_length, head_dim)`, keys then values. A forward
pass with `past_key_values` writes its keys/values at `cache_update_index`
and attends over the whole cache; `attention_mask` then covers all
`max_length` cache slots (0 for padding and for slots not written yet).
"""

import logging

import keras
import tensorflow as tf
from keras import ops

from tfmodels.generation.utils import GenerationMixin
from tfmodels.layers.losses import causal_lm_loss, sequence_classification_loss
from tfmodels.layers.block_stack import run_block_stack
from tfmodels.layers.embeddings import WordEmbedding
from tfmodels.layers.kv_cache import cache_span, causal_attention_mask, check_sequence_length, init_kv_cache
from tfmodels.layers.utils import hf_initializer
from tfmodels.models.base import PreTrainedModel, stack_outputs
from tfmodels.models.heads import HeadModelMixin, MaskedLMMixin, resolve_labels
from tfmodels.models.seq2seq import CROSS_ATTENTION_INPUTS, cross_attention_kwargs, project_cross_key_values

logger = logging.getLogger("tfmodels")


def positions_from_attention_mask(attention_mask):
    """Hugging Face generate's positions for padded batches: `cumsum(mask) - 1`, 0 on padding.

    Args:
        attention_mask: int tensor `(batch, seq_len)`, 0 on padding.

    Returns:
        int32 tensor `(batch, seq_len)`.
    """
    mask = ops.cast(ops.not_equal(attention_mask, 0), "int32")
    positions = ops.cumsum(mask, axis=-1) - 1
    return ops.where(ops.equal(mask, 0), ops.zeros_like(positions), positions)


class CausalDecoderModel(PreTrainedModel):
    """Base of the decoder-only backbones (see the module docstring).

    Subclasses set in `__init__`: `self.blocks` (list of
    `TransformerEncoderBlock`), `self.final_layer_norm` (or `None`),
    `self.num_heads`, `self.head_dim`, `self.max_positions`; and implement
    `_embed(input_ids, position_ids, token_type_ids, training)`.

    Call inputs (dict or keywords; int `(batch, seq_len)`): `input_ids`,
    `attention_mask` (`(batch, seq_len)`, or `(batch, max_length)` with a
    cache), `token_type_ids`, `position_ids` (default
    `arange(seq_len) + cache_update_index`); with cross-attention
    `encoder_hidden_states` `(batch, source_len, hidden_size)` and
    `encoder_attention_mask` `(batch, source_len)`. Call keywords:
    `past_key_values` (tuple of per-layer caches), `cache_update_index`
    (int or scalar tensor), `use_cache` (return the keys/values of this
    pass as `past_key_values` even without a cache), `output_attentions`,
    `output_hidden_states`.

    Returns:
        dict with `last_hidden_state` `(batch, seq_len, hidden_size)`,
        `past_key_values` (with a cache or `use_cache=True`) and, when asked,
        `hidden_states` / `attentions` (and, with encoder states,
        `cross_attentions` `(batch, heads, seq_len, source_len)`) tuples.
    """

    input_names = ("input_ids", "attention_mask", "token_type_ids", "position_ids") + CROSS_ATTENTION_INPUTS
    serving_outputs = ("last_hidden_state",)

    def _build_embeddings(self, vocab_size, max_positions, width, initializer_range, dropout):
        """Token (`wte`) and learned position (`wpe`, skipped if `max_positions` is None) embeddings."""
        self.wte = WordEmbedding(vocab_size, width, embeddings_initializer=hf_initializer(initializer_range),
                                 dtype=self.dtype_policy, name="wte")
        self.wpe = None
        if max_positions is not None:
            self.wpe = keras.layers.Embedding(max_positions, width,
                                              embeddings_initializer=hf_initializer(initializer_range),
                                              dtype=self.dtype_policy, name="wpe")
        self.embedding_dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy)

    def _embed(self, input_ids, position_ids, token_type_ids, training):
        """`wte(ids) + wpe(positions) [+ wte(token_type_ids)]`, then dropout (GPT, GPT-2, GPT-Neo)."""
        x = self.wte(input_ids) + self.wpe(position_ids)  # (batch, seq_len, width)
        if token_type_ids is not None:
            x = x + self.wte(token_type_ids)  # these models embed token types with the token matrix
        return self.embedding_dropout(x, training=training)

    def _layer_window(self, index):
        """Sliding-window size of layer `index`, or `None` for global attention."""
        return None

    @property
    def has_cross_attention(self):
        """True when the blocks are `TransformerDecoderBlock`s (GPT-2 with `add_cross_attention=True`)."""
        return any(getattr(block, "returns_cross_attention", False) for block in self.blocks)

    def cross_key_values(self, encoder_hidden_states):
        """Every layer's cross-attention keys/values `(batch, 2, source_len, heads, head_dim)`, projected once
        per `generate()` call from `encoder_hidden_states` `(batch, source_len, hidden_size)`."""
        return project_cross_key_values(self.blocks, encoder_hidden_states)

    def init_cache(self, batch_size, max_length, dtype="float32"):
        """Zero KV caches, one `(batch, 2, heads, max_length, head_dim)` tensor per layer
        (`tfmodels.layers.kv_cache.init_kv_cache`)."""
        return init_kv_cache(batch_size, max_length, self.num_heads, self.head_dim, len(self.blocks), dtype)

    def dummy_inputs(self, batch_size=1, seq_len=4):
        inputs = super().dummy_inputs(batch_size, seq_len)
        inputs["attention_mask"] = inputs["input_ids"]
        return inputs

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False,
             past_key_values=None, cache_update_index=None, use_cache=False):
        inputs = self._prepare_inputs(inputs, cached=past_key_values is not None or use_cache)
        return self.forward(
            inputs["input_ids"], attention_mask=inputs.get("attention_mask"),
            position_ids=inputs.get("position_ids"), token_type_ids=inputs.get("token_type_ids"),
            past_key_values=past_key_values, cache_update_index=cache_update_index, use_cache=use_cache,
            training=training, output_attentions=output_attentions, output_hidden_states=output_hidden_states,
            encoder_hidden_states=inputs.get("encoder_hidden_states"),
            encoder_attention_mask=inputs.get("encoder_attention_mask"),
        )

    def forward(self, input_ids, attention_mask=None, position_ids=None, token_type_ids=None,
                past_key_values=None, cache_update_index=None, use_cache=False, training=None,
                output_attentions=False, output_hidden_states=False, encoder_hidden_states=None,
                encoder_attention_mask=None, cross_key_values=None):
        """The forward pass on tensors (what `call` and `generate` run); cross-attention reads
        `encoder_hidden_states` or their per-layer projections `cross_key_values` (`cross_key_values()`)."""
        batch_size, query_len = ops.shape(input_ids)[0], ops.shape(input_ids)[1]
        if past_key_values is None and use_cache:
            past_key_values = self.init_cache(batch_size, query_len, self.compute_dtype)
        first_cache = None if past_key_values is None else past_key_values[0]
        if position_ids is None:
            if past_key_values is None:
                check_sequence_length(input_ids, self.max_positions, type(self).__name__)
            offset, _ = cache_span(query_len, first_cache, cache_update_index)
            position_ids = (ops.arange(query_len, dtype="int32") + ops.cast(offset, "int32"))[None, :]
        x = self._embed(input_ids, position_ids, token_type_ids, training)
        masks = {}  # one mask per window size (GPT-Neo alternates local and global layers)
        for window in {self._layer_window(i) for i in range(len(self.blocks))}:
            masks[window] = causal_attention_mask(query_len, attention_mask, first_cache, cache_update_index,
                                                  window_size=window)
        cross_kwargs, cross_layer_kwargs = cross_attention_kwargs(
            self, encoder_hidden_states, encoder_attention_mask, cross_key_values)

        def layer_kwargs(step):
            kwargs = {"attention_mask": masks[self._layer_window(step)]}
            return {**kwargs, **cross_layer_kwargs(step)} if cross_layer_kwargs is not None else kwargs

        stack = run_block_stack(
            self.blocks, x, call_kwargs=cross_kwargs, layer_kwargs=layer_kwargs,
            caches=past_key_values, cache_update_index=0 if cache_update_index is None else cache_update_index,
            output_attentions=output_attentions, training=training,
        )
        x, hidden_states = stack.x, stack.hidden_states
        if self.final_layer_norm is not None:
            x = self.final_layer_norm(x)
            hidden_states[-1] = x
        result = {"last_hidden_state": x}
        if stack.caches is not None:
            result["past_key_values"] = stack.caches
        return stack_outputs(result, output_hidden_states, output_attentions, hidden_states, stack.attentions,
                             stack.cross_attentions)


class CausalHeadMixin(HeadModelMixin):
    """Head-model plumbing for decoder backbones: cache keywords reach the backbone."""

    backbone_kwargs = {}

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False,
             past_key_values=None, cache_update_index=None, use_cache=False):
        inputs = self._prepare_inputs(inputs, cached=past_key_values is not None or use_cache)
        labels = self.pop_labels(inputs)
        # The cache travels with the inputs (as in transformers, it is an input): `_backbone_outputs` reads it.
        inputs.update(past_key_values=past_key_values, cache_update_index=cache_update_index, use_cache=use_cache)
        outputs = self._head_outputs(inputs, training, output_attentions, output_hidden_states)
        return self.with_task_loss(outputs, labels)

    def _backbone_outputs(self, inputs, training, output_attentions, output_hidden_states):
        outputs = self.backbone.forward(
            inputs["input_ids"], attention_mask=inputs.get("attention_mask"),
            position_ids=inputs.get("position_ids"), token_type_ids=inputs.get("token_type_ids"),
            past_key_values=inputs.get("past_key_values"), cache_update_index=inputs.get("cache_update_index"),
            use_cache=inputs.get("use_cache", False),
            training=training, output_attentions=output_attentions, output_hidden_states=output_hidden_states,
            encoder_hidden_states=inputs.get("encoder_hidden_states"),
            encoder_attention_mask=inputs.get("encoder_attention_mask"),
        )
        # `forward` bypasses Keras' `__call__`, so Keras never marks the backbone built although this pass
        # built all its layers; left unbuilt, Keras warns on every first call that the head "has unbuilt state".
        self.backbone.built = True
        return outputs

    @staticmethod
    def _passthrough(outputs, backbone_outputs):
        for key in ("past_key_values", "hidden_states", "attentions", "cross_attentions"):
            if key in backbone_outputs:
                outputs[key] = backbone_outputs[key]
        return outputs


def tied_lm_logits(model, hidden_states):
    """Logits against the (tied) token embedding matrix `model.backbone.wte`: `(batch, seq_len, vocab_size)`."""
    return model.backbone.wte(hidden_states, reverse=True)


class CausalLMMixin(GenerationMixin, CausalHeadMixin):
    """`logits (batch, seq_len, vocab_size)` from `_lm_logits(hidden)`; `generate()`.

    The architecture supplies `_make_lm_head()` and `_lm_logits(hidden)`.
    """

    label_names = ("labels",)
    serving_outputs = ("logits",)

    def __init__(self, **kwargs):
        self._init_backbone(kwargs)
        self.config = {}
        if self.backbone.extra_config.get("tie_word_embeddings", True) is False:
            raise ValueError(
                f"{type(self).__name__} ties its LM head to the token embeddings; untied heads are not "
                "supported yet. Received: tie_word_embeddings=False"
            )
        self._make_lm_head()

    def _head_outputs(self, inputs, training, output_attentions, output_hidden_states):
        backbone_outputs = self._backbone_outputs(inputs, training, output_attentions, output_hidden_states)
        logits = self._lm_logits(backbone_outputs["last_hidden_state"])
        return self._passthrough({"logits": logits}, backbone_outputs)

    def task_loss(self, labels, outputs, sample_weight=None):
        return causal_lm_loss(labels["labels"], outputs["logits"], sample_weight)

    def _metric_targets(self, labels, logits):
        return labels[:, 1:], logits[:, :-1]  # logits at t predict the label at t + 1

    # -- generation interface (tfmodels.generation) ----------------------------

    def init_cache(self, batch_size, max_length):
        return self.backbone.init_cache(batch_size, max_length, self.compute_dtype)

    def cross_key_values(self, encoder_hidden_states):
        """The backbone's per-layer cross-attention keys/values (a decoder with `add_cross_attention=True`)."""
        return self.backbone.cross_key_values(encoder_hidden_states)

    def decode_step(self, input_ids, attention_mask, position_ids, cache, cache_index, encoder_attention_mask=None,
                    cross_key_values=None):
        """One cached forward: `(logits (batch, T, vocab), new cache)`; a cross-attention decoder (the
        decoder of `EncoderDecoderModel`) also attends over `cross_key_values` (`cross_key_values()`)."""
        outputs = self.backbone.forward(
            input_ids, attention_mask=attention_mask, position_ids=position_ids,
            past_key_values=cache, cache_update_index=cache_index, training=False,
            encoder_attention_mask=encoder_attention_mask, cross_key_values=cross_key_values,
        )
        return self._lm_logits(outputs["last_hidden_state"]), outputs["past_key_values"]


class EncoderCausalLMMixin(GenerationMixin, MaskedLMMixin):
    """Causal-LM head of an encoder family run as a decoder (`BertLMHeadModel`, `RobertaForCausalLM`, ...).

    The backbone (an `EncoderModel`) applies a causal mask when its config
    sets `is_decoder=True` (like `transformers`, only a warning otherwise);
    the head is the family's masked-LM head (`_make_lm_head` / `_lm_logits`,
    the same `cls.predictions` / `lm_head` / `generator_predictions`
    modules); the loss is `causal_lm_loss` (shifted labels, -100 ignored).
    `generate()` decodes over the `EncoderModel` KV cache (`is_decoder=True`
    only), through `CausalLMMixin`'s `init_cache` / `decode_step`.

    Returns:
        dict with `logits` `(batch, seq_len, vocab_size)` and `loss` when
        `labels` `(batch, seq_len)` is given.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if not self.backbone.is_decoder:
            logger.warning("%s without is_decoder=True in its config attends bidirectionally; "
                           "set is_decoder=True to use it as a causal LM.", type(self).__name__)

    def task_loss(self, labels, outputs, sample_weight=None):
        return causal_lm_loss(labels["labels"], outputs["logits"], sample_weight)

    def _metric_targets(self, labels, logits):
        return labels[:, 1:], logits[:, :-1]  # logits at t predict the label at t + 1

    input_names = PreTrainedModel.input_names + CROSS_ATTENTION_INPUTS
    init_cache = CausalLMMixin.init_cache
    cross_key_values = CausalLMMixin.cross_key_values
    decode_step = CausalLMMixin.decode_step


class LastTokenClassificationMixin(CausalHeadMixin):
    """`logits (batch, num_labels)` scored at each row's last non-padding token.

    As Hugging Face's decoder classifiers: a bias-free `score` projection of
    every position, pooled at the rightmost token that is not `pad_token_id`
    (handles left and right padding); without a `pad_token_id`, the last
    position (batch size 1 only in Hugging Face; here any batch).
    """

    label_names = ("labels",)
    serving_outputs = ("logits",)

    def __init__(self, num_labels=None, id2label=None, label2id=None, problem_type=None, **kwargs):
        self._init_backbone(kwargs)
        num_labels, id2label, label2id = resolve_labels(num_labels, id2label, label2id)
        self.config = {"id2label": id2label, "label2id": label2id, "problem_type": problem_type}
        self.num_labels = num_labels
        self.score = keras.layers.Dense(
            num_labels, use_bias=False, kernel_initializer=hf_initializer(self.backbone.initializer_range),
            dtype=self.dtype_policy, name="score",
        )

    def _head_outputs(self, inputs, training, output_attentions, output_hidden_states):
        backbone_outputs = self._backbone_outputs(inputs, training, output_attentions, output_hidden_states)
        logits = self.score(backbone_outputs["last_hidden_state"])  # (batch, seq_len, num_labels)
        input_ids = inputs["input_ids"]
        pad_token_id = self.backbone.config.get("pad_token_id")
        seq_len = ops.shape(input_ids)[1]
        if pad_token_id is None:
            last = ops.full((ops.shape(input_ids)[0],), seq_len - 1, dtype="int32")
        else:
            non_pad = ops.cast(ops.not_equal(input_ids, pad_token_id), "int32")
            last = ops.argmax(ops.arange(seq_len, dtype="int32")[None, :] * non_pad, axis=-1)
        pooled = tf.gather(logits, ops.cast(last, "int32"), batch_dims=1)  # (batch, num_labels)
        return self._passthrough({"logits": pooled}, backbone_outputs)

    def task_loss(self, labels, outputs, sample_weight=None):
        return sequence_classification_loss(labels["labels"], outputs["logits"], self.config["problem_type"],
                                            sample_weight)
