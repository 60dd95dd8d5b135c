"""LXMERT <-> Hugging Face `LxmertModel` / `LxmertForPreTraining` / `LxmertForQuestionAnswering` checkpoints.

Key layout of `transformers.models.lxmert.modeling_lxmert`: backbone keys `embeddings.*`,
`encoder.visn_fc.*` (object features and boxes), `encoder.layer.{i}` (language),
`encoder.r_layers.{i}` (relationship), `encoder.x_layers.{i}` (cross-modality), `pooler.dense`
(prefixed with `lxmert.` in heads); heads `cls.predictions.*`, `cls.seq_relationship`,
`obj_predict_head.*`, `answer_head.logit_fc.{0,2,3}`.
"""

from tfmodels.converters.bert import BERT_TIED_DECODER
from tfmodels.converters.layer_tables import (
    attention,
    bert_style_block,
    bert_style_embeddings,
    dense,
    feed_forward,
    layer_norm,
)
from tfmodels.converters.mapping import LINEAR, Param, WeightTable, prefixed, split_head_model
from tfmodels.converters.registry import register_weight_table

OTHER_HEAD_KEYS = (r"^cls\.", r"^obj_predict_head\.", r"^answer_head\.")


def _self_attention_block(attention_module, inter, output, keras):
    """`LxmertSelfAttentionLayer` + `LxmertIntermediate` + `LxmertOutput` <-> `TransformerEncoderBlock`."""
    return [
        *attention(f"{attention_module}.self.query", f"{attention_module}.self.key", f"{attention_module}.self.value",
                   f"{attention_module}.output.dense", f"{keras}.self_attention"),
        *layer_norm(f"{attention_module}.output.LayerNorm", f"{keras}.attention_layer_norm"),
        *feed_forward(f"{inter}.dense", f"{output}.dense", f"{keras}.feed_forward"),
        *layer_norm(f"{output}.LayerNorm", f"{keras}.output_layer_norm"),
    ]


def _cross_layer(hf, keras):
    """`LxmertXLayer` <-> `CrossModalityBlock`."""
    cross = f"{hf}.visual_attention"
    return [
        *attention(f"{cross}.att.query", f"{cross}.att.key", f"{cross}.att.value", f"{cross}.output.dense",
                   f"{keras}.cross_attention"),
        *layer_norm(f"{cross}.output.LayerNorm", f"{keras}.cross_attention_layer_norm"),
        *_self_attention_block(f"{hf}.lang_self_att", f"{hf}.lang_inter", f"{hf}.lang_output",
                               f"{keras}.language_block"),
        *_self_attention_block(f"{hf}.visn_self_att", f"{hf}.visn_inter", f"{hf}.visn_output",
                               f"{keras}.vision_block"),
    ]


def lxmert_backbone(backbone):
    """Rows of an `LxmertModel` (without prefix)."""
    params = bert_style_embeddings("embeddings", "embeddings")
    for name in ("visn_fc", "box_fc"):
        params += dense(f"encoder.visn_fc.{name}", f"visual_encoder.{name}")
    for name in ("visn_layer_norm", "box_layer_norm"):
        params += layer_norm(f"encoder.visn_fc.{name}", f"visual_encoder.{name}")
    for i in range(len(backbone.language_layers)):
        params += bert_style_block(f"encoder.layer.{i}", f"language_layers.{i}")
    for i in range(len(backbone.vision_layers)):
        params += bert_style_block(f"encoder.r_layers.{i}", f"vision_layers.{i}")
    for i in range(len(backbone.cross_layers)):
        params += _cross_layer(f"encoder.x_layers.{i}", f"cross_layers.{i}")
    return params + dense("pooler.dense", "pooler.dense")


def _answer_head():
    return [*dense("answer_head.logit_fc.0", "answer_head.dense"),
            *layer_norm("answer_head.logit_fc.2", "answer_head.layer_norm"),
            *dense("answer_head.logit_fc.3", "answer_head.out_proj")]


@register_weight_table("lxmert")
def lxmert_table(model):
    is_head, backbone = split_head_model(model)
    params = prefixed("lxmert" if is_head else "", lxmert_backbone(backbone))
    tied = {}
    if getattr(model, "lm_head", None) is not None:
        params += [*dense("cls.predictions.transform.dense", "lm_head.dense"),
                   *layer_norm("cls.predictions.transform.LayerNorm", "lm_head.layer_norm"),
                   Param("cls.predictions.bias", "lm_head.bias")]
        if model.lm_head.tie_word_embeddings:
            tied = BERT_TIED_DECODER
        else:  # the decoder has no bias of its own: logits = decoder(x) + cls.predictions.bias
            params.append(Param("cls.predictions.decoder.weight", "lm_head.decoder", LINEAR))
        params += dense("cls.seq_relationship", "sentence_classifier")
    if getattr(model, "obj_predict_head", None) is not None:
        params += [*dense("obj_predict_head.transform.dense", "obj_predict_head.dense"),
                   *layer_norm("obj_predict_head.transform.LayerNorm", "obj_predict_head.layer_norm")]
        for key in model.obj_predict_head.outputs:
            params += dense(f"obj_predict_head.decoder_dict.{key}", f"obj_predict_head.decoder_{key}")
    if getattr(model, "answer_head", None) is not None:
        params += _answer_head()
    return WeightTable(params, tied=tied, other_head_keys=OTHER_HEAD_KEYS, base_model_prefix="lxmert",
                       is_head_model=is_head)
