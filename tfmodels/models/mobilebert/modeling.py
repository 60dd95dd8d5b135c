"""MobileBERT: BERT with bottleneck blocks, stacked feed-forwards, `NoNorm`, trigram input.

The forward pass is `BertModel`'s; only the layers differ: embeddings with a
narrow token table, trigram concatenation and `normalization_type`
(`TransformerEmbeddings` flags), `BottleneckEncoderBlock` blocks, and a pooler
without dense layer when `classifier_activation=False`.

References:
    Sun et al., "MobileBERT: a Compact Task-Agnostic BERT for
    Resource-Limited Devices", ACL 2020.
    Parity reference: `transformers.models.mobilebert.modeling_mobilebert` (PyTorch).
"""


from tfmodels.layers import MaskedLMHead, Pooler, TransformerEmbeddings
from tfmodels.layers.bottleneck_block import BottleneckEncoderBlock
from tfmodels.layers.losses import masked_sparse_categorical_crossentropy
from tfmodels.layers.utils import hf_initializer
from tfmodels.models.base import PreTrainedModel
from tfmodels.models.bert.modeling import BertModel
from tfmodels.models.heads import (
    MaskedLMMixin,
    MultipleChoiceMixin,
    QuestionAnsweringMixin,
    SequenceClassificationMixin,
    TokenClassificationMixin,
)

_TORCH_LAYER_NORM_EPS = 1e-5  # transformers builds some MobileBERT LayerNorms without eps


class MobileBertModel(BertModel):
    """The MobileBERT encoder; constructor arguments are a MobileBERT `config.json`'s fields.

    Args: the `BertModel` fields plus `embedding_size`, `trigram_input`,
    `use_bottleneck`, `intra_bottleneck_size`, `use_bottleneck_attention`,
    `key_query_shared_bottleneck`, `num_feedforward_networks`,
    `normalization_type` (`"no_norm"` or `"layer_norm"`),
    `classifier_activation` (pooler dense + tanh, else the first token).

    Call inputs and returns: as `BertModel`.
    """

    model_type = "mobilebert"

    def __init__(
        self, vocab_size=30522, hidden_size=512, num_hidden_layers=24, num_attention_heads=4, intermediate_size=512,
        hidden_act="relu", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.1, max_position_embeddings=512,
        type_vocab_size=2, initializer_range=0.02, layer_norm_eps=1e-12, pad_token_id=0, embedding_size=128,
        trigram_input=True, use_bottleneck=True, intra_bottleneck_size=128, use_bottleneck_attention=False,
        key_query_shared_bottleneck=True, num_feedforward_networks=4, normalization_type="no_norm",
        classifier_activation=True, classifier_dropout=None, add_pooling_layer=True, **kwargs,
    ):
        PreTrainedModel.__init__(self, **kwargs)  # BertModel's layers are replaced, not built
        self._record_config(locals(), exclude=("add_pooling_layer",))
        self.add_pooling_layer = add_pooling_layer
        init = hf_initializer(initializer_range)
        self.embeddings = TransformerEmbeddings(
            vocab_size=vocab_size, hidden_size=hidden_size, max_position_embeddings=max_position_embeddings,
            type_vocab_size=type_vocab_size, layer_norm_eps=_TORCH_LAYER_NORM_EPS, dropout=hidden_dropout_prob,
            initializer_range=initializer_range, word_embedding_size=embedding_size, trigram_input=trigram_input,
            normalization=normalization_type, dtype=self.dtype_policy, name="embeddings",
        )
        self.encoder_layers = [
            BottleneckEncoderBlock(
                num_heads=num_attention_heads, intermediate_size=intermediate_size,
                bottleneck_size=intra_bottleneck_size if use_bottleneck else None,
                bottleneck_attention=use_bottleneck_attention,
                shared_query_key_bottleneck=key_query_shared_bottleneck,
                num_feedforward_networks=num_feedforward_networks, hidden_act=hidden_act,
                hidden_dropout=hidden_dropout_prob, attention_dropout=attention_probs_dropout_prob,
                normalization_type=normalization_type, layer_norm_eps=layer_norm_eps,
                output_norm_eps=_TORCH_LAYER_NORM_EPS, kernel_initializer=init,
                dtype=self.dtype_policy, name=f"encoder_layer_{i}",
            )
            for i in range(num_hidden_layers)
        ]
        self.pooler = None
        if add_pooling_layer:
            self.pooler = Pooler(hidden_size, use_dense=classifier_activation, kernel_initializer=init,
                                 dtype=self.dtype_policy, name="pooler")


class MobileBertPreTrainedModel(PreTrainedModel):
    """Base of the MobileBERT heads: the backbone lives in `self.mobilebert`."""

    model_type = "mobilebert"
    base_model_prefix = "mobilebert"
    backbone_class = MobileBertModel


class MobileBertForSequenceClassification(SequenceClassificationMixin, MobileBertPreTrainedModel):
    """`transformers.MobileBertForSequenceClassification`."""


class MobileBertForTokenClassification(TokenClassificationMixin, MobileBertPreTrainedModel):
    """`transformers.MobileBertForTokenClassification`."""


class MobileBertForQuestionAnswering(QuestionAnsweringMixin, MobileBertPreTrainedModel):
    """`transformers.MobileBertForQuestionAnswering`."""


class MobileBertForMultipleChoice(MultipleChoiceMixin, MobileBertPreTrainedModel):
    """`transformers.MobileBertForMultipleChoice`."""


class MobileBertForNextSentencePrediction(SequenceClassificationMixin, MobileBertPreTrainedModel):
    """`transformers.MobileBertForNextSentencePrediction`: 2-way classifier
    (`cls.seq_relationship`) on the pooled output; `labels` 0 = is next."""

    def __init__(self, **kwargs):
        kwargs.pop("num_labels", None)
        super().__init__(num_labels=2, **kwargs)


class MobileBertForMaskedLM(MaskedLMMixin, MobileBertPreTrainedModel):
    """`transformers.MobileBertForMaskedLM`: tied to the narrow word table plus an
    own `(hidden_size - embedding_size, vocab_size)` block."""

    def _make_lm_head(self):
        config = self.backbone.config
        self.lm_head = MaskedLMHead(
            vocab_size=config["vocab_size"], hidden_size=config["hidden_size"], hidden_act=config["hidden_act"],
            layer_norm_eps=config["layer_norm_eps"], embedding_size=config["embedding_size"],
            tie_word_embeddings=self.backbone.extra_config.get("tie_word_embeddings", True),
            kernel_initializer=hf_initializer(config["initializer_range"]), dtype=self.dtype_policy, name="lm_head",
        )

    def _lm_logits(self, hidden_states):
        return self.lm_head(hidden_states, embedding_matrix=self.backbone.embeddings.word_embeddings.embeddings)


class MobileBertForPreTraining(MobileBertForMaskedLM):
    """`transformers.MobileBertForPreTraining`: the masked-LM head plus the next-sentence
    classifier `cls.seq_relationship` on the pooled output.

    Returns:
        dict with `prediction_logits` `(batch, seq_len, vocab_size)`,
        `seq_relationship_logits` `(batch, 2)`, and `loss` (masked-LM plus
        next-sentence cross-entropy) when `labels` and `next_sentence_label` are given.
    """

    label_names = ("labels", "next_sentence_label")
    serving_outputs = ("prediction_logits", "seq_relationship_logits")
    backbone_kwargs = {"add_pooling_layer": True}

    def _make_lm_head(self):
        super()._make_lm_head()
        self.seq_relationship = self._dense(2, "seq_relationship")

    def _head_outputs(self, inputs, training, output_attentions, output_hidden_states):
        backbone_outputs = self._backbone_outputs(inputs, training, output_attentions, output_hidden_states)
        outputs = {
            "prediction_logits": self._lm_logits(backbone_outputs["last_hidden_state"]),
            "seq_relationship_logits": self.seq_relationship(backbone_outputs["pooler_output"]),
        }
        return self._passthrough(outputs, backbone_outputs)

    def task_loss(self, labels, outputs, sample_weight=None):
        return (masked_sparse_categorical_crossentropy(labels["labels"], outputs["prediction_logits"],
                                                       sample_weight=sample_weight)
                + masked_sparse_categorical_crossentropy(labels["next_sentence_label"],
                                                         outputs["seq_relationship_logits"], sample_weight=sample_weight))
