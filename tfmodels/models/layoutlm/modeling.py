"""LayoutLM: BERT plus 2-D position embeddings of each token's bounding box.

References:
    Xu et al., "LayoutLM: Pre-training of Text and Layout for Document Image
    Understanding", KDD 2020.
    Parity reference: `transformers.models.layoutlm.modeling_layoutlm` (PyTorch).
"""


from tfmodels.layers.position import BoundingBoxEmbedding
from tfmodels.layers.position.bounding_box import zero_boxes
from tfmodels.models.base import PreTrainedModel
from tfmodels.models.bert.modeling import BertForMaskedLM, BertModel
from tfmodels.models.heads import QuestionAnsweringMixin, SequenceClassificationMixin, TokenClassificationMixin


class LayoutLMModel(BertModel):
    """The LayoutLM encoder: `BertModel` whose embeddings also add `BoundingBoxEmbedding(bbox)`.

    Args: the `BertModel` fields plus `max_2d_position_embeddings` (int,
    size of the coordinate tables; coordinates are in `[0, 1000]` for the
    released checkpoints).

    Call inputs: those of `BertModel` plus `bbox`, int `(batch, seq_len, 4)`
    boxes `(x0, y0, x1, y1)`; zeros if absent.

    Returns: as `BertModel`.
    """

    model_type = "layoutlm"
    input_names = BertModel.input_names + ("bbox",)
    decoder_capable = False  # transformers' LayoutLM ignores `is_decoder`
    serving_extra_inputs = {"bbox": (4,)}

    def __init__(self, max_2d_position_embeddings=1024, **kwargs):
        super().__init__(**kwargs)
        self.config["max_2d_position_embeddings"] = max_2d_position_embeddings
        self.bbox_embeddings = BoundingBoxEmbedding(
            max_2d_position_embeddings, self.config["hidden_size"],
            initializer_range=self.config["initializer_range"], dtype=self.dtype_policy, name="bbox_embeddings",
        )

    def _embed(self, inputs, training):
        bbox = inputs.get("bbox")
        boxes = self.bbox_embeddings(zero_boxes(inputs["input_ids"]) if bbox is None else bbox)
        return self.embeddings(
            inputs["input_ids"], token_type_ids=inputs.get("token_type_ids"),
            position_ids=inputs.get("position_ids"), extra_embeddings=boxes, training=training,
        )


class LayoutLMHeadAttributes:
    """Listed first in the bases of the LayoutLM heads: backbone in `self.layoutlm`.

    A plain class (not a `PreTrainedModel`), so it overrides the mixins'
    attributes without moving `PreTrainedModel` ahead of them in the MRO.
    Every Hugging Face LayoutLM head keeps the pooler, so ours do too.
    """

    model_type = "layoutlm"
    base_model_prefix = "layoutlm"
    backbone_class = LayoutLMModel
    input_names = LayoutLMModel.input_names
    serving_extra_inputs = LayoutLMModel.serving_extra_inputs
    backbone_kwargs = {"add_pooling_layer": True}


class LayoutLMForSequenceClassification(LayoutLMHeadAttributes, SequenceClassificationMixin, PreTrainedModel):
    """`transformers.LayoutLMForSequenceClassification`: linear classifier on the pooled output."""


class LayoutLMForTokenClassification(LayoutLMHeadAttributes, TokenClassificationMixin, PreTrainedModel):
    """`transformers.LayoutLMForTokenClassification`: per-token linear classifier."""


class LayoutLMForQuestionAnswering(LayoutLMHeadAttributes, QuestionAnsweringMixin, PreTrainedModel):
    """`transformers.LayoutLMForQuestionAnswering`: span head (`start_logits`, `end_logits`)."""


class LayoutLMForMaskedLM(LayoutLMHeadAttributes, BertForMaskedLM):
    """`transformers.LayoutLMForMaskedLM`: BERT's masked-LM head, tied to the word embeddings."""
