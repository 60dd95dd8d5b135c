"""BertGeneration: BERT without token types or pooler, as encoder or (cross-attention) decoder.

`BertGenerationEncoder` is `EncoderModel` with word + position embeddings
only (no token types) and no pooler; with `is_decoder=True` (and
`add_cross_attention=True`) its blocks are causal (with cross-attention
over `encoder_hidden_states`). `BertGenerationDecoder` adds the LM head:
one projection tied to the word embeddings plus its bias (`lm_head`, no
transform), and the shifted next-token loss. Both are the pieces of the
BERT2BERT `EncoderDecoderModel`s made from BERT/RoBERTa checkpoints.

References:
    Rothe et al., "Leveraging Pre-trained Checkpoints for Sequence
    Generation Tasks", TACL 2020. Parity reference:
    `transformers.models.bert_generation.modeling_bert_generation` (PyTorch).
"""

from tfmodels.models.base import PreTrainedModel
from tfmodels.models.causal import EncoderCausalLMMixin
from tfmodels.models.encoder import BERT_FIELDS, EncoderModel
from tfmodels.models.seq2seq import CROSS_ATTENTION_INPUTS


class BertGenerationEncoder(EncoderModel):
    """The BertGeneration stack: word + position embeddings, `num_hidden_layers` post-norm blocks.

    Constructor arguments are the fields of a Hugging Face
    `BertGenerationConfig` (BERT's, without `type_vocab_size`).

    Args:
        vocab_size, hidden_size, num_hidden_layers, num_attention_heads,
        intermediate_size, hidden_act, hidden_dropout_prob,
        attention_probs_dropout_prob, max_position_embeddings,
        initializer_range, layer_norm_eps: as `BertModel`.
        pad_token_id, bos_token_id, eos_token_id: ints, kept in the config.
        **kwargs: other Hugging Face fields (`is_decoder`,
            `add_cross_attention`, ... in `extra_config`) and Keras arguments.

    Call inputs (dict or keywords): `input_ids`, `attention_mask`,
    `position_ids` `(batch, seq_len)`; with cross-attention
    `encoder_hidden_states` `(batch, source_len, hidden_size)` and
    `encoder_attention_mask` `(batch, source_len)`.

    Returns:
        dict with `last_hidden_state` `(batch, seq_len, hidden_size)` and, when
        asked, `hidden_states`, `attentions` and (with encoder states)
        `cross_attentions` `(batch, heads, seq_len, source_len)`.

    Raises:
        ValueError: `hidden_size` not divisible by `num_attention_heads`,
            `add_cross_attention=True` without `is_decoder=True`, a sequence
            longer than `max_position_embeddings`.

    References: `transformers.BertGenerationEncoder`.
    """

    model_type = "bert-generation"
    serving_outputs = ("last_hidden_state",)
    has_pooler = False
    decoder_capable = True
    cross_attention_capable = True
    input_names = ("input_ids", "attention_mask", "position_ids") + CROSS_ATTENTION_INPUTS

    def __init__(
        self,
        vocab_size=50358,
        hidden_size=1024,
        num_hidden_layers=24,
        num_attention_heads=16,
        intermediate_size=4096,
        hidden_act="gelu",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=512,
        initializer_range=0.02,
        layer_norm_eps=1e-12,
        pad_token_id=0,
        bos_token_id=2,
        eos_token_id=1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._record_config(locals())
        fields = {name: self.config[name] for name in BERT_FIELDS if name != "type_vocab_size"}
        self._build_encoder(**fields, type_vocab_size=0)


class BertGenerationPreTrainedModel(PreTrainedModel):
    """Base of the BertGeneration head: the backbone lives in `self.bert`."""

    model_type = "bert-generation"
    base_model_prefix = "bert"
    backbone_class = BertGenerationEncoder


class BertGenerationDecoder(EncoderCausalLMMixin, BertGenerationPreTrainedModel):
    """BertGeneration as a causal LM (`is_decoder=True`): `lm_head` tied to the word embeddings, plus bias.

    With `add_cross_attention=True` it is the decoder of an
    `EncoderDecoderModel` (`encoder_hidden_states` in the inputs).

    Returns:
        dict with `logits` `(batch, seq_len, vocab_size)`, `loss` (next-token
        cross-entropy, -100 ignored) when `labels` is given, and the
        backbone's `hidden_states` / `attentions` / `cross_attentions` when
        asked. `generate()` decodes over a KV cache.

    References: `transformers.BertGenerationDecoder`.
    """

    input_names = BertGenerationEncoder.input_names
    lm_head_transform = False  # `lm_head` is the (tied) projection and its bias only
