"""RoBERTa, XLM-RoBERTa and CamemBERT: BERT with padding-offset positions.

The three share one architecture (and checkpoint layout under `roberta.`);
they differ from BERT in the position ids (`create_position_ids_from_input_ids`:
counted from `pad_token_id + 1`, padding tokens at `pad_token_id`), the
sentence classifier (dense + tanh + out_proj on the first token, no pooler)
and the LM head (always exact gelu, own bias).

References:
    Liu et al., "RoBERTa: A Robustly Optimized BERT Pretraining Approach", 2019.
    Conneau et al., "Unsupervised Cross-lingual Representation Learning at Scale", 2020.
    Martin et al., "CamemBERT: a Tasty French Language Model", 2020.
    Parity reference: `transformers.models.roberta.modeling_roberta` (PyTorch).
"""


from tfmodels.models.bert.modeling import BertModel
from tfmodels.models.base import PreTrainedModel
from tfmodels.models.causal import EncoderCausalLMMixin
from tfmodels.models.heads import (
    MaskedLMMixin,
    MultipleChoiceMixin,
    QuestionAnsweringMixin,
    SequenceClassificationMixin,
    TokenClassificationMixin,
)


class RobertaModel(BertModel):
    """The RoBERTa encoder: `BertModel` with position ids offset by `pad_token_id`.

    Args: the fields of a Hugging Face RoBERTa `config.json` (BERT's fields;
    `pad_token_id` defaults to 1). Sequences are limited to
    `max_position_embeddings - pad_token_id - 1` tokens.

    Returns: as `BertModel`.

    References: `transformers.RobertaModel`.
    """

    model_type = "roberta"

    def __init__(self, pad_token_id=1, **kwargs):
        super().__init__(pad_token_id=pad_token_id, **kwargs)

    def _architecture_options(self):
        return {"position_padding_idx": self.config["pad_token_id"]}


class RobertaPreTrainedModel(PreTrainedModel):
    model_type = "roberta"
    base_model_prefix = "roberta"
    backbone_class = RobertaModel


class RobertaForSequenceClassification(SequenceClassificationMixin, RobertaPreTrainedModel):
    """RoBERTa + `RobertaClassificationHead` (dense + tanh + out_proj on `<s>`); `logits (batch, num_labels)`."""

    classifier_activation = "tanh"


class RobertaForTokenClassification(TokenClassificationMixin, RobertaPreTrainedModel):
    """RoBERTa + per-token linear classifier; `logits (batch, seq_len, num_labels)`."""


class RobertaForQuestionAnswering(QuestionAnsweringMixin, RobertaPreTrainedModel):
    """RoBERTa + span head; `start_logits`, `end_logits (batch, seq_len)`."""


class RobertaForMultipleChoice(MultipleChoiceMixin, RobertaPreTrainedModel):
    """RoBERTa scoring `(batch, num_choices, seq_len)` inputs from the pooler; `logits (batch, num_choices)`."""


class RobertaForMaskedLM(MaskedLMMixin, RobertaPreTrainedModel):
    """RoBERTa + `RobertaLMHead` (dense, gelu, LayerNorm, tied decoder + bias); `logits (batch, seq_len, vocab)`."""

    lm_head_activation = "gelu"


# XLM-RoBERTa and CamemBERT: the same classes under another model_type.


class XLMRobertaModel(RobertaModel):
    """XLM-RoBERTa encoder (`transformers.XLMRobertaModel`), identical to `RobertaModel`."""

    model_type = "xlm-roberta"


class XLMRobertaPreTrainedModel(RobertaPreTrainedModel):
    model_type = "xlm-roberta"
    backbone_class = XLMRobertaModel


class XLMRobertaForSequenceClassification(SequenceClassificationMixin, XLMRobertaPreTrainedModel):
    """`transformers.XLMRobertaForSequenceClassification`."""

    classifier_activation = "tanh"


class XLMRobertaForTokenClassification(TokenClassificationMixin, XLMRobertaPreTrainedModel):
    """`transformers.XLMRobertaForTokenClassification`."""


class XLMRobertaForQuestionAnswering(QuestionAnsweringMixin, XLMRobertaPreTrainedModel):
    """`transformers.XLMRobertaForQuestionAnswering`."""


class XLMRobertaForMultipleChoice(MultipleChoiceMixin, XLMRobertaPreTrainedModel):
    """`transformers.XLMRobertaForMultipleChoice`."""


class XLMRobertaForMaskedLM(MaskedLMMixin, XLMRobertaPreTrainedModel):
    """`transformers.XLMRobertaForMaskedLM`."""

    lm_head_activation = "gelu"


class CamembertModel(RobertaModel):
    """CamemBERT encoder (`transformers.CamembertModel`), identical to `RobertaModel`."""

    model_type = "camembert"


class CamembertPreTrainedModel(RobertaPreTrainedModel):
    model_type = "camembert"
    backbone_class = CamembertModel


class CamembertForSequenceClassification(SequenceClassificationMixin, CamembertPreTrainedModel):
    """`transformers.CamembertForSequenceClassification`."""

    classifier_activation = "tanh"


class CamembertForTokenClassification(TokenClassificationMixin, CamembertPreTrainedModel):
    """`transformers.CamembertForTokenClassification`."""


class CamembertForQuestionAnswering(QuestionAnsweringMixin, CamembertPreTrainedModel):
    """`transformers.CamembertForQuestionAnswering`."""


class CamembertForMultipleChoice(MultipleChoiceMixin, CamembertPreTrainedModel):
    """`transformers.CamembertForMultipleChoice`."""


class CamembertForMaskedLM(MaskedLMMixin, CamembertPreTrainedModel):
    """`transformers.CamembertForMaskedLM`."""

    lm_head_activation = "gelu"


class RobertaForCausalLM(EncoderCausalLMMixin, RobertaPreTrainedModel):
    """`transformers.RobertaForCausalLM`: causal self-attention (`is_decoder=True`) + the `lm_head` of the masked LM.

    `generate()` decodes over a KV cache (XLA-compiled).
    """

    lm_head_activation = "gelu"


class XLMRobertaForCausalLM(EncoderCausalLMMixin, XLMRobertaPreTrainedModel):
    """`transformers.XLMRobertaForCausalLM`: causal self-attention (`is_decoder=True`) + the `lm_head` of the masked LM.

    `generate()` decodes over a KV cache (XLA-compiled).
    """

    lm_head_activation = "gelu"


class CamembertForCausalLM(EncoderCausalLMMixin, CamembertPreTrainedModel):
    """`transformers.CamembertForCausalLM`: causal self-attention (`is_decoder=True`) + the `lm_head` of the masked LM.

    `generate()` decodes over a KV cache (XLA-compiled).
    """

    lm_head_activation = "gelu"
