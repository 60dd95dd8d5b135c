"""Longformer <-> Hugging Face checkpoints.

RoBERTa's layout under `longformer.` (BERT-named backbone, `lm_head.*`,
`classifier.dense` / `classifier.out_proj`, `classifier`, `qa_outputs`),
plus the global-attention projections of every layer,
`encoder.layer.{i}.attention.self.{query,key,value}_global`.
"""

from tfmodels.converters.bert import bert_backbone
from tfmodels.converters.layer_tables import dense
from tfmodels.converters.mapping import FLATTEN, LINEAR
from tfmodels.converters.registry import register_weight_table
from tfmodels.converters.roberta import roberta_table


def longformer_backbone(backbone):
    """Rows of a `LongformerModel` (without prefix): BERT's plus the global projections."""
    params = bert_backbone(backbone)
    for i in range(len(backbone.encoder_layers)):
        for name in ("query", "key", "value"):
            params += dense(f"encoder.layer.{i}.attention.self.{name}_global",
                            f"encoder_layers.{i}.self_attention.{name}_global_dense", kernel=LINEAR, bias=FLATTEN)
    return params


@register_weight_table("longformer")
def longformer_table(model):
    return roberta_table(model, prefix="longformer", backbone_rows=longformer_backbone)
