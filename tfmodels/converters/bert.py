"""BERT <-> Hugging Face `BertModel` / `BertFor*` checkpoints.

Key layout of `transformers.models.bert.modeling_bert`: backbone keys
`embeddings.*`, `encoder.layer.{i}.*`, `pooler.dense.*` (prefixed with
`bert.` in head models), heads `classifier.*`, `qa_outputs.*`,
`cls.predictions.*`.
"""

from tfmodels.converters.layer_tables import (
    bert_style_block,
    bert_style_cross_attention,
    bert_style_embeddings,
    classifier_heads,
    dense,
    layer_norm,
    masked_lm_bias,
)
from tfmodels.converters.mapping import LINEAR, Param, WeightTable, prefixed, split_head_model
from tfmodels.converters.registry import register_weight_table

# The decoder tied to the word embeddings (checked equal when the LM head is tied).
BERT_TIED_DECODER = {r"^cls\.predictions\.decoder\.weight$": "embeddings.word_embeddings.weight"}
# Keys of BERT heads a given model may not have (pre-training, NSP, other tasks).
BERT_OTHER_HEAD_KEYS = (r"^cls\.", r"^classifier\.", r"^qa_outputs\.")


def bert_backbone(backbone, token_types=True):
    """Rows of a `BertModel` (without prefix); `token_types=False` leaves out the one token-type table
    (TAPAS has several; BertGeneration, built with `type_vocab_size=0`, has none)."""
    token_types = token_types and bool(getattr(backbone.embeddings, "type_vocab_size", 1))
    params = bert_style_embeddings("embeddings", "embeddings", token_types=token_types)
    for i, block in enumerate(backbone.encoder_layers):
        params += bert_style_block(f"encoder.layer.{i}", f"encoder_layers.{i}")
        if hasattr(block, "cross_attention"):  # `add_cross_attention=True`
            params += bert_style_cross_attention(f"encoder.layer.{i}", f"encoder_layers.{i}")
    if backbone.pooler is not None:
        # Checkpoints of models trained without the pooler (e.g. MLM-only) lack it.
        params += dense("pooler.dense", "pooler.dense", optional=True)
    return params


def bert_mlm_head(model):
    """Rows of the masked-LM head `cls.predictions` and its ignored keys (`masked_lm_bias`):
    `(params, ignored_keys)`."""
    tied = model.lm_head.tie_word_embeddings
    bias, ignored = masked_lm_bias("cls.predictions.bias", "cls.predictions.decoder", "lm_head.bias", tied)
    params = [
        *dense("cls.predictions.transform.dense", "lm_head.dense"),
        *layer_norm("cls.predictions.transform.LayerNorm", "lm_head.layer_norm"),
        *bias,
    ]
    if not tied:
        params.append(Param("cls.predictions.decoder.weight", "lm_head.decoder", LINEAR))
    return params, ignored


@register_weight_table("bert")
def bert_table(model, prefix="bert", backbone_rows=bert_backbone):
    """The BERT table; relatives with BERT's key layout pass their prefix and backbone rows (LayoutLM)."""
    is_head, backbone = split_head_model(model)
    params = prefixed(prefix if is_head else "", backbone_rows(backbone))
    params += classifier_heads(model)
    tied, ignored = {}, ()
    if hasattr(model, "lm_head"):
        rows, ignored = bert_mlm_head(model)
        params += rows
        tied = BERT_TIED_DECODER if model.lm_head.tie_word_embeddings else {}
    if hasattr(model, "sentence_classifier"):  # BertForPreTraining, BertForNextSentencePrediction
        params += dense("cls.seq_relationship", "sentence_classifier", optional=True, head=True)
    return WeightTable(
        params,
        tied=tied,
        ignored_keys=ignored,
        other_head_keys=BERT_OTHER_HEAD_KEYS,
        base_model_prefix=prefix,
        is_head_model=is_head,
    )
