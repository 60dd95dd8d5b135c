"""I-BERT: RoBERTa whose layers can run in integer-only arithmetic (`quant_mode`).

With `quant_mode=False` (the default, and how checkpoints are fine-tuned
before quantization-aware training) I-BERT computes exactly RoBERTa's
function: its `QuantLinear` / `QuantEmbedding` / `QuantAct` / `IntGELU` /
`IntSoftmax` / `IntLayerNorm` modules fall back to `nn.Linear`, embedding
lookups, identity (plus the residual), exact gelu, softmax and layer norm.
These classes are the RoBERTa implementation under the `ibert` model type
and checkpoint prefix; the quantization buffers a checkpoint stores (ranges,
integer weight copies, scaling factors, shifts) do not affect the float
outputs and are ignored on loading (`tfmodels.converters.ibert`).

`quant_mode=True` is not implemented: it raises `NotImplementedError`.

References:
    Kim et al., "I-BERT: Integer-only BERT Quantization", ICML 2021.
    Parity reference: `transformers.models.ibert.modeling_ibert` (PyTorch).
"""

from tfmodels.models.heads import (
    MaskedLMMixin,
    MultipleChoiceMixin,
    QuestionAnsweringMixin,
    SequenceClassificationMixin,
    TokenClassificationMixin,
)
from tfmodels.models.roberta.modeling import RobertaModel, RobertaPreTrainedModel


class IBertModel(RobertaModel):
    """The I-BERT encoder in float mode: `RobertaModel` under `model_type="ibert"`.

    Args: the fields of a Hugging Face I-BERT `config.json`: RoBERTa's, plus
        quant_mode: bool, integer-only inference; only `False` is supported.
        force_dequant: str, which nonlinear layers stay in float in quant
            mode (`"none"`, `"gelu"`, `"softmax"`, `"layernorm"`,
            `"nonlinear"`); kept for the config, no effect in float mode.

    Returns: as `RobertaModel`.

    Raises:
        ValueError: for `hidden_act` other than `"gelu"` (the reference only
            has `IntGELU`).
        NotImplementedError: for `quant_mode=True`.

    References: `transformers.IBertModel`.
    """

    model_type = "ibert"

    def __init__(self, quant_mode=False, force_dequant="none", hidden_act="gelu", **kwargs):
        if hidden_act != "gelu":
            raise ValueError(f"I-BERT only supports hidden_act='gelu'. Received: hidden_act={hidden_act!r}")
        if quant_mode:
            raise NotImplementedError(
                "tfmodels' I-BERT runs in float mode only (quant_mode=False, RoBERTa's numerics); integer-only "
                "inference (quant_mode=True) is not implemented. Load the checkpoint with quant_mode=False.")
        super().__init__(hidden_act=hidden_act, **kwargs)
        self.config.update(quant_mode=quant_mode, force_dequant=force_dequant)


class IBertPreTrainedModel(RobertaPreTrainedModel):
    model_type = "ibert"
    base_model_prefix = "ibert"
    backbone_class = IBertModel


class IBertForSequenceClassification(SequenceClassificationMixin, IBertPreTrainedModel):
    """I-BERT + `IBertClassificationHead` (dense + tanh + out_proj on `<s>`); `logits (batch, num_labels)`.

    References: `transformers.IBertForSequenceClassification`.
    """

    classifier_activation = "tanh"


class IBertForTokenClassification(TokenClassificationMixin, IBertPreTrainedModel):
    """I-BERT + per-token linear classifier; `logits (batch, seq_len, num_labels)`.

    References: `transformers.IBertForTokenClassification`.
    """


class IBertForQuestionAnswering(QuestionAnsweringMixin, IBertPreTrainedModel):
    """I-BERT + span head; `start_logits`, `end_logits (batch, seq_len)`.

    References: `transformers.IBertForQuestionAnswering`.
    """


class IBertForMultipleChoice(MultipleChoiceMixin, IBertPreTrainedModel):
    """I-BERT scoring `(batch, num_choices, seq_len)` inputs from the pooler; `logits (batch, num_choices)`.

    References: `transformers.IBertForMultipleChoice`.
    """


class IBertForMaskedLM(MaskedLMMixin, IBertPreTrainedModel):
    """I-BERT + `IBertLMHead` (dense, gelu, LayerNorm, tied decoder + bias); `logits (batch, seq_len, vocab)`.

    References: `transformers.IBertForMaskedLM`.
    """

    lm_head_activation = "gelu"
