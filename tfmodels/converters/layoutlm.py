"""LayoutLM <-> Hugging Face `LayoutLMModel` / `LayoutLMFor*`: BERT's key layout
under the `layoutlm.` prefix, plus the four 2-D position tables in `embeddings.`."""

from tfmodels.converters.bert import bert_backbone, bert_table
from tfmodels.converters.layer_tables import embedding
from tfmodels.converters.registry import register_weight_table


def layoutlm_backbone(backbone):
    params = bert_backbone(backbone)
    for name in ("x", "y", "h", "w"):
        params += embedding(f"embeddings.{name}_position_embeddings", f"bbox_embeddings.{name}_position_embeddings")
    return params


@register_weight_table("layoutlm")
def layoutlm_table(model):
    return bert_table(model, prefix="layoutlm", backbone_rows=layoutlm_backbone)
