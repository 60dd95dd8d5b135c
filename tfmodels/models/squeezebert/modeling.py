"""SqueezeBERT: BERT with grouped 1x1 convolutions in place of its dense layers.

`BertModel` with `GroupedEncoderBlock`s; its reference returns pre-softmax
(masked) attention logits as `attentions`, and so does this model.

References:
    Iandola et al., "SqueezeBERT: What can computer vision teach NLP about
    efficient neural networks?", SustaiNLP 2020.
    Parity reference: `transformers.models.squeezebert.modeling_squeezebert` (PyTorch).
"""


from tfmodels.layers.grouped import GroupedEncoderBlock
from tfmodels.layers.utils import hf_initializer
from tfmodels.models.base import PreTrainedModel
from tfmodels.models.bert.modeling import BertForMaskedLM, BertModel
from tfmodels.models.heads import (
    MultipleChoiceMixin,
    QuestionAnsweringMixin,
    SequenceClassificationMixin,
    TokenClassificationMixin,
)


class SqueezeBertModel(BertModel):
    """The SqueezeBERT encoder.

    Args: the `BertModel` fields plus `embedding_size` (must equal
    `hidden_size`) and the group counts `q_groups`, `k_groups`, `v_groups`,
    `post_attention_groups`, `intermediate_groups`, `output_groups`.

    Call inputs and returns: as `BertModel`; `attentions` are pre-softmax logits.
    """

    model_type = "squeezebert"
    _GROUP_FIELDS = {"q_groups": "query", "k_groups": "key", "v_groups": "value",
                     "post_attention_groups": "post_attention", "intermediate_groups": "intermediate",
                     "output_groups": "output"}

    def __init__(self, embedding_size=768, q_groups=4, k_groups=4, v_groups=4, post_attention_groups=1,
                 intermediate_groups=4, output_groups=4, **kwargs):
        groups = dict(q_groups=q_groups, k_groups=k_groups, v_groups=v_groups,
                      post_attention_groups=post_attention_groups, intermediate_groups=intermediate_groups,
                      output_groups=output_groups)
        self._groups = {self._GROUP_FIELDS[k]: v for k, v in groups.items()}
        super().__init__(**kwargs)
        if embedding_size != self.config["hidden_size"]:
            raise ValueError("SqueezeBERT needs embedding_size == hidden_size. "
                             f"Received: embedding_size={embedding_size}, hidden_size={self.config['hidden_size']}")
        self.config.update({"embedding_size": embedding_size, **groups})

    def _make_encoder_layer(self, index):
        config = self.config
        return GroupedEncoderBlock(
            groups=self._groups, return_logits=True, num_heads=config["num_attention_heads"],
            intermediate_size=config["intermediate_size"], hidden_act=config["hidden_act"],
            hidden_dropout=config["hidden_dropout_prob"], attention_dropout=config["attention_probs_dropout_prob"],
            layer_norm_eps=config["layer_norm_eps"], kernel_initializer=hf_initializer(config["initializer_range"]),
            dtype=self.dtype_policy, name=f"encoder_layer_{index}",
        )


class SqueezeBertHeadAttributes:
    """Listed first in the bases of the SqueezeBERT heads: backbone in `self.transformer`,
    always with its pooler (as in `transformers`)."""

    model_type = "squeezebert"
    base_model_prefix = "transformer"
    backbone_class = SqueezeBertModel
    backbone_kwargs = {"add_pooling_layer": True}


class SqueezeBertForSequenceClassification(SqueezeBertHeadAttributes, SequenceClassificationMixin, PreTrainedModel):
    """`transformers.SqueezeBertForSequenceClassification`."""


class SqueezeBertForTokenClassification(SqueezeBertHeadAttributes, TokenClassificationMixin, PreTrainedModel):
    """`transformers.SqueezeBertForTokenClassification`."""


class SqueezeBertForQuestionAnswering(SqueezeBertHeadAttributes, QuestionAnsweringMixin, PreTrainedModel):
    """`transformers.SqueezeBertForQuestionAnswering`."""


class SqueezeBertForMultipleChoice(SqueezeBertHeadAttributes, MultipleChoiceMixin, PreTrainedModel):
    """`transformers.SqueezeBertForMultipleChoice`."""


class SqueezeBertForMaskedLM(SqueezeBertHeadAttributes, BertForMaskedLM):
    """`transformers.SqueezeBertForMaskedLM`: BERT's masked-LM head, tied to the word embeddings."""
