"""TAPAS <-> Hugging Face `TapasModel` / `TapasFor*`: BERT's key layout under the `tapas.` prefix, with
seven token-type tables `embeddings.token_type_embeddings_{i}`, the cell-selection parameters
(`output_weights`, `output_bias`, `column_output_weights`, `column_output_bias`) and
`aggregation_classifier`."""

from tfmodels.converters.bert import bert_backbone, bert_table
from tfmodels.converters.layer_tables import dense, embedding
from tfmodels.converters.mapping import Param
from tfmodels.converters.registry import register_weight_table

# Keys of TAPAS heads another head model does not have.
TAPAS_OTHER_HEAD_KEYS = (r"^output_bias$", r"^output_weights$", r"^column_output_", r"^aggregation_classifier\.")


def tapas_backbone(backbone):
    """Rows of a `TapasModel`: BERT's, with one token-type table per entry of `type_vocab_sizes`."""
    params = bert_backbone(backbone, token_types=False)
    for i in range(len(backbone.embeddings.token_type_tables)):
        params += embedding(f"embeddings.token_type_embeddings_{i}", f"embeddings.token_type_tables.{i}")
    return params


@register_weight_table("tapas")
def tapas_table(model):
    table = bert_table(model, prefix="tapas", backbone_rows=tapas_backbone)
    if hasattr(model, "cell_selection"):
        table.params += [Param(name, f"cell_selection.{name}") for name in
                         ("output_weights", "output_bias", "column_output_weights", "column_output_bias")]
    if getattr(model, "aggregation_classifier", None) is not None:
        table.params += dense("aggregation_classifier", "aggregation_classifier")
    table.other_head_keys = (*table.other_head_keys, *TAPAS_OTHER_HEAD_KEYS)
    return table
