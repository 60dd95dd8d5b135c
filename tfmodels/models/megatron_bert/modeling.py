"""Megatron-BERT: BERT with pre-norm blocks, no embedding LayerNorm and a final LayerNorm.

References:
    Shoeybi et al., "Megatron-LM: Training Multi-Billion Parameter Language
    Models Using Model Parallelism", 2019.
    Parity reference: `transformers.models.megatron_bert.modeling_megatron_bert` (PyTorch).
"""


from tfmodels.models.base import PreTrainedModel
from tfmodels.models.causal import EncoderCausalLMMixin
from tfmodels.models.bert.modeling import BertModel
from tfmodels.models.heads import (
    MaskedLMMixin,
    MultipleChoiceMixin,
    QuestionAnsweringMixin,
    SequenceClassificationMixin,
    TokenClassificationMixin,
)
from tfmodels.models.pretraining_heads import NextSentencePredictionMixin, PreTrainingMixin


class MegatronBertModel(BertModel):
    """The Megatron-BERT encoder: `x + attention(LN(x))`, `x + ffn(LN(x))`, then a final LayerNorm.

    Args: the fields of a Hugging Face Megatron-BERT `config.json` (BERT's fields).

    Returns: as `BertModel`; `hidden_states[-1]` is the final-LayerNorm output
    (the earlier entries are the un-normalised block inputs), as in `transformers`.

    References: `transformers.MegatronBertModel`.
    """

    model_type = "megatron-bert"
    cross_attention_capable = False  # `add_cross_attention=True` is refused (not implemented yet)

    def _architecture_options(self):
        return {"normalize_first": True, "final_layer_norm": True, "embedding_layer_norm": False}


class MegatronBertPreTrainedModel(PreTrainedModel):
    model_type = "megatron-bert"
    base_model_prefix = "bert"
    backbone_class = MegatronBertModel


class MegatronBertForSequenceClassification(SequenceClassificationMixin, MegatronBertPreTrainedModel):
    """`transformers.MegatronBertForSequenceClassification`."""


class MegatronBertForTokenClassification(TokenClassificationMixin, MegatronBertPreTrainedModel):
    """`transformers.MegatronBertForTokenClassification`."""


class MegatronBertForQuestionAnswering(QuestionAnsweringMixin, MegatronBertPreTrainedModel):
    """`transformers.MegatronBertForQuestionAnswering`."""


class MegatronBertForMultipleChoice(MultipleChoiceMixin, MegatronBertPreTrainedModel):
    """`transformers.MegatronBertForMultipleChoice`."""


class MegatronBertForMaskedLM(MaskedLMMixin, MegatronBertPreTrainedModel):
    """`transformers.MegatronBertForMaskedLM` (BERT's `cls.predictions` head)."""


class MegatronBertForPreTraining(PreTrainingMixin, MegatronBertPreTrainedModel):
    """`transformers.MegatronBertForPreTraining`: `prediction_logits` + `seq_relationship_logits` (NSP)."""

    def __init__(self, **kwargs):
        super().__init__(**{**kwargs, "num_labels": 2, "id2label": None, "label2id": None})


class MegatronBertForCausalLM(EncoderCausalLMMixin, MegatronBertPreTrainedModel):
    """`transformers.MegatronBertForCausalLM`: causal self-attention (`is_decoder=True`) + `cls.predictions`.
    `generate()` decodes over a KV cache (XLA-compiled)."""


class MegatronBertForNextSentencePrediction(NextSentencePredictionMixin, MegatronBertPreTrainedModel):
    """`transformers.MegatronBertForNextSentencePrediction`: `cls.seq_relationship` on the pooled output."""
