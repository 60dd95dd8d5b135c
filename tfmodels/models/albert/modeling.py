"""ALBERT: factorised embeddings and encoder blocks shared across layers.

References:
    Lan et al., "ALBERT: A Lite BERT for Self-supervised Learning of Language
    Representations", ICLR 2020.
    Parity reference: `transformers.models.albert.modeling_albert` (PyTorch).
"""


from tfmodels.models.base import PreTrainedModel
from tfmodels.models.encoder import EncoderModel
from tfmodels.models.heads import (
    MaskedLMMixin,
    MultipleChoiceMixin,
    QuestionAnsweringMixin,
    SequenceClassificationMixin,
    TokenClassificationMixin,
)
from tfmodels.models.pretraining_heads import PreTrainingMixin


class AlbertModel(EncoderModel):
    """The ALBERT encoder.

    `embedding_size`-wide embeddings are always projected to `hidden_size`
    (`embedding_hidden_mapping_in`); `num_hidden_groups * inner_group_num`
    distinct blocks serve `num_hidden_layers` layers: layer `i` applies the
    `inner_group_num` blocks of group `int(i / (num_hidden_layers / num_hidden_groups))`.
    `hidden_states` / `attentions` hold one entry per applied block, as in
    `transformers` v5.

    Args: the fields of a Hugging Face ALBERT `config.json`.

    Returns: as `BertModel` (`pooler_output` with the tanh pooler).

    References: `transformers.AlbertModel`.
    """

    model_type = "albert"

    def __init__(
        self,
        vocab_size=30000,
        embedding_size=128,
        hidden_size=4096,
        num_hidden_layers=12,
        num_hidden_groups=1,
        num_attention_heads=64,
        intermediate_size=16384,
        inner_group_num=1,
        hidden_act="gelu_new",
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        max_position_embeddings=512,
        type_vocab_size=2,
        initializer_range=0.02,
        layer_norm_eps=1e-12,
        classifier_dropout_prob=0.1,
        position_embedding_type="absolute",
        pad_token_id=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._record_config(locals())
        self._build_from_bert_fields(embedding_size=embedding_size, project_embeddings=True,
                                     num_hidden_groups=num_hidden_groups, inner_group_num=inner_group_num)
        self.arch["classifier_dropout"] = classifier_dropout_prob


class AlbertPreTrainedModel(PreTrainedModel):
    model_type = "albert"
    base_model_prefix = "albert"
    backbone_class = AlbertModel


class AlbertForSequenceClassification(SequenceClassificationMixin, AlbertPreTrainedModel):
    """ALBERT + dropout + linear classifier on the pooled output."""


class AlbertForTokenClassification(TokenClassificationMixin, AlbertPreTrainedModel):
    """ALBERT + dropout + per-token linear classifier."""


class AlbertForQuestionAnswering(QuestionAnsweringMixin, AlbertPreTrainedModel):
    """ALBERT + span head."""


class AlbertForMultipleChoice(MultipleChoiceMixin, AlbertPreTrainedModel):
    """ALBERT scoring `(batch, num_choices, seq_len)` inputs from the pooled output."""


class AlbertForMaskedLM(MaskedLMMixin, AlbertPreTrainedModel):
    """ALBERT + `AlbertMLMHead` (dense to `embedding_size`, `hidden_act`, LayerNorm, tied decoder + bias)."""


class AlbertForPreTraining(PreTrainingMixin, AlbertPreTrainedModel):
    """ALBERT with the masked-LM head and the sentence-order-prediction head (`sop_classifier`).

    Returns:
        dict with `prediction_logits` `(batch, seq_len, vocab_size)`,
        `sop_logits` `(batch, num_labels)` and, when `labels` and
        `sentence_order_label` are given, `loss` (sum of both cross-entropies).

    References: `transformers.AlbertForPreTraining`.
    """

    sentence_logits_name = "sop_logits"
    sentence_label_name = "sentence_order_label"
    sentence_dropout = True
