"""DistilBERT: a 6-layer BERT without token types or pooler, with its own config names.

References:
    Sanh et al., "DistilBERT, a distilled version of BERT: smaller, faster,
    cheaper and lighter", 2019.
    Parity reference: `transformers.models.distilbert.modeling_distilbert` (PyTorch).
"""


from tfmodels.layers.position.sinusoidal import SinusoidalInitializer
from tfmodels.models.base import PreTrainedModel
from tfmodels.models.encoder import EncoderModel
from tfmodels.models.heads import (
    MaskedLMMixin,
    MultipleChoiceMixin,
    QuestionAnsweringMixin,
    SequenceClassificationMixin,
    TokenClassificationMixin,
)

_INPUTS = ("input_ids", "attention_mask", "position_ids")


class DistilBertModel(EncoderModel):
    """The DistilBERT encoder: word + position embeddings, `n_layers` post-norm blocks.

    Args: the fields of a Hugging Face DistilBERT `config.json`: `dim`
    (width), `hidden_dim` (feed-forward width), `n_heads`, `n_layers`,
    `dropout`, `attention_dropout`, `activation`, `sinusoidal_pos_embds`
    (fixed, non-trainable sinusoidal position table for fresh models;
    checkpoints store the table), `qa_dropout`, `seq_classif_dropout`, ...
    LayerNorm epsilon is 1e-12 as in the reference.

    Call inputs: `input_ids`, `attention_mask`, `position_ids` (no token types).

    Returns: dict with `last_hidden_state` `(batch, seq_len, dim)` and, when
    asked, `hidden_states` / `attentions`.

    References: `transformers.DistilBertModel`.
    """

    model_type = "distilbert"
    has_pooler = False
    input_names = _INPUTS
    serving_outputs = ("last_hidden_state",)

    def __init__(
        self,
        vocab_size=30522,
        max_position_embeddings=512,
        sinusoidal_pos_embds=False,
        n_layers=6,
        n_heads=12,
        dim=768,
        hidden_dim=3072,
        dropout=0.1,
        attention_dropout=0.1,
        activation="gelu",
        initializer_range=0.02,
        qa_dropout=0.1,
        seq_classif_dropout=0.2,
        pad_token_id=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._record_config(locals())
        self._build_encoder(
            vocab_size=vocab_size, hidden_size=dim, num_hidden_layers=n_layers, num_attention_heads=n_heads,
            intermediate_size=hidden_dim, hidden_act=activation, hidden_dropout_prob=dropout,
            attention_probs_dropout_prob=attention_dropout, max_position_embeddings=max_position_embeddings,
            type_vocab_size=0, initializer_range=initializer_range, layer_norm_eps=1e-12,
        )
        if sinusoidal_pos_embds:
            self.embeddings.position_embeddings.embeddings_initializer = SinusoidalInitializer()
            self.embeddings.position_embeddings.trainable = False


class DistilBertPreTrainedModel(PreTrainedModel):
    model_type = "distilbert"
    base_model_prefix = "distilbert"
    backbone_class = DistilBertModel
    input_names = _INPUTS


class DistilBertForSequenceClassification(SequenceClassificationMixin, DistilBertPreTrainedModel):
    """DistilBERT + `pre_classifier` + relu + dropout(`seq_classif_dropout`) + `classifier` on the first token."""

    classifier_activation = "relu"
    classifier_input_dropout = False

    @property
    def classifier_dropout_rate(self):
        return self.backbone.config["seq_classif_dropout"]


class DistilBertForMultipleChoice(MultipleChoiceMixin, DistilBertPreTrainedModel):
    """DistilBERT scoring `(batch, num_choices, seq_len)` inputs with the sequence classifier's head shape."""

    classifier_activation = "relu"
    classifier_input_dropout = False

    @property
    def classifier_dropout_rate(self):
        return self.backbone.config["seq_classif_dropout"]


class DistilBertForTokenClassification(TokenClassificationMixin, DistilBertPreTrainedModel):
    """DistilBERT + dropout + per-token linear classifier."""


class DistilBertForQuestionAnswering(QuestionAnsweringMixin, DistilBertPreTrainedModel):
    """DistilBERT + dropout(`qa_dropout`) + span head; `start_logits`, `end_logits (batch, seq_len)`."""

    @property
    def qa_dropout_rate(self):
        return self.backbone.config["qa_dropout"]


class DistilBertForMaskedLM(MaskedLMMixin, DistilBertPreTrainedModel):
    """DistilBERT + `vocab_transform`, activation, `vocab_layer_norm`, tied `vocab_projector` + bias."""
