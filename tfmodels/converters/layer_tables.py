"""Weight-table rows for the shared layers, reused by every architecture.

Each function returns the `Param`s of one `tfmodels.layers` layer given the
Hugging Face module name it corresponds to, so an architecture's table is a
list of calls naming its modules.
"""

import dataclasses
import re

from tfmodels.converters.mapping import FLATTEN, IDENTITY, LINEAR, LINEAR_FROM_HEADS, Param


def dense(hf, keras, kernel=LINEAR, bias=IDENTITY, use_bias=True, **flags):
    """`nn.Linear` `hf` <-> Keras `Dense`/`EinsumDense` `keras`."""
    params = [Param(f"{hf}.weight", f"{keras}.kernel", kernel, **flags)]
    if use_bias:
        params.append(Param(f"{hf}.bias", f"{keras}.bias", bias, **flags))
    return params


def layer_norm(hf, keras, **flags):
    """`nn.LayerNorm` (`weight`, `bias`) <-> Keras `LayerNormalization` (`gamma`, `beta`)."""
    return [Param(f"{hf}.weight", f"{keras}.gamma", **flags), Param(f"{hf}.bias", f"{keras}.beta", **flags)]


def embedding(hf, keras, **flags):
    """`nn.Embedding` <-> Keras `Embedding`."""
    return [Param(f"{hf}.weight", f"{keras}.embeddings", **flags)]


def masked_lm_bias(bias, decoder, keras, tied):
    """The output bias of a masked-LM head whose reference module keeps a `bias` parameter beside the
    `nn.Linear` `decoder` (BERT's `cls.predictions`, RoBERTa's `lm_head`, ALBERT's `predictions`, ...).

    Tied (`tie_word_embeddings=True`), the reference ties `{decoder}.bias` to `bias`: either key (equal
    values) loads it. Untied, its decoder has its own bias, the one it computes with, and `bias` is a
    parameter it keeps but never reads (`transformers` 5.24), so that key is ignored on loading.

    Args:
        bias: the HF key of the module's `bias` (`"cls.predictions.bias"`).
        decoder: the HF module name of the decoder (`"cls.predictions.decoder"`).
        keras: the Keras path of the head's bias variable (`"lm_head.bias"`).
        tied: the head's `tie_word_embeddings`.

    Returns:
        `(params, ignored_keys)`: the row and the patterns for `WeightTable.ignored_keys`.
    """
    if tied:
        return [Param(bias, keras, aliases=(f"{decoder}.bias",))], ()
    return [Param(f"{decoder}.bias", keras)], (f"^{re.escape(bias)}$",)


def attention(query, key, value, output, keras, use_bias=True, output_use_bias=None):
    """Separate q/k/v/output `nn.Linear`s <-> `MultiHeadAttention` `(D, N, H)` kernels.

    `output_use_bias` (default `use_bias`): the output projection's bias, kept by
    models without q/k/v biases (ViT with `qkv_bias=False`, BigBird).
    """
    heads = dict(kernel=LINEAR, bias=FLATTEN, use_bias=use_bias)
    output_use_bias = use_bias if output_use_bias is None else output_use_bias
    return [
        *dense(query, f"{keras}.query_dense", **heads),
        *dense(key, f"{keras}.key_dense", **heads),
        *dense(value, f"{keras}.value_dense", **heads),
        *dense(output, f"{keras}.output_dense", kernel=LINEAR_FROM_HEADS, use_bias=output_use_bias),
    ]


def feed_forward(intermediate, output, keras, use_bias=True):
    """Two `nn.Linear`s <-> `FeedForward`."""
    return [
        *dense(intermediate, f"{keras}.intermediate_dense", use_bias=use_bias),
        *dense(output, f"{keras}.output_dense", use_bias=use_bias),
    ]


def bert_style_block(hf, keras, qkv_bias=True):
    """A BERT-named encoder layer (`attention.self.query`, `intermediate.dense`, ...)
    <-> `TransformerEncoderBlock`. Shared by BERT and its many relatives
    (`qkv_bias=False`: BigBird's `use_bias=False`)."""
    return [
        *attention(
            f"{hf}.attention.self.query", f"{hf}.attention.self.key", f"{hf}.attention.self.value",
            f"{hf}.attention.output.dense", f"{keras}.self_attention", use_bias=qkv_bias, output_use_bias=True,
        ),
        *layer_norm(f"{hf}.attention.output.LayerNorm", f"{keras}.attention_layer_norm"),
        *feed_forward(f"{hf}.intermediate.dense", f"{hf}.output.dense", f"{keras}.feed_forward"),
        *layer_norm(f"{hf}.output.LayerNorm", f"{keras}.output_layer_norm"),
    ]


def bert_style_cross_attention(hf, keras):
    """A BERT-named decoder layer's `crossattention.{self.query, ..., output.LayerNorm}` <->
    `TransformerDecoderBlock.cross_attention` + `cross_attention_layer_norm`. Optional rows: a
    checkpoint of the model without cross-attention (an `EncoderDecoderModel` made from two
    encoders) leaves them newly initialised, with a warning, as `transformers` does."""
    params = [
        *attention(f"{hf}.crossattention.self.query", f"{hf}.crossattention.self.key",
                   f"{hf}.crossattention.self.value", f"{hf}.crossattention.output.dense",
                   f"{keras}.cross_attention"),
        *layer_norm(f"{hf}.crossattention.output.LayerNorm", f"{keras}.cross_attention_layer_norm"),
    ]
    return [dataclasses.replace(p, optional=True) for p in params]


def bert_style_embeddings(hf, keras, positions=True, token_types=True, norm=True):
    """BERT-named embeddings <-> `TransformerEmbeddings`."""
    params = embedding(f"{hf}.word_embeddings", f"{keras}.word_embeddings")
    if positions:
        params += embedding(f"{hf}.position_embeddings", f"{keras}.position_embeddings")
    if token_types:
        params += embedding(f"{hf}.token_type_embeddings", f"{keras}.token_type_embeddings")
    if norm:
        params += layer_norm(f"{hf}.LayerNorm", f"{keras}.layer_norm")
    return params


def classifier_heads(model, classifier="classifier", qa_outputs="qa_outputs", head_dense=None, head_out=None):
    """Rows of the generic task heads (`tfmodels.models.heads`) the model has.

    Head rows are optional (a base checkpoint gets a freshly initialised head,
    with a warning) and may be re-initialised on size mismatch. When the
    classifier is a two-layer `ClassificationHead`, its layers map to
    `head_dense` / `head_out` (default `{classifier}.dense` /
    `{classifier}.out_proj`, RoBERTa's names). A `SequenceSummary` with a
    projection maps to `sequence_summary.summary`.
    """
    flags = dict(optional=True, head=True)
    params = []
    if hasattr(model, "classifier") and hasattr(model.classifier, "out_proj"):
        params += dense(head_dense or f"{classifier}.dense", "classifier.dense", **flags)
        params += dense(head_out or f"{classifier}.out_proj", "classifier.out_proj", **flags)
    elif hasattr(model, "classifier"):  # a bias-free classifier (LUKE's entity pair head) has no bias row
        params += dense(classifier, "classifier", use_bias=getattr(model.classifier, "use_bias", True), **flags)
    if hasattr(model, "qa_outputs"):
        params += dense(qa_outputs, "qa_outputs", **flags)
    summary = getattr(model, "sequence_summary", None)  # `SequenceSummaryMixin` heads
    if summary is not None and summary.summary is not None:
        params += dense("sequence_summary.summary", "sequence_summary.summary", **flags)
    return params
