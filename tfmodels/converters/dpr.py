"""DPR <-> Hugging Face `DPRContextEncoder` / `DPRQuestionEncoder` / `DPRReader` checkpoints.

A pooler-less BERT at `{ctx_encoder,question_encoder,span_predictor.encoder}.bert_model.*`,
the optional `encode_proj` beside it, and the reader's `span_predictor.{qa_outputs,qa_classifier}`.
"""

import dataclasses

from tfmodels.converters.bert import bert_backbone
from tfmodels.converters.layer_tables import dense
from tfmodels.converters.mapping import WeightTable, prefixed
from tfmodels.converters.registry import register_weight_table

ENCODER_PREFIX = {"DPRContextEncoder": "ctx_encoder", "DPRQuestionEncoder": "question_encoder",
                  "DPRReader": "span_predictor.encoder"}


@register_weight_table("dpr")
def dpr_table(model):
    encoder = ENCODER_PREFIX[type(model).__name__]
    params = prefixed("bert_model", bert_backbone(model.backbone))
    if model.encode_proj is not None:
        params += dense("encode_proj", "encode_proj")
    params = [dataclasses.replace(p, hf_key=f"{encoder}.{p.hf_key}") for p in params]
    if hasattr(model, "qa_outputs"):
        params += dense("span_predictor.qa_outputs", "qa_outputs") + dense("span_predictor.qa_classifier", "qa_classifier")
    return WeightTable(params)  # the position_ids / token_type_ids buffers are checked by default
