"""RetriBERT <-> Hugging Face `RetriBertModel` checkpoints (transformers <= 4.46, `models.deprecated`).

Keys: `bert_query.*` (and `bert_doc.*` without `share_encoders`), two BERTs in
`BertModel`'s layout, and the bias-free `project_query` / `project_doc`.
"""

from tfmodels.converters.bert import bert_backbone
from tfmodels.converters.layer_tables import dense
from tfmodels.converters.mapping import WeightTable, prefixed
from tfmodels.converters.registry import register_weight_table


@register_weight_table("retribert")
def retribert_table(model):
    params = prefixed("bert_query", bert_backbone(model.bert_query))
    if model.bert_doc is not None:
        params += prefixed("bert_doc", bert_backbone(model.bert_doc))
    params += dense("project_query", "project_query", use_bias=False)
    params += dense("project_doc", "project_doc", use_bias=False)
    return WeightTable(params)
