"""DeBERTa and DeBERTa-v2/v3: backbones and task heads.

Both versions share one backbone class: v1 (`DebertaModel`) is the v2
backbone with v1's attention rules (`dynamic_span`, fused `in_proj`) and
without position buckets, shared keys, normalised relative embeddings or the
convolution branch.

References:
    He et al., "DeBERTa: Decoding-enhanced BERT with Disentangled Attention",
    ICLR 2021; He et al., "DeBERTaV3", 2021.
    Parity references: `transformers.models.deberta.modeling_deberta`,
    `transformers.models.deberta_v2.modeling_deberta_v2` (PyTorch).
"""

import keras
from keras import ops

from tfmodels.layers import LayerNormalization, Pooler, TransformerEmbeddings
from tfmodels.layers.attention.disentangled_attention import DisentangledEncoderBlock
from tfmodels.layers.convolution import MaskedConvResidual
from tfmodels.layers.kv_cache import check_sequence_length
from tfmodels.layers.position.relative import log_bucket_positions, relative_positions
from tfmodels.layers.utils import hf_initializer
from tfmodels.models.base import PreTrainedModel, run_encoder_layers, stack_outputs
from tfmodels.models.heads import (
    MaskedLMMixin,
    MultipleChoiceMixin,
    QuestionAnsweringMixin,
    SequenceClassificationMixin,
    TokenClassificationMixin,
)


def parse_pos_att_type(pos_att_type):
    """`"p2c|c2p"`, a list or `None` -> a list of lower-case names."""
    if pos_att_type is None:
        return []
    if isinstance(pos_att_type, str):
        return [t.strip() for t in pos_att_type.lower().split("|") if t.strip()]
    return list(pos_att_type)


def deberta_masks(attention_mask, input_ids):
    """Returns `(pair_mask (B, 1, T, T) bool, token_mask (B, T) bool)`.

    DeBERTa masks queries as well as keys: `pair[i, j] = mask[i] & mask[j]`
    (fully masked rows then give uniform probabilities, as in the reference).
    """
    if attention_mask is None:
        attention_mask = ops.ones_like(input_ids)
    mask = ops.not_equal(attention_mask, 0)
    if len(mask.shape) == 3:  # (B, T, T) given directly
        return mask[:, None], ops.any(mask, axis=-2)
    return ops.logical_and(mask[:, None, None, :], mask[:, None, :, None]), mask


class DebertaV2Model(PreTrainedModel):
    """The DeBERTa-v2/v3 encoder: embeddings, disentangled-attention blocks.

    Constructor arguments are the fields of a Hugging Face `DebertaV2Config`.
    Optional fields that `transformers` reads with defaults (`position_buckets`
    = -1, `share_att_key` = False, `norm_rel_ebd` = "none", `conv_kernel_size`
    = 0, `conv_groups` = 1, `conv_act` = "tanh", `embedding_size` =
    hidden_size, `pooler_hidden_size` = hidden_size) are read from the extra
    config the same way and written back unchanged.

    Call inputs (dict or keywords; int `(batch, seq_len)`): `input_ids`,
    `attention_mask` (also `(batch, seq_len, seq_len)`), `token_type_ids`,
    `position_ids`.

    Returns:
        dict with `last_hidden_state` `(batch, seq_len, hidden_size)`,
        `pooler_output` `(batch, pooler_hidden_size)` when built with
        `add_pooling_layer=True` (sequence classification heads), and when
        asked `hidden_states` (`num_hidden_layers + 1` tensors) and
        `attentions` (`(batch, heads, seq_len, seq_len)` each).

    Raises:
        ValueError: for unknown `pos_att_type` entries, `hidden_size` not
            divisible by the heads, or too long sequences.
    """

    model_type = "deberta-v2"
    serving_outputs = ("last_hidden_state",)
    _v1 = False

    def __init__(
        self,
        vocab_size=128100,
        hidden_size=1536,
        num_hidden_layers=24,
        num_attention_heads=24,
        intermediate_size=6144,
        hidden_act="gelu",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=512,
        type_vocab_size=0,
        initializer_range=0.02,
        layer_norm_eps=1e-7,
        relative_attention=False,
        max_relative_positions=-1,
        pad_token_id=0,
        position_biased_input=True,
        pos_att_type=None,
        pooler_dropout=0.0,
        pooler_hidden_act="gelu",
        legacy=True,
        add_pooling_layer=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        pos_att_type = parse_pos_att_type(pos_att_type)
        self._record_config(locals(), exclude=("add_pooling_layer",))
        self.add_pooling_layer = add_pooling_layer
        extra = self.extra_config
        if extra.get("talking_head"):
            raise ValueError("DeBERTa talking_head=True is not supported. Received: talking_head=True")
        if hidden_size % num_attention_heads:
            raise ValueError(
                "hidden_size must be a multiple of num_attention_heads. "
                f"Received: hidden_size={hidden_size}, num_attention_heads={num_attention_heads}"
            )
        self.max_relative = max_relative_positions if max_relative_positions >= 1 else max_position_embeddings
        self.position_buckets = -1 if self._v1 else extra.get("position_buckets", -1)
        norm_rel_ebd = "none" if self._v1 else extra.get("norm_rel_ebd", "none")
        self.norm_rel_ebd = [t.strip() for t in norm_rel_ebd.lower().split("|")]
        embedding_size = extra.get("embedding_size") or hidden_size
        init = hf_initializer(initializer_range)
        policy = dict(dtype=self.dtype_policy)

        self.embeddings = TransformerEmbeddings(
            vocab_size=vocab_size, hidden_size=embedding_size,
            max_position_embeddings=max_position_embeddings if position_biased_input else None,
            type_vocab_size=type_vocab_size, layer_norm_eps=None, dropout=0.0,
            initializer_range=initializer_range, name="embeddings", **policy,
        )
        self.embed_proj = None
        if embedding_size != hidden_size:
            self.embed_proj = keras.layers.Dense(hidden_size, use_bias=False, kernel_initializer=init,
                                                 name="embed_proj", **policy)
        self.embeddings_layer_norm = LayerNormalization(epsilon=layer_norm_eps,
                                                                     name="embeddings_layer_norm", **policy)
        self.embeddings_dropout = keras.layers.Dropout(hidden_dropout_prob, **policy)

        self.rel_embeddings = self.rel_layer_norm = None
        if relative_attention:
            table_size = 2 * (self.position_buckets if self.position_buckets > 0 else self.max_relative)
            self.rel_embeddings = keras.layers.Embedding(table_size, hidden_size, embeddings_initializer=init,
                                                         name="rel_embeddings", **policy)
            self.rel_embeddings.build()
            if "layer_norm" in self.norm_rel_ebd:
                self.rel_layer_norm = LayerNormalization(epsilon=layer_norm_eps,
                                                                      name="rel_layer_norm", **policy)
                self.rel_layer_norm.build((None, hidden_size))
        self.encoder_layers = [
            DisentangledEncoderBlock(
                pos_att_type=pos_att_type,
                relative_attention=relative_attention,
                position_buckets=self.position_buckets,
                max_relative_positions=self.max_relative,
                share_att_key=False if self._v1 else extra.get("share_att_key", False),
                dynamic_span=self._v1,
                num_heads=num_attention_heads,
                key_dim=None if self._v1 else extra.get("attention_head_size"),
                intermediate_size=intermediate_size,
                hidden_act=hidden_act,
                hidden_dropout=hidden_dropout_prob,
                attention_dropout=attention_probs_dropout_prob,
                layer_norm_eps=layer_norm_eps,
                kernel_initializer=init,
                name=f"encoder_layer_{i}",
                **policy,
            )
            for i in range(num_hidden_layers)
        ]
        self.conv = None
        if not self._v1 and extra.get("conv_kernel_size", 0) > 0:
            self.conv = MaskedConvResidual(
                hidden_size, kernel_size=extra["conv_kernel_size"], groups=extra.get("conv_groups", 1),
                activation=extra.get("conv_act", "tanh"), layer_norm_eps=layer_norm_eps,
                dropout=hidden_dropout_prob, name="conv", **policy,
            )
        self.pooler = self.pooler_dropout = None
        if add_pooling_layer:
            self.pooler_dropout = keras.layers.Dropout(pooler_dropout, **policy)
            self.pooler = Pooler(extra.get("pooler_hidden_size") or hidden_size, activation=pooler_hidden_act,
                                 kernel_initializer=init, name="pooler", **policy)

    def _constructor_only_config(self):
        return {"add_pooling_layer": self.add_pooling_layer}

    def _relative_inputs(self, seq_len):
        """The relative positions `(T, T)` and embedding table, computed once for all layers."""
        if self.rel_embeddings is None:
            return {}
        relative_pos = relative_positions(seq_len, seq_len)
        if self.position_buckets > 0:
            relative_pos = log_bucket_positions(relative_pos, self.position_buckets, self.max_relative)
        table = self.rel_embeddings.embeddings
        if self.rel_layer_norm is not None:
            table = self.rel_layer_norm(table)
        return {"relative_pos": relative_pos, "rel_embeddings": table}

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = self._prepare_inputs(inputs)
        input_ids = inputs["input_ids"]
        if self.config["position_biased_input"] and "position_ids" not in inputs:
            check_sequence_length(input_ids, self.config["max_position_embeddings"], type(self).__name__)
        pair_mask, token_mask = deberta_masks(inputs.get("attention_mask"), input_ids)
        x = self.embeddings(input_ids, token_type_ids=inputs.get("token_type_ids"),
                            position_ids=inputs.get("position_ids"), training=training)
        if self.embed_proj is not None:
            x = self.embed_proj(x)
        x = self.embeddings_layer_norm(x) * ops.cast(token_mask, x.dtype)[:, :, None]
        x = self.embeddings_dropout(x, training=training)

        relative = self._relative_inputs(ops.shape(input_ids)[1])
        embedding_output = x

        def conv_after_first_layer(index, hidden):
            if index == 0 and self.conv is not None:
                return self.conv(embedding_output, hidden, token_mask, training=training)
            return hidden

        x, hidden_states, attentions = run_encoder_layers(
            self.encoder_layers, x, output_attentions, training, after_layer=conv_after_first_layer,
            attention_mask=pair_mask, **relative)
        outputs = {"last_hidden_state": x}
        if self.pooler is not None:
            outputs["pooler_output"] = self.pooler(self.pooler_dropout(x, training=training))
        return stack_outputs(outputs, output_hidden_states, output_attentions, hidden_states, attentions)


class DebertaModel(DebertaV2Model):
    """The DeBERTa (v1) encoder; same arguments, inputs and outputs as `DebertaV2Model`.

    v1 differences: relative positions are not bucketed, the span of the
    relative table shrinks to the sequence length, the query is scaled before
    the c2p term, and the checkpoint stores q/k/v as one fused `in_proj`.
    """

    model_type = "deberta"
    _v1 = True

    def __init__(self, vocab_size=50265, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072, **kwargs):
        super().__init__(vocab_size=vocab_size, hidden_size=hidden_size, num_hidden_layers=num_hidden_layers,
                         num_attention_heads=num_attention_heads, intermediate_size=intermediate_size, **kwargs)


class _DebertaMaskedLMMixin(MaskedLMMixin):
    """MLM head of both versions: legacy `cls.predictions` (tied unless
    `tie_word_embeddings=False`) or `lm_predictions` (always tied)."""

    def _lm_head_tied(self):
        return super()._lm_head_tied() or not self.backbone.config["legacy"]


class DebertaV2PreTrainedModel(PreTrainedModel):
    """Base of the DeBERTa-v2 head models: the backbone lives in `self.deberta`."""

    model_type = "deberta-v2"
    base_model_prefix = "deberta"
    backbone_class = DebertaV2Model


class DebertaPreTrainedModel(PreTrainedModel):
    """Base of the DeBERTa (v1) head models: the backbone lives in `self.deberta`."""

    model_type = "deberta"
    base_model_prefix = "deberta"
    backbone_class = DebertaModel


_DOC = {
    "SequenceClassification": "with `ContextPooler` (dropout, dense, `pooler_hidden_act`) and a linear classifier.",
    "TokenClassification": "with a per-token linear classifier.",
    "QuestionAnswering": "with a span head (`start_logits`, `end_logits`).",
    "MaskedLM": "with the masked-LM head tied to the word embeddings.",
    "MultipleChoice": "scoring each of `num_choices` sequences from the context pooler.",
}


def _head(name, mixin, base, version):
    doc = f"DeBERTa{version} {_DOC[name]}\n\n    References: `transformers.Deberta{version}For{name}`.\n    "
    return type(f"Deberta{version}For{name}", (mixin, base), {"__doc__": doc, "__module__": __name__})


DebertaV2ForSequenceClassification = _head("SequenceClassification", SequenceClassificationMixin,
                                           DebertaV2PreTrainedModel, "V2")
DebertaV2ForTokenClassification = _head("TokenClassification", TokenClassificationMixin,
                                        DebertaV2PreTrainedModel, "V2")
DebertaV2ForQuestionAnswering = _head("QuestionAnswering", QuestionAnsweringMixin, DebertaV2PreTrainedModel, "V2")
DebertaV2ForMaskedLM = _head("MaskedLM", _DebertaMaskedLMMixin, DebertaV2PreTrainedModel, "V2")
DebertaV2ForMultipleChoice = _head("MultipleChoice", MultipleChoiceMixin, DebertaV2PreTrainedModel, "V2")
DebertaForSequenceClassification = _head("SequenceClassification", SequenceClassificationMixin,
                                         DebertaPreTrainedModel, "")
DebertaForTokenClassification = _head("TokenClassification", TokenClassificationMixin, DebertaPreTrainedModel, "")
DebertaForQuestionAnswering = _head("QuestionAnswering", QuestionAnsweringMixin, DebertaPreTrainedModel, "")
DebertaForMaskedLM = _head("MaskedLM", _DebertaMaskedLMMixin, DebertaPreTrainedModel, "")
