"""I-BERT <-> Hugging Face `IBertModel` / `IBertFor*` checkpoints (float mode).

RoBERTa's key layout under `ibert.` (`tfmodels.converters.roberta`). The
quantization modules also store buffers: `QuantAct` ranges (`x_min`,
`x_max`, `act_scaling_factor`), integer copies and scaling factors of the
weights (`weight_integer`, `weight_scaling_factor`, `fc_scaling_factor`,
`bias_integer`) and `IntLayerNorm.shift`. With `quant_mode=False` the
reference never reads them (each module returns its float result first), so
loading ignores them and `save_pretrained` does not write them
(`transformers` initialises them on loading, as for a fresh float model).
"""

from tfmodels.converters.bert import bert_backbone
from tfmodels.converters.roberta import roberta_table
from tfmodels.converters.registry import register_weight_table

IBERT_QUANT_BUFFERS = (
    r"\.(x_min|x_max|act_scaling_factor|weight_integer|weight_scaling_factor|fc_scaling_factor|bias_integer|shift)$",
)


@register_weight_table("ibert")
def ibert_table(model):
    table = roberta_table(model, prefix="ibert", backbone_rows=bert_backbone)
    table.ignored_keys = tuple(table.ignored_keys) + IBERT_QUANT_BUFFERS
    return table
