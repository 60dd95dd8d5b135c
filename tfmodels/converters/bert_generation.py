"""BertGeneration <-> Hugging Face `BertGenerationEncoder` / `BertGenerationDecoder` checkpoints.

BERT's backbone layout without token types or pooler (`embeddings.*`,
`encoder.layer.{i}.*`, with `crossattention.*` in cross-attention decoders),
under `bert.` in the decoder; its head `lm_head.bias` and `lm_head.decoder`
(tied to the word embeddings; `lm_head.decoder.bias` is tied to `lm_head.bias`).
"""

from tfmodels.converters.bert import bert_backbone
from tfmodels.converters.mapping import LINEAR, Param, WeightTable, prefixed, split_head_model
from tfmodels.converters.registry import register_weight_table

TIED_DECODER = {r"^lm_head\.decoder\.weight$": "embeddings.word_embeddings.weight"}


@register_weight_table("bert-generation")
def bert_generation_table(model):
    is_head, backbone = split_head_model(model)
    params = prefixed("bert" if is_head else "", bert_backbone(backbone))
    tied = {}
    if hasattr(model, "lm_head"):
        params.append(Param("lm_head.bias", "lm_head.bias", aliases=("lm_head.decoder.bias",)))
        if model.lm_head.tie_word_embeddings:
            tied = TIED_DECODER
        else:
            params.append(Param("lm_head.decoder.weight", "lm_head.decoder", LINEAR))
    return WeightTable(params, tied=tied, other_head_keys=(r"^lm_head\.",), base_model_prefix="bert",
                       is_head_model=is_head)
