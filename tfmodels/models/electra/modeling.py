"""ELECTRA: BERT with factorised embeddings, a discriminator and a generator head.

References:
    Clark et al., "ELECTRA: Pre-training Text Encoders as Discriminators
    Rather Than Generators", ICLR 2020.
    Parity reference: `transformers.models.electra.modeling_electra` (PyTorch).
"""

from tfmodels.layers import ClassificationHead
from tfmodels.layers.losses import binary_crossentropy
from tfmodels.layers.utils import hf_initializer
from tfmodels.models.base import PreTrainedModel
from tfmodels.models.causal import EncoderCausalLMMixin
from tfmodels.models.encoder import EncoderModel
from tfmodels.models.heads import (
    HeadModelMixin,
    MaskedLMMixin,
    MultipleChoiceMixin,
    QuestionAnsweringMixin,
    SequenceClassificationMixin,
    TokenClassificationMixin,
)
from tfmodels.models.seq2seq import CROSS_ATTENTION_INPUTS


class ElectraModel(EncoderModel):
    """The ELECTRA encoder: `embedding_size`-wide embeddings, projected to
    `hidden_size` when the two differ, then BERT blocks; no pooler.

    Args: the fields of a Hugging Face ELECTRA `config.json` (BERT's plus
    `embedding_size` and the `summary_*` fields used by multiple choice).

    Returns: dict with `last_hidden_state` `(batch, seq_len, hidden_size)` and,
    when asked, `hidden_states` / `attentions` (see `BertModel`).

    References: `transformers.ElectraModel`.
    """

    model_type = "electra"
    has_pooler = False
    decoder_capable = True
    cross_attention_capable = True  # `add_cross_attention=True`: the `crossattention` sub-layers
    input_names = EncoderModel.input_names + CROSS_ATTENTION_INPUTS
    serving_outputs = ("last_hidden_state",)

    def __init__(
        self,
        vocab_size=30522,
        embedding_size=128,
        hidden_size=256,
        num_hidden_layers=12,
        num_attention_heads=4,
        intermediate_size=1024,
        hidden_act="gelu",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=512,
        type_vocab_size=2,
        initializer_range=0.02,
        layer_norm_eps=1e-12,
        summary_type="first",
        summary_use_proj=True,
        summary_activation="gelu",
        summary_last_dropout=0.1,
        pad_token_id=0,
        position_embedding_type="absolute",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._record_config(locals())
        self._build_from_bert_fields(embedding_size=embedding_size)


class ElectraPreTrainedModel(PreTrainedModel):
    model_type = "electra"
    base_model_prefix = "electra"
    backbone_class = ElectraModel


class ElectraForSequenceClassification(SequenceClassificationMixin, ElectraPreTrainedModel):
    """ELECTRA + `ElectraClassificationHead` (dense + gelu + out_proj on the first token)."""

    classifier_activation = "gelu"


class ElectraForTokenClassification(TokenClassificationMixin, ElectraPreTrainedModel):
    """ELECTRA + per-token linear classifier; `logits (batch, seq_len, num_labels)`."""


class ElectraForQuestionAnswering(QuestionAnsweringMixin, ElectraPreTrainedModel):
    """ELECTRA + span head; `start_logits`, `end_logits (batch, seq_len)`."""


class ElectraForMultipleChoice(MultipleChoiceMixin, ElectraPreTrainedModel):
    """ELECTRA + sequence summary (first token, dense, `summary_activation`) + linear scorer.

    Raises:
        ValueError: for `summary_type` other than "first" or `summary_use_proj=False`.
    """

    backbone_kwargs = {"add_pooling_layer": False}
    classifier_input_dropout = False

    @property
    def classifier_activation(self):
        config = self.backbone.config
        if config["summary_type"] != "first" or not config["summary_use_proj"]:
            raise ValueError(
                "ElectraForMultipleChoice supports summary_type='first' with summary_use_proj=True. Received: "
                f"summary_type={config['summary_type']!r}, summary_use_proj={config['summary_use_proj']!r}"
            )
        return config["summary_activation"] or "linear"

    @property
    def classifier_dropout_rate(self):
        return self.backbone.config["summary_last_dropout"]


class ElectraForMaskedLM(MaskedLMMixin, ElectraPreTrainedModel):
    """The ELECTRA generator: dense to `embedding_size` + gelu + LayerNorm, tied vocabulary projection."""

    lm_head_activation = "gelu"


class ElectraForPreTraining(HeadModelMixin, ElectraPreTrainedModel):
    """The ELECTRA discriminator: per-token replaced/original logits.

    Returns:
        dict with `logits` `(batch, seq_len)` and, when `labels` (1 =
        replaced) are given, `loss`: binary cross-entropy averaged over the
        tokens where `attention_mask` is 1.

    References: `transformers.ElectraForPreTraining`.
    """

    label_names = ("labels",)
    loss_input_names = ("attention_mask",)
    serving_outputs = ("logits",)
    backbone_kwargs = {"add_pooling_layer": False}

    def __init__(self, **kwargs):
        self._init_backbone(kwargs)
        self.config = {}
        arch = self.backbone_arch
        self.discriminator_predictions = ClassificationHead(
            arch["hidden_size"], 1, activation=arch["hidden_act"], pool_first=False,
            kernel_initializer=hf_initializer(arch["initializer_range"]),
            dtype=self.dtype_policy, name="discriminator_predictions",
        )

    def _head_outputs(self, inputs, training, output_attentions, output_hidden_states):
        backbone_outputs = self._backbone_outputs(inputs, training, output_attentions, output_hidden_states)
        logits = self.discriminator_predictions(backbone_outputs["last_hidden_state"])[..., 0]
        return self._passthrough({"logits": logits}, backbone_outputs)

    def task_loss(self, labels, outputs, sample_weight=None):
        return binary_crossentropy(labels["labels"], outputs["logits"], labels.get("attention_mask"), sample_weight)


class ElectraForCausalLM(EncoderCausalLMMixin, ElectraPreTrainedModel):
    """`transformers.ElectraForCausalLM`: causal self-attention (`is_decoder=True`) + the generator head
    (`generator_predictions` + tied `generator_lm_head`); `generate()` over a KV cache."""

    lm_head_activation = "gelu"
