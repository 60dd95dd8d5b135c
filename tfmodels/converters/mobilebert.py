"""MobileBERT <-> Hugging Face `MobileBertModel` / `MobileBertFor*` checkpoints.

BERT's naming (`embeddings.*`, `encoder.layer.{i}.attention.self.query`, ...)
plus `embeddings.embedding_transformation`, `bottleneck.{input,attention}`,
`ffn.{j}.{intermediate,output}`, `output.bottleneck`; `NoNorm` and LayerNorm
share the `weight`/`bias` rows. Heads under `mobilebert.` like BERT's.
"""

from tfmodels.converters.bert import BERT_OTHER_HEAD_KEYS
from tfmodels.converters.layer_tables import (
    attention,
    bert_style_embeddings,
    classifier_heads,
    dense,
    feed_forward,
    layer_norm,
    masked_lm_bias,
)
from tfmodels.converters.mapping import LINEAR, Param, WeightTable, prefixed, split_head_model
from tfmodels.converters.registry import register_weight_table

# The decoder tied to the word embeddings (checked, `tie_word_embeddings`); its bias: `masked_lm_bias`.
TIED_DECODER = {r"^cls\.predictions\.decoder\.weight$": "embeddings.word_embeddings.weight"}


def mobilebert_block(hf, keras, block):
    params = []
    if block.bottleneck_input is not None:
        params += dense(f"{hf}.bottleneck.input.dense", f"{keras}.bottleneck_input")
        params += layer_norm(f"{hf}.bottleneck.input.LayerNorm", f"{keras}.bottleneck_input_norm")
    if block.bottleneck_attention_input is not None:
        params += dense(f"{hf}.bottleneck.attention.dense", f"{keras}.bottleneck_attention_input")
        params += layer_norm(f"{hf}.bottleneck.attention.LayerNorm", f"{keras}.bottleneck_attention_norm")
    params += attention(*(f"{hf}.attention.self.{n}" for n in ("query", "key", "value")),
                        f"{hf}.attention.output.dense", f"{keras}.self_attention")
    params += layer_norm(f"{hf}.attention.output.LayerNorm", f"{keras}.attention_norm")
    for j in range(len(block.stacked_feed_forwards)):
        params += feed_forward(f"{hf}.ffn.{j}.intermediate.dense", f"{hf}.ffn.{j}.output.dense",
                               f"{keras}.stacked_feed_forwards.{j}")
        params += layer_norm(f"{hf}.ffn.{j}.output.LayerNorm", f"{keras}.stacked_norms.{j}")
    params += feed_forward(f"{hf}.intermediate.dense", f"{hf}.output.dense", f"{keras}.feed_forward")
    params += layer_norm(f"{hf}.output.LayerNorm", f"{keras}.output_norm")
    if block.output_bottleneck is not None:
        params += dense(f"{hf}.output.bottleneck.dense", f"{keras}.output_bottleneck")
        params += layer_norm(f"{hf}.output.bottleneck.LayerNorm", f"{keras}.output_bottleneck_norm")
    return params


def mobilebert_backbone(backbone):
    params = bert_style_embeddings("embeddings", "embeddings")
    if backbone.embeddings.embedding_transformation is not None:
        params += dense("embeddings.embedding_transformation", "embeddings.embedding_transformation")
    for i, block in enumerate(backbone.encoder_layers):
        params += mobilebert_block(f"encoder.layer.{i}", f"encoder_layers.{i}", block)
    if backbone.pooler is not None and backbone.pooler.dense is not None:
        params += dense("pooler.dense", "pooler.dense", optional=True)
    return params


@register_weight_table("mobilebert")
def mobilebert_table(model):
    is_head, backbone = split_head_model(model)
    params = prefixed("mobilebert" if is_head else "", mobilebert_backbone(backbone))
    ignored, tied = (), {}
    # Layers `transformers` builds but never calls in this configuration: they cannot affect outputs.
    if backbone.embeddings.embedding_transformation is None:
        ignored += (r"(^|\.)embeddings\.embedding_transformation\.",)
    block = backbone.encoder_layers[0] if backbone.encoder_layers else None
    if block is not None and block.bottleneck_size and block.bottleneck_attention and block.shared_query_key_bottleneck:
        ignored += (r"(^|\.)encoder\.layer\.\d+\.bottleneck\.attention\.",)
    if type(model).__name__ == "MobileBertForNextSentencePrediction":
        params += dense("cls.seq_relationship", "classifier", optional=True, head=True)
    else:
        params += classifier_heads(model)
    if hasattr(model, "lm_head"):
        tied_head = model.lm_head.tie_word_embeddings
        bias, untied_ignored = masked_lm_bias("cls.predictions.bias", "cls.predictions.decoder", "lm_head.bias",
                                              tied_head)
        ignored += untied_ignored
        params += [
            *dense("cls.predictions.transform.dense", "lm_head.dense"),
            *layer_norm("cls.predictions.transform.LayerNorm", "lm_head.layer_norm"),
            *bias,
        ]
        if not tied_head:  # `decoder.weight (V, E)`, stacked over `cls.predictions.dense` as when tied
            params.append(Param("cls.predictions.decoder.weight", "lm_head.decoder", LINEAR))
        if hasattr(model, "seq_relationship"):
            params += dense("cls.seq_relationship", "seq_relationship", optional=True, head=True)
        if model.lm_head.extra_decoder is not None:
            params.append(Param("cls.predictions.dense.weight", "lm_head.extra_decoder"))
        tied = TIED_DECODER if tied_head else {}
    return WeightTable(params, ignored_keys=ignored, tied=tied, other_head_keys=BERT_OTHER_HEAD_KEYS,
                       base_model_prefix="mobilebert", is_head_model=is_head)
