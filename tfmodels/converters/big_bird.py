"""BigBird <-> Hugging Face `BigBirdModel` / `BigBirdFor*` checkpoints.

BERT's key layout (`transformers.models.big_bird.modeling_big_bird`): backbone
`embeddings.*`, `encoder.layer.{i}.*` (no q/k/v biases when `use_bias=False`)
and the pooler as a bare `pooler.{weight,bias}` (`bert.` in head models);
heads `cls.predictions.*` (tied decoder), `cls.seq_relationship`,
`classifier.dense` + `classifier.out_proj` (sequence classification),
`classifier` (token classification, multiple choice) and
`qa_classifier.{intermediate.dense, output.dense, output.LayerNorm, qa_outputs}`.
"""

from tfmodels.converters.bert import bert_table
from tfmodels.converters.layer_tables import bert_style_block, bert_style_embeddings, dense, layer_norm
from tfmodels.converters.registry import register_weight_table


def big_bird_backbone(backbone):
    """Rows of a `BigBirdModel` (without prefix)."""
    params = bert_style_embeddings("embeddings", "embeddings")
    qkv_bias = backbone.config["use_bias"]
    for i in range(len(backbone.encoder_layers)):
        params += bert_style_block(f"encoder.layer.{i}", f"encoder_layers.{i}", qkv_bias=qkv_bias)
    if backbone.pooler is not None:
        params += dense("pooler", "pooler.dense", optional=True)
    return params


def qa_head_rows():
    """`BigBirdForQuestionAnsweringHead` <-> `BigBirdQuestionAnsweringHead`."""
    flags = dict(optional=True, head=True)
    return [
        *dense("qa_classifier.intermediate.dense", "qa_classifier.feed_forward.intermediate_dense", **flags),
        *dense("qa_classifier.output.dense", "qa_classifier.feed_forward.output_dense", **flags),
        *layer_norm("qa_classifier.output.LayerNorm", "qa_classifier.layer_norm", **flags),
        *dense("qa_classifier.qa_outputs", "qa_classifier.qa_outputs", **flags),
    ]


@register_weight_table("big_bird")
def big_bird_table(model):
    """BERT's table (`cls.*`, `classifier*` heads) over BigBird's backbone rows, plus the QA head."""
    table = bert_table(model, backbone_rows=big_bird_backbone)
    if hasattr(model, "qa_classifier"):
        table.params += qa_head_rows()
    table.other_head_keys += (r"^qa_classifier\.",)
    return table
