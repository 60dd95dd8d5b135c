"""DPR: dense passage retrieval encoders and reader, on a pooler-less BERT.

References:
    Karpukhin et al., "Dense Passage Retrieval for Open-Domain Question
    Answering", EMNLP 2020.
    Parity reference: `transformers.models.dpr.modeling_dpr` (PyTorch).
"""


from tfmodels.models.base import PreTrainedModel
from tfmodels.models.bert.modeling import BertModel
from tfmodels.models.heads import HeadModelMixin


class DPRBertModel(BertModel):
    """The BERT encoder inside DPR models (`bert_model`); written as `model_type="dpr"`."""

    model_type = "dpr"
    decoder_capable = False  # transformers' DPR ignores `is_decoder`


class DPRPreTrainedModel(PreTrainedModel):
    model_type = "dpr"
    base_model_prefix = "bert_model"
    backbone_class = DPRBertModel


class DPREncoderMixin(HeadModelMixin):
    """`DPREncoder`: the first token's final state, projected to `projection_dim` when it is > 0.

    Returns:
        dict with `pooler_output` `(batch, projection_dim or hidden_size)` and,
        when asked, `hidden_states` / `attentions`.
    """

    backbone_kwargs = {"add_pooling_layer": False}
    serving_outputs = ("pooler_output",)

    def __init__(self, projection_dim=0, **kwargs):
        self._init_backbone(kwargs)
        self.config = {"projection_dim": projection_dim}
        self.encode_proj = self._dense(projection_dim, "encode_proj") if projection_dim > 0 else None

    def _head_outputs(self, inputs, training, output_attentions, output_hidden_states):
        backbone_outputs = self._backbone_outputs(inputs, training, output_attentions, output_hidden_states)
        pooled = backbone_outputs["last_hidden_state"][:, 0]  # (batch, hidden_size)
        if self.encode_proj is not None:
            pooled = self.encode_proj(pooled)
        return self._passthrough({"pooler_output": pooled}, backbone_outputs)


class DPRContextEncoder(DPREncoderMixin, DPRPreTrainedModel):
    """Passage encoder (`ctx_encoder`); `pooler_output` is the passage embedding.

    References: `transformers.DPRContextEncoder`.
    """


class DPRQuestionEncoder(DPREncoderMixin, DPRPreTrainedModel):
    """Question encoder (`question_encoder`); `pooler_output` is the question embedding.

    References: `transformers.DPRQuestionEncoder`.
    """


class DPRReader(DPREncoderMixin, DPRPreTrainedModel):
    """Span reader over `(n_passages, seq_len)` inputs (`input_ids`, `attention_mask`).

    Returns:
        dict with `start_logits`, `end_logits` `(n_passages, seq_len)`,
        `relevance_logits` `(n_passages,)` and, when asked, `hidden_states` /
        `attentions`.

    References: `transformers.DPRReader`.
    """

    input_names = ("input_ids", "attention_mask")
    serving_outputs = ("start_logits", "end_logits", "relevance_logits")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.qa_outputs = self._dense(2, "qa_outputs")
        self.qa_classifier = self._dense(1, "qa_classifier")

    def _head_outputs(self, inputs, training, output_attentions, output_hidden_states):
        backbone_outputs = self._backbone_outputs(inputs, training, output_attentions, output_hidden_states)
        sequence_output = backbone_outputs["last_hidden_state"]
        logits = self.qa_outputs(sequence_output)  # (n_passages, seq_len, 2)
        outputs = {
            "start_logits": logits[..., 0],
            "end_logits": logits[..., 1],
            "relevance_logits": self.qa_classifier(sequence_output[:, 0])[:, 0],
        }
        return self._passthrough(outputs, backbone_outputs)
