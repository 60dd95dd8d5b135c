"""LUKE <-> Hugging Face `LukeModel` / `LukeFor*` checkpoints.

Key layout of `transformers.models.luke.modeling_luke`: backbone keys
`embeddings.*` (RoBERTa's), `entity_embeddings.{entity_embeddings,
entity_embedding_dense,position_embeddings,token_type_embeddings,LayerNorm}`,
`encoder.layer.{i}.*` (BERT's, plus `attention.self.{w2e,e2w,e2e}_query`
with `use_entity_aware_attention`), `pooler.dense` (prefixed with `luke.` in
head models); heads `classifier`, `qa_outputs`, `lm_head.{dense,layer_norm,
decoder}` (the decoder is never tied to the word embeddings; `lm_head.bias`
is `lm_head.decoder.bias`) and `entity_predictions.{transform.dense,
transform.LayerNorm,bias}` with `entity_predictions.decoder` tied to the
entity table.
"""

from tfmodels.converters.bert import bert_backbone
from tfmodels.converters.layer_tables import classifier_heads, dense, embedding, layer_norm
from tfmodels.converters.mapping import FLATTEN, LINEAR, Param, WeightTable, prefixed, split_head_model
from tfmodels.converters.registry import register_weight_table

LUKE_OTHER_HEAD_KEYS = (r"^lm_head\.", r"^entity_predictions\.", r"^classifier\.", r"^qa_outputs\.")
ENTITY_QUERIES = ("w2e_query", "e2w_query", "e2e_query")


def luke_backbone(backbone):
    """Rows of a `LukeModel` (without prefix): BERT's plus the entity embeddings and entity queries."""
    params = bert_backbone(backbone)
    entity = backbone.entity_embeddings
    params += embedding("entity_embeddings.entity_embeddings", "entity_embeddings.word_embeddings")
    if entity.embedding_transformation is not None:
        params += dense("entity_embeddings.entity_embedding_dense", "entity_embeddings.embedding_transformation",
                        use_bias=False)
    params += embedding("entity_embeddings.position_embeddings", "entity_embeddings.position_embeddings")
    params += embedding("entity_embeddings.token_type_embeddings", "entity_embeddings.token_type_embeddings")
    params += layer_norm("entity_embeddings.LayerNorm", "entity_embeddings.layer_norm")
    if backbone.config["use_entity_aware_attention"]:
        for i in range(len(backbone.encoder_layers)):
            for name in ENTITY_QUERIES:
                params += dense(f"encoder.layer.{i}.attention.self.{name}",
                                f"encoder_layers.{i}.self_attention.{name}_dense", bias=FLATTEN)
    return params


def luke_masked_lm_rows(model):
    """`lm_head` (own decoder) and `entity_predictions` rows; returns `(params, tied, ignored)`."""
    tied_bias = model.entity_predictions.tie_word_embeddings  # `tie_word_embeddings`
    params = [
        *dense("lm_head.dense", "lm_head.dense"),
        *layer_norm("lm_head.layer_norm", "lm_head.layer_norm"),
        Param("lm_head.decoder.weight", "lm_head.decoder", LINEAR),
        # Tied (`tie_word_embeddings`), `lm_head.bias` is the decoder's bias; untied, the reference keeps it
        # beside the decoder's own but never reads it (ignored on loading).
        Param("lm_head.decoder.bias", "lm_head.bias", aliases=("lm_head.bias",) if tied_bias else ()),
        *dense("entity_predictions.transform.dense", "entity_predictions.dense"),
        *layer_norm("entity_predictions.transform.LayerNorm", "entity_predictions.layer_norm"),
        Param("entity_predictions.bias", "entity_predictions.bias"),
    ]
    tied, ignored = {}, ()
    if model.entity_predictions.tie_word_embeddings:
        tied = {r"^entity_predictions\.decoder\.weight$": "entity_embeddings.entity_embeddings.weight"}
    else:
        params.append(Param("entity_predictions.decoder.weight", "entity_predictions.decoder", LINEAR))
        ignored = (r"^lm_head\.bias$",)
    return params, tied, ignored


@register_weight_table("luke")
def luke_table(model):
    is_head, backbone = split_head_model(model)
    params = prefixed("luke" if is_head else "", luke_backbone(backbone))
    params += classifier_heads(model)
    tied, ignored = {}, ()
    if hasattr(model, "entity_predictions"):
        rows, tied, ignored = luke_masked_lm_rows(model)
        params += rows
    return WeightTable(params, tied=tied, ignored_keys=ignored, other_head_keys=LUKE_OTHER_HEAD_KEYS,
                       base_model_prefix="luke", is_head_model=is_head)
