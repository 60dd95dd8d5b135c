"""Megatron-BERT <-> Hugging Face `MegatronBertModel` / `MegatronBertFor*` checkpoints.

BERT's names (under `bert.`), with the pre-norm LayerNorms at
`encoder.layer.{i}.attention.ln` and `encoder.layer.{i}.ln`, the final
`encoder.ln`, and no `embeddings.LayerNorm`; heads as BERT's
(`cls.predictions`, `cls.seq_relationship`, `classifier`, `qa_outputs`).
"""

from tfmodels.converters.bert import BERT_OTHER_HEAD_KEYS, BERT_TIED_DECODER, bert_mlm_head
from tfmodels.converters.layer_tables import attention, bert_style_embeddings, classifier_heads, dense, feed_forward, layer_norm
from tfmodels.converters.mapping import WeightTable, prefixed, split_head_model
from tfmodels.converters.registry import register_weight_table


def megatron_backbone(backbone):
    params = bert_style_embeddings("embeddings", "embeddings", norm=False)
    for i in range(len(backbone.encoder_layers)):
        hf, keras = f"encoder.layer.{i}", f"encoder_layers.{i}"
        params += layer_norm(f"{hf}.attention.ln", f"{keras}.attention_layer_norm")
        params += attention(f"{hf}.attention.self.query", f"{hf}.attention.self.key", f"{hf}.attention.self.value",
                            f"{hf}.attention.output.dense", f"{keras}.self_attention")
        params += layer_norm(f"{hf}.ln", f"{keras}.output_layer_norm")
        params += feed_forward(f"{hf}.intermediate.dense", f"{hf}.output.dense", f"{keras}.feed_forward")
    params += layer_norm("encoder.ln", "final_layer_norm")
    if backbone.pooler is not None:
        params += dense("pooler.dense", "pooler.dense", optional=True)
    return params


@register_weight_table("megatron-bert")
def megatron_bert_table(model):
    is_head, backbone = split_head_model(model)
    params = prefixed("bert" if is_head else "", megatron_backbone(backbone))
    params += classifier_heads(model)
    tied, ignored = {}, ()
    if hasattr(model, "lm_head"):
        rows, ignored = bert_mlm_head(model)
        params += rows
        tied = BERT_TIED_DECODER if model.lm_head.tie_word_embeddings else {}
    if hasattr(model, "sentence_classifier"):
        params += dense("cls.seq_relationship", "sentence_classifier", optional=True, head=True)
    return WeightTable(params, tied=tied, ignored_keys=ignored, other_head_keys=BERT_OTHER_HEAD_KEYS,
                       base_model_prefix="bert", is_head_model=is_head)
