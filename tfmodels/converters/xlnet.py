"""XLNet <-> Hugging Face `XLNetModel` / `XLNet*` checkpoints.

XLNet stores its projections as raw `(d_model, n_head, d_head)` parameters
`q, k, v, o, r` (no biases): `q/k/v/r` already have the Keras `(D, N, H)`
layout; `o` is used as `h = einsum("ibnd,hnd->ibh")`, i.e. it is the Keras
output kernel `(N, H, D)` transposed: the `Permute` transform.
Keys: `transformer.word_embedding`, `transformer.mask_emb`,
`transformer.layer.{i}.rel_attn.*`, `.ff.layer_1|layer_2|layer_norm`; heads
`sequence_summary.summary`, `logits_proj`, `classifier`, `qa_outputs`, `lm_loss`.
"""

import numpy as np

from tfmodels.converters.layer_tables import dense, embedding, feed_forward, layer_norm
from tfmodels.converters.mapping import IDENTITY, LINEAR, Param, Transform, WeightTable, prefixed, split_head_model
from tfmodels.converters.registry import register_weight_table


class Permute(Transform):
    """Checkpoint tensor -> Keras variable by `np.transpose(array, axes)` (and back)."""

    name = "permute"

    def __init__(self, axes):
        self.axes = tuple(axes)
        self.inverse = tuple(int(i) for i in np.argsort(self.axes))

    def hf_shape(self, keras_shape):
        return tuple(keras_shape[i] for i in self.inverse)

    def to_keras(self, array, keras_shape):
        return np.transpose(array, self.axes).reshape(keras_shape)

    def to_hf(self, array):
        return np.transpose(array, self.inverse)


HEADS_LAST = Permute((1, 2, 0))  # (D, N, H) -> (N, H, D)
OTHER_HEAD_KEYS = (r"^sequence_summary\.", r"^logits_proj\.", r"^classifier\.", r"^qa_outputs\.", r"^lm_loss\.")


def relative_layer(hf, keras, segment_attention=True):
    """`XLNetLayer` <-> `RelativeEncoderBlock`."""
    attention = f"{keras}.self_attention"
    names = ["r_w_bias", "r_r_bias"] + (["r_s_bias", "seg_embed"] if segment_attention else [])
    return [
        Param(f"{hf}.rel_attn.q", f"{attention}.query_dense.kernel"),
        Param(f"{hf}.rel_attn.k", f"{attention}.key_dense.kernel"),
        Param(f"{hf}.rel_attn.v", f"{attention}.value_dense.kernel"),
        Param(f"{hf}.rel_attn.o", f"{attention}.output_dense.kernel", HEADS_LAST),
        Param(f"{hf}.rel_attn.r", f"{attention}.r_kernel"),
        *[Param(f"{hf}.rel_attn.{name}", f"{attention}.{name}", IDENTITY) for name in names],
        *layer_norm(f"{hf}.rel_attn.layer_norm", f"{keras}.attention_layer_norm"),
        *feed_forward(f"{hf}.ff.layer_1", f"{hf}.ff.layer_2", f"{keras}.feed_forward"),
        *layer_norm(f"{hf}.ff.layer_norm", f"{keras}.output_layer_norm"),
    ]


@register_weight_table("xlnet")
def xlnet_table(model):
    is_head, backbone = split_head_model(model)
    params = [*embedding("word_embedding", "word_embedding"), Param("mask_emb", "mask_emb")]
    for i in range(len(backbone.layers_)):
        params += relative_layer(f"layer.{i}", f"layers_.{i}")
    params = prefixed("transformer" if is_head else "", params)
    flags = dict(optional=True, head=True)
    tied = {}
    if backbone.pooler is not None and backbone.pooler.summary is not None:
        params += dense("sequence_summary.summary", "transformer.pooler.summary", **flags)
        params += dense("logits_proj", "classifier", **flags)
    elif hasattr(model, "classifier"):
        params += dense("classifier", "classifier", **flags)
    if hasattr(model, "qa_outputs"):
        params += dense("qa_outputs", "qa_outputs", **flags)
    if hasattr(model, "lm_head"):
        params.append(Param("lm_loss.bias", "lm_head.bias", **flags))
        if not model.lm_head.tie_word_embeddings:
            params.append(Param("lm_loss.weight", "lm_head.decoder", LINEAR, **flags))
        else:
            tied = {r"^lm_loss\.weight$": "word_embedding.weight"}
    return WeightTable(params, tied=tied, other_head_keys=OTHER_HEAD_KEYS,
                       base_model_prefix="transformer", is_head_model=is_head)
