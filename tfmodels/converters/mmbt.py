"""MMBT <-> `MMBTModel` / `MMBTForClassification` state dicts (transformers <= 4.46, `models.deprecated`).

The reference is an `nn.Module` without `save_pretrained`; a checkpoint is its
state dict (`model.safetensors`) with `config.json` = the BERT config plus
`model_type="mmbt"` and `modal_hidden_size` (see
`scripts/make_retribert_mmbt_fixtures.py`). Keys: `transformer.*` (a
`BertModel`), `modal_encoder.proj_embeddings`, `modal_encoder.encoder.*` (the
user's image encoder), prefixed with `mmbt.` in `MMBTForClassification`, whose
head is `classifier`. `ModalEmbeddings` shares the BERT's embedding tables
and LayerNorm: a state dict that lists them twice (`modal_encoder.word_embeddings`, ...)
is checked equal to the BERT's; `save_pretrained` writes them once.
"""

import dataclasses

from tfmodels.converters.bert import bert_backbone
from tfmodels.converters.layer_tables import dense
from tfmodels.converters.mapping import WeightTable, prefixed, split_head_model
from tfmodels.converters.registry import register_weight_table

SHARED = {"word_embeddings.weight": "word_embeddings.weight",
          "position_embeddings.weight": "position_embeddings.weight",
          "token_type_embeddings.weight": "token_type_embeddings.weight",
          "LayerNorm.weight": "LayerNorm.weight", "LayerNorm.bias": "LayerNorm.bias"}
ENCODER_KEYS = r"(^|\.)modal_encoder\.encoder\."


def mmbt_backbone(backbone):
    """Rows of an `MMBTModel` (without the `mmbt.` prefix)."""
    params = [dataclasses.replace(p, hf_key=f"transformer.{p.hf_key}") for p in bert_backbone(backbone)]
    params += dense("modal_encoder.proj_embeddings", "proj_embeddings")
    rows = getattr(backbone.modal_encoder, "weight_rows", None)
    if rows is not None:
        params += [dataclasses.replace(p, hf_key=f"modal_encoder.encoder.{p.hf_key}",
                                       keras_path=f"modal_encoder.{p.keras_path}") for p in rows()]
    return params


@register_weight_table("mmbt")
def mmbt_table(model):
    is_head, backbone = split_head_model(model)
    params = prefixed("mmbt" if is_head else "", mmbt_backbone(backbone))
    if hasattr(model, "classifier"):
        params += dense("classifier", "classifier")
    tied = {rf"^(mmbt\.)?modal_encoder\.{key.replace('.', chr(92) + '.')}$": f"transformer.embeddings.{source}"
            for key, source in SHARED.items()}
    # Without `weight_rows()` the encoder's keys are not ours to load (reported as unused) and its
    # variables keep the values the user gave them.
    named = hasattr(backbone.modal_encoder, "weight_rows")
    return WeightTable(params, tied=tied, other_head_keys=() if named else (ENCODER_KEYS,),
                       external_variables=() if named else tuple(backbone.modal_encoder.weights),
                       base_model_prefix="mmbt", is_head_model=is_head)
