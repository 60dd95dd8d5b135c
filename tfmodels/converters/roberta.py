"""RoBERTa / XLM-RoBERTa / CamemBERT <-> Hugging Face checkpoints.

BERT's backbone layout under `roberta.`; heads `classifier.dense` +
`classifier.out_proj` (sequence classification), `classifier` (token
classification, multiple choice), `qa_outputs`, `lm_head.{dense,layer_norm,bias}`
with `lm_head.decoder` tied to the word embeddings.
"""

from tfmodels.converters.bert import bert_backbone
from tfmodels.converters.layer_tables import classifier_heads, dense, layer_norm, masked_lm_bias
from tfmodels.converters.mapping import LINEAR, Param, WeightTable, prefixed, split_head_model
from tfmodels.converters.registry import register_weight_table

TIED_DECODER = {r"^lm_head\.decoder\.weight$": "embeddings.word_embeddings.weight"}
OTHER_HEAD_KEYS = (r"^lm_head\.", r"^classifier\.", r"^qa_outputs\.")


def lm_head_rows(model, hf="lm_head", decoder="lm_head.decoder"):
    """A `MaskedLMHead` whose HF module has `dense`, `layer_norm`, `bias` and a (tied) `decoder`:
    `(params, ignored_keys)` (`masked_lm_bias`)."""
    tied = model.lm_head.tie_word_embeddings
    bias, ignored = masked_lm_bias(f"{hf}.bias", decoder, "lm_head.bias", tied)
    params = [*dense(f"{hf}.dense", "lm_head.dense"), *layer_norm(f"{hf}.layer_norm", "lm_head.layer_norm"), *bias]
    if not tied:
        params.append(Param(f"{decoder}.weight", "lm_head.decoder", LINEAR))
    return params, ignored


def roberta_table(model, prefix="roberta", backbone_rows=bert_backbone):
    """The RoBERTa table; relatives with its head layout pass their prefix and backbone rows (Longformer)."""
    is_head, backbone = split_head_model(model)
    params = prefixed(prefix if is_head else "", backbone_rows(backbone))
    params += classifier_heads(model)
    tied, ignored = {}, ()
    if hasattr(model, "lm_head"):
        rows, ignored = lm_head_rows(model)
        params += rows
        tied = TIED_DECODER if model.lm_head.tie_word_embeddings else {}
    return WeightTable(params, tied=tied, ignored_keys=ignored, other_head_keys=OTHER_HEAD_KEYS,
                       base_model_prefix=prefix, is_head_model=is_head)


for _model_type in ("roberta", "xlm-roberta", "camembert"):
    register_weight_table(_model_type)(roberta_table)
