"""LUKE: RoBERTa-style word tokens plus entity tokens, with entity-aware self-attention.

The encoder runs over `[words; entities]`: word embeddings as RoBERTa's
(positions counted from `pad_token_id + 1`), entity embeddings from an entity
table (projected from `entity_emb_size` to `hidden_size` without bias) plus
the mean position embedding of each entity's mention tokens
(`entity_position_ids`, `-1` = padding) and token types. The blocks are
BERT's post-norm blocks with `EntityAwareAttention` (query projections
`query` / `w2e_query` / `e2w_query` / `e2e_query` by query and key type,
`use_entity_aware_attention`).

References:
    Yamada et al., "LUKE: Deep Contextualized Entity Representations with
    Entity-aware Self-attention", EMNLP 2020.
    Parity reference: `transformers.models.luke.modeling_luke` (PyTorch).
"""

import numpy as np
from keras import ops

from tfmodels.layers import TransformerEmbeddings
from tfmodels.layers.attention.entity_aware_attention import EntityAwareEncoderBlock
from tfmodels.layers.block_stack import run_block_stack
from tfmodels.layers.kv_cache import check_sequence_length
from tfmodels.models.base import PreTrainedModel, stack_outputs
from tfmodels.models.luke.heads import (  # noqa: F401  (re-exported)
    EntityClassificationMixin,
    EntityPairClassificationMixin,
    EntitySpanClassificationMixin,
    LukeMaskedLMMixin,
    LukeMultipleChoiceMixin,
)
from tfmodels.models.encoder import EncoderModel, attention_mask_to_bool
from tfmodels.models.heads import (
    QuestionAnsweringMixin,
    SequenceClassificationMixin,
    TokenClassificationMixin,
)

ENTITY_INPUTS = ("entity_ids", "entity_attention_mask", "entity_token_type_ids", "entity_position_ids")
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids", "position_ids", *ENTITY_INPUTS)
# Exported signatures take entities too: `{name: trailing dims}` (`tfmodels.export.saved_model`).
SERVING_ENTITY_INPUTS = {"entity_ids": (), "entity_attention_mask": (), "entity_token_type_ids": (),
                         "entity_position_ids": (None,)}


def luke_dummy_inputs(batch_size=1, seq_len=4):
    """Word and entity inputs (two one-token entities, for the pair head): a call on them builds every variable."""
    return {
        "input_ids": np.full((batch_size, seq_len), 5, dtype="int32"),
        "entity_ids": np.ones((batch_size, 2), dtype="int32"),
        "entity_position_ids": np.zeros((batch_size, 2, 1), dtype="int32"),
    }


class LukeModel(EncoderModel):
    """The LUKE encoder over word tokens and (optionally) entity tokens.

    Args: the fields of a Hugging Face LUKE `config.json`: BERT's
    (`vocab_size`, `hidden_size`, ..., `pad_token_id` default 1) plus
        entity_vocab_size: int, entities in the entity vocabulary.
        entity_emb_size: int, width of the entity table (projected to
            `hidden_size` when they differ).
        use_entity_aware_attention: bool, the w2e/e2w/e2e query projections.

    Call inputs (dict or keywords; int32/int64):
        input_ids: `(batch, seq_len)` word token ids.
        attention_mask, token_type_ids, position_ids: `(batch, seq_len)`, as RoBERTa's.
        entity_ids: optional `(batch, entity_len)` entity ids.
        entity_position_ids: `(batch, entity_len, max_mention_length)` word
            positions of each entity's mention, `-1` for padding; required
            with `entity_ids`.
        entity_attention_mask: optional `(batch, entity_len)`, 1 = real entity; ones if absent.
        entity_token_type_ids: optional `(batch, entity_len)`; zeros if absent.

    Returns:
        dict with `last_hidden_state` `(batch, seq_len, hidden_size)`,
        `pooler_output` `(batch, hidden_size)` (with a pooler), and with
        entities `entity_last_hidden_state` `(batch, entity_len, hidden_size)`;
        when asked, `hidden_states` / `entity_hidden_states` (tuples of
        `num_hidden_layers + 1` word / entity states) and `attentions`
        (tuple of `(batch, num_heads, seq_len + entity_len, seq_len + entity_len)`).

    Raises:
        ValueError: for `entity_ids` without `entity_position_ids` (or entity
            inputs without `entity_ids`), a sequence longer than
            `max_position_embeddings - pad_token_id - 1`, or ids outside their tables.

    References: `transformers.LukeModel`.
    """

    model_type = "luke"
    input_names = INPUT_NAMES
    serving_outputs = ("last_hidden_state", "pooler_output", "entity_last_hidden_state")
    serving_extra_inputs = SERVING_ENTITY_INPUTS

    def __init__(
        self,
        vocab_size=50267,
        entity_vocab_size=500000,
        hidden_size=768,
        entity_emb_size=256,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        hidden_act="gelu",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=512,
        type_vocab_size=2,
        initializer_range=0.02,
        layer_norm_eps=1e-12,
        use_entity_aware_attention=True,
        pad_token_id=1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._record_config(locals())
        self._build_from_bert_fields(position_padding_idx=pad_token_id)
        self.entity_embeddings = TransformerEmbeddings(
            vocab_size=entity_vocab_size,
            hidden_size=hidden_size,
            max_position_embeddings=max_position_embeddings,
            type_vocab_size=type_vocab_size,
            layer_norm_eps=layer_norm_eps,
            dropout=hidden_dropout_prob,
            initializer_range=initializer_range,
            word_embedding_size=entity_emb_size if entity_emb_size != hidden_size else None,
            transformation_use_bias=False,
            dtype=self.dtype_policy,
            name="entity_embeddings",
        )

    def _make_encoder_layer(self, index):
        return EntityAwareEncoderBlock(
            **self._block_kwargs, attention_kwargs={"entity_aware": self.config["use_entity_aware_attention"]},
            dtype=self.dtype_policy, name=f"encoder_layer_{index}",
        )

    def dummy_inputs(self, batch_size=1, seq_len=4):
        return luke_dummy_inputs(batch_size, seq_len)

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = self._prepare_inputs(inputs)
        if "position_ids" not in inputs:
            check_sequence_length(inputs["input_ids"], self.max_positions, type(self).__name__,
                                  position_offset=self._position_offset)
        x = self._embed(inputs, training)  # (batch, seq_len, hidden)
        word_length = ops.shape(x)[1]
        mask = inputs.get("attention_mask")
        if mask is None:
            mask = ops.ones(ops.shape(inputs["input_ids"]), "int32")
        block_kwargs = {}
        entity_ids = inputs.get("entity_ids")
        if entity_ids is None:
            given = sorted(k for k in ENTITY_INPUTS if k in inputs)
            if given:
                raise ValueError(f"{type(self).__name__} got {given} without `entity_ids`; pass `entity_ids` "
                                 "(batch, entity_len) with them, or leave them out.")
        else:
            if "entity_position_ids" not in inputs:
                raise ValueError(
                    f"{type(self).__name__} needs `entity_position_ids` (batch, entity_len, max_mention_length) "
                    "with `entity_ids`: the word positions of each entity's mention, -1 for padding "
                    "(the LUKE tokenizer returns them).")
            entities = self.entity_embeddings(
                entity_ids, token_type_ids=inputs.get("entity_token_type_ids"),
                position_ids=inputs["entity_position_ids"], training=training,
            )  # (batch, entity_len, hidden)
            entity_mask = inputs.get("entity_attention_mask")
            if entity_mask is None:
                entity_mask = ops.ones(ops.shape(entity_ids), "int32")
            mask = ops.concatenate([ops.cast(mask, "int32"), ops.cast(entity_mask, "int32")], axis=-1)
            x = ops.concatenate([x, ops.cast(entities, x.dtype)], axis=1)  # (batch, seq_len + entity_len, hidden)
            block_kwargs["word_length"] = word_length
        stack = run_block_stack(
            self.encoder_layers, x, call_kwargs={"attention_mask": attention_mask_to_bool(mask), **block_kwargs},
            output_attentions=output_attentions, training=training,
        )
        words = stack.x[:, :word_length]
        outputs = {"last_hidden_state": words}
        if self.pooler is not None:
            outputs["pooler_output"] = self.pooler(words)
        outputs = stack_outputs(outputs, output_hidden_states, output_attentions,
                                [h[:, :word_length] for h in stack.hidden_states], stack.attentions)
        if entity_ids is not None:
            outputs["entity_last_hidden_state"] = stack.x[:, word_length:]
            if output_hidden_states:
                outputs["entity_hidden_states"] = tuple(h[:, word_length:] for h in stack.hidden_states)
        return outputs


class LukePreTrainedModel(PreTrainedModel):
    """Base of the LUKE head models: the backbone lives in `self.luke`."""

    model_type = "luke"
    base_model_prefix = "luke"
    backbone_class = LukeModel
    input_names = INPUT_NAMES
    serving_extra_inputs = SERVING_ENTITY_INPUTS

    def dummy_inputs(self, batch_size=1, seq_len=4):
        return luke_dummy_inputs(batch_size, seq_len)


class LukeForMaskedLM(LukeMaskedLMMixin, LukePreTrainedModel):
    """LUKE + `lm_head` (RoBERTa's, untied) + `entity_predictions` (tied to the entity table).

    Returns:
        dict with `logits` `(batch, seq_len, vocab_size)`, with entities
        `entity_logits` `(batch, entity_len, entity_vocab_size)`, and with
        `labels` and/or `entity_labels` the losses `mlm_loss`, `mep_loss` and
        `loss` (their sum), -100 ignored.

    References: `transformers.LukeForMaskedLM`.
    """


class LukeForEntityClassification(EntityClassificationMixin, LukePreTrainedModel):
    """LUKE + dropout + linear classifier on the first entity's state; `logits (batch, num_labels)`.

    Loss: cross-entropy for `labels (batch,)`, binary cross-entropy for
    `labels (batch, num_labels)`. References: `transformers.LukeForEntityClassification`.
    """


class LukeForEntityPairClassification(EntityPairClassificationMixin, LukePreTrainedModel):
    """LUKE + a bias-free linear classifier on the first two entities' states concatenated.

    References: `transformers.LukeForEntityPairClassification`.
    """


class LukeForEntitySpanClassification(EntitySpanClassificationMixin, LukePreTrainedModel):
    """LUKE + a linear classifier on `[start word; end word; entity]` states per entity span.

    Extra inputs `entity_start_positions`, `entity_end_positions` `(batch,
    entity_len)`; `logits (batch, entity_len, num_labels)`.

    References: `transformers.LukeForEntitySpanClassification`.
    """

    input_names = (*INPUT_NAMES, "entity_start_positions", "entity_end_positions")
    serving_extra_inputs = {**SERVING_ENTITY_INPUTS, "entity_start_positions": (), "entity_end_positions": ()}


class LukeForSequenceClassification(SequenceClassificationMixin, LukePreTrainedModel):
    """LUKE + dropout + linear classifier on `pooler_output`; `logits (batch, num_labels)`.

    References: `transformers.LukeForSequenceClassification`.
    """


class LukeForTokenClassification(TokenClassificationMixin, LukePreTrainedModel):
    """LUKE + per-word linear classifier; `logits (batch, seq_len, num_labels)`.

    References: `transformers.LukeForTokenClassification`.
    """


class LukeForQuestionAnswering(QuestionAnsweringMixin, LukePreTrainedModel):
    """LUKE + span head on the word states; `start_logits`, `end_logits (batch, seq_len)`.

    References: `transformers.LukeForQuestionAnswering`.
    """


class LukeForMultipleChoice(LukeMultipleChoiceMixin, LukePreTrainedModel):
    """LUKE scoring `(batch, num_choices, ...)` word and entity inputs from the pooler; `logits (batch, num_choices)`.

    References: `transformers.LukeForMultipleChoice`.
    """
