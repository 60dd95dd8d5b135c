"""I-BERT <-> Hugging Face `IBertModel` / `IBertFor*` checkpoints.

Float mode (`quant_mode=False`): RoBERTa's key layout under `ibert.`
(`tfmodels.converters.roberta`). The quantization modules also store
buffers: `QuantAct` ranges (`x_min`, `x_max`, `act_scaling_factor`),
integer copies and scaling factors of the weights (`weight_integer`,
`weight_scaling_factor`, `fc_scaling_factor`, `bias_integer`) and
`IntLayerNorm.shift`. With `quant_mode=False` the reference never reads them
(each module returns its float result first), so loading ignores them and
`save_pretrained` does not write them (`transformers` initialises them on
loading, as for a fresh float model).

Quant mode: the same weights into `tfmodels.layers.integer_encoder`, plus the
calibration buffers the integer forward pass reads (`x_min`, `x_max` of every
`QuantAct` it calls, `IntLayerNorm.shift`). Ignored there: the buffers the
reference recomputes from the weights and ranges at every forward
(`act_scaling_factor`, `weight_integer`, `weight_scaling_factor`,
`fc_scaling_factor`, `bias_integer`) and those of modules it never calls
(`embeddings.embeddings_act2`, the unused `activation` inside each `IntLayerNorm`).
"""

from tfmodels.converters.bert import bert_backbone
from tfmodels.converters.layer_tables import dense, embedding
from tfmodels.converters.mapping import Param
from tfmodels.converters.roberta import roberta_table
from tfmodels.converters.registry import register_weight_table

QUANT_BUFFERS = (
    r"\.(x_min|x_max|act_scaling_factor|weight_integer|weight_scaling_factor|fc_scaling_factor|bias_integer|shift)$",
)
RECOMPUTED_BUFFERS = (
    r"\.(act_scaling_factor|weight_integer|weight_scaling_factor|fc_scaling_factor|bias_integer)$",
    r"(^|\.)embeddings\.embeddings_act2\.",
    r"\.LayerNorm\.activation\.",
)

# (Hugging Face module under `encoder.layer.{i}`, `IntegerEncoderBlock` sublayer) of the block's QuantActs.
BLOCK_ACTS = (
    ("attention.self.query_activation", "query_activation"),
    ("attention.self.key_activation", "key_activation"),
    ("attention.self.value_activation", "value_activation"),
    ("attention.self.output_activation", "context_activation"),
    ("attention.self.softmax.act", "softmax.act"),
    ("attention.output.ln_input_act", "attention_ln_input_act"),
    ("attention.output.output_activation", "attention_output_act"),
    ("pre_intermediate_act", "pre_intermediate_act"),
    ("intermediate.output_activation", "intermediate_output_act"),
    ("pre_output_act", "pre_output_act"),
    ("output.ln_input_act", "output_ln_input_act"),
    ("output.output_activation", "output_act"),
)
BLOCK_LINEARS = (
    ("attention.self.query", "query"), ("attention.self.key", "key"), ("attention.self.value", "value"),
    ("attention.output.dense", "attention_dense"), ("intermediate.dense", "intermediate_dense"),
    ("output.dense", "output_dense"),
)
BLOCK_NORMS = (("attention.output.LayerNorm", "attention_layer_norm"), ("output.LayerNorm", "output_layer_norm"))


def quant_act(hf, keras):
    """`QuantAct` ranges `x_min`, `x_max` `(1,)`."""
    return [Param(f"{hf}.x_min", f"{keras}.x_min"), Param(f"{hf}.x_max", f"{keras}.x_max")]


def int_layer_norm(hf, keras):
    """`IntLayerNorm` `weight`, `bias`, `shift` <-> `gamma`, `beta`, `shift`."""
    return [Param(f"{hf}.weight", f"{keras}.gamma"), Param(f"{hf}.bias", f"{keras}.beta"),
            Param(f"{hf}.shift", f"{keras}.shift")]


def integer_backbone(backbone):
    """Rows of a quant-mode `IBertModel` (without prefix)."""
    params = []
    for name in ("word_embeddings", "token_type_embeddings", "position_embeddings"):
        params += embedding(f"embeddings.{name}", f"embeddings.{name}")
    params += quant_act("embeddings.embeddings_act1", "embeddings.embeddings_act1")
    params += int_layer_norm("embeddings.LayerNorm", "embeddings.layer_norm")
    params += quant_act("embeddings.output_activation", "embeddings.output_activation")
    for i in range(len(backbone.encoder_layers)):
        hf, keras = f"encoder.layer.{i}", f"encoder_layers.{i}"
        for module, layer in BLOCK_LINEARS:
            params += dense(f"{hf}.{module}", f"{keras}.{layer}")
        for module, layer in BLOCK_ACTS:
            params += quant_act(f"{hf}.{module}", f"{keras}.{layer}")
        for module, layer in BLOCK_NORMS:
            params += int_layer_norm(f"{hf}.{module}", f"{keras}.{layer}")
    if backbone.pooler is not None:
        params += dense("pooler.dense", "pooler.dense", optional=True)
    return params


@register_weight_table("ibert")
def ibert_table(model):
    backbone = getattr(model, "backbone", model)
    if backbone.quant_mode:
        table = roberta_table(model, prefix="ibert", backbone_rows=integer_backbone)
        table.ignored_keys = tuple(table.ignored_keys) + RECOMPUTED_BUFFERS
    else:
        table = roberta_table(model, prefix="ibert", backbone_rows=bert_backbone)
        table.ignored_keys = tuple(table.ignored_keys) + QUANT_BUFFERS
    return table
