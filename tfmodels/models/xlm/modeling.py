"""XLM: cross-lingual BERT-like encoder with language embeddings.

Differences from BERT, each a flag of a shared layer: token types are looked
up in the word table and languages in their own table (both through
`TransformerEmbeddings(extra_embeddings=...)`), optional sinusoidal position
table (`SinusoidalInitializer`), padded positions are zeroed after the
embeddings and after every block, heads pool with `SequenceSummary`.

References:
    Lample & Conneau, "Cross-lingual Language Model Pretraining", 2019.
    Parity reference: `transformers.models.xlm.modeling_xlm` (PyTorch).
"""

import keras
from keras import ops

from tfmodels.layers import MaskedLMHead, TransformerEmbeddings, TransformerEncoderBlock
from tfmodels.layers.block_stack import run_block_stack
from tfmodels.layers.kv_cache import causal_attention_mask, check_sequence_length
from tfmodels.layers.layer_drop import LayerDrop
from tfmodels.layers.position import SinusoidalInitializer
from tfmodels.layers.utils import hf_initializer
from tfmodels.models.base import PreTrainedModel, stack_outputs
from tfmodels.models.heads import MaskedLMMixin, QuestionAnsweringMixin, TokenClassificationMixin
from tfmodels.models.summary_heads import (
    BeamQuestionAnsweringMixin,
    SummaryMultipleChoiceMixin,
    SummarySequenceClassificationMixin,
)


class XLMModel(PreTrainedModel):
    """The XLM encoder. Constructor arguments are the fields of an XLM `config.json`.

    Args:
        vocab_size, emb_dim, n_layers, n_heads: sizes (`emb_dim` = `D`, FFN `4 D`).
        dropout, attention_dropout: dropout rates.
        gelu_activation: bool, GELU (else ReLU) in the feed-forward.
        sinusoidal_embeddings: bool, initialise positions with the fixed table.
        causal: bool, causal attention (CLM checkpoints).
        n_langs, use_lang_emb: language embeddings exist if `n_langs > 1` and `use_lang_emb`.
        max_position_embeddings, layer_norm_eps, embed_init_std, init_std: as named.
        pad_token_id: padding id; without `attention_mask` (and `lengths`) a
            row's length is its number of non-padding tokens, as in `transformers`.
        summary_*: the `SequenceSummary` of the classification heads.
        pre_norm, layerdrop: FlauBERT options (pre-norm blocks; LayerDrop in
            training), rejected by XLM itself.
        **kwargs: other Hugging Face fields (`extra_config`) and Keras arguments.

    Call inputs (dict or keywords; int `(batch, seq_len)`): `input_ids`,
    `attention_mask`, `langs`, `token_type_ids`, `position_ids`, and
    `lengths` `(batch,)`.

    Returns:
        dict with `last_hidden_state` `(batch, seq_len, emb_dim)` and, when
        asked, `hidden_states` (`n_layers + 1` tensors) and `attentions`
        (`(batch, n_heads, seq_len, seq_len)` each).
    """

    model_type = "xlm"
    input_names = ("input_ids", "attention_mask", "langs", "token_type_ids", "position_ids", "lengths")
    serving_outputs = ("last_hidden_state",)
    _own_fields = ()  # FlauBERT-only fields this class accepts

    def __init__(
        self, vocab_size=30145, emb_dim=2048, n_layers=12, n_heads=16, dropout=0.1, attention_dropout=0.1,
        gelu_activation=True, sinusoidal_embeddings=False, causal=False, asm=False, n_langs=1, use_lang_emb=True,
        max_position_embeddings=512, embed_init_std=2048**-0.5, layer_norm_eps=1e-12, init_std=0.02,
        summary_type="first", summary_use_proj=True, summary_activation=None, summary_proj_to_labels=True,
        summary_first_dropout=0.1, pad_token_id=2, is_encoder=True, pre_norm=False, layerdrop=0.0, **kwargs,
    ):
        super().__init__(**kwargs)
        if emb_dim % n_heads:
            raise ValueError(f"emb_dim must be a multiple of n_heads. Received: emb_dim={emb_dim}, n_heads={n_heads}")
        if asm or not is_encoder:
            raise ValueError(f"{type(self).__name__} supports asm=False, is_encoder=True only. "
                             f"Received: asm={asm}, is_encoder={is_encoder}")
        if "pre_norm" not in self._own_fields and (pre_norm or layerdrop):
            raise ValueError(f"pre_norm and layerdrop are FlauBERT options. Received: pre_norm={pre_norm}, "
                             f"layerdrop={layerdrop}; use FlaubertModel.")
        self._record_config(locals(), exclude=tuple(f for f in ("pre_norm", "layerdrop") if f not in self._own_fields))
        self.embeddings = TransformerEmbeddings(
            vocab_size=vocab_size, hidden_size=emb_dim, max_position_embeddings=max_position_embeddings,
            type_vocab_size=0, layer_norm_eps=layer_norm_eps, dropout=dropout, initializer_range=embed_init_std,
            position_initializer=SinusoidalInitializer() if sinusoidal_embeddings else None,
            dtype=self.dtype_policy, name="embeddings",
        )
        self.lang_embeddings = None
        if n_langs > 1 and use_lang_emb:
            self.lang_embeddings = keras.layers.Embedding(
                n_langs, emb_dim, embeddings_initializer=hf_initializer(embed_init_std),
                dtype=self.dtype_policy, name="lang_embeddings",
            )
            self.lang_embeddings.build((None, None))  # `langs` is optional, so a call may not build it
        self.encoder_layers = [
            TransformerEncoderBlock(
                num_heads=n_heads, intermediate_size=4 * emb_dim, hidden_act="gelu" if gelu_activation else "relu",
                hidden_dropout=dropout, attention_dropout=attention_dropout, layer_norm_eps=layer_norm_eps,
                normalize_first=pre_norm, kernel_initializer=hf_initializer(init_std),
                dtype=self.dtype_policy, name=f"encoder_layer_{i}",
            )
            for i in range(n_layers)
        ]
        self.layer_drop = LayerDrop(layerdrop, dtype=self.dtype_policy, name="layer_drop")

    @property
    def serving_extra_inputs(self):
        """SavedModel signatures take `langs` when the model has language embeddings."""
        return {"langs": ()} if self.lang_embeddings is not None else {}

    def _token_mask(self, inputs):
        """`(batch, seq_len)` bool: `attention_mask`, else positions below `lengths`."""
        if "attention_mask" in inputs:
            return ops.not_equal(inputs["attention_mask"], 0)
        input_ids = inputs["input_ids"]
        lengths = inputs.get("lengths")
        if lengths is None:
            lengths = ops.sum(ops.cast(ops.not_equal(input_ids, self.config["pad_token_id"]), "int32"), axis=1)
        return ops.arange(ops.shape(input_ids)[1])[None, :] < ops.cast(lengths, "int32")[:, None]

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = self._prepare_inputs(inputs)
        input_ids = inputs["input_ids"]
        if "position_ids" not in inputs:
            check_sequence_length(input_ids, self.config["max_position_embeddings"], type(self).__name__)
        token_mask = self._token_mask(inputs)
        seq_len = ops.shape(input_ids)[1]
        attention_mask = causal_attention_mask(seq_len) if self.config["causal"] else token_mask[:, None, None, :]

        extra = None
        if self.lang_embeddings is not None and "langs" in inputs:
            extra = self.lang_embeddings(inputs["langs"])
        if "token_type_ids" in inputs:  # token types share the word table
            types = self.embeddings.word_embeddings(inputs["token_type_ids"])
            extra = types if extra is None else extra + types
        x = self.embeddings(input_ids, position_ids=inputs.get("position_ids"), extra_embeddings=extra,
                            training=training)
        keep = ops.cast(token_mask, x.dtype)[:, :, None]  # (batch, seq_len, 1)
        x = x * keep
        stack = run_block_stack(
            self.encoder_layers, x, call_kwargs={"attention_mask": attention_mask},
            after_layer=lambda step, h: h * keep, layer_drop=self.layer_drop,
            output_attentions=output_attentions, training=training,
        )
        return stack_outputs({"last_hidden_state": stack.x}, output_hidden_states, output_attentions,
                             stack.hidden_states, stack.attentions)


class XLMHeadAttributes:
    """Listed first in the bases of the XLM heads: backbone in `self.transformer`, no pooler."""

    model_type = "xlm"
    base_model_prefix = "transformer"
    backbone_class = XLMModel
    input_names = XLMModel.input_names
    backbone_kwargs = {}

    @property
    def serving_extra_inputs(self):
        return self.backbone.serving_extra_inputs


class XLMForSequenceClassification(XLMHeadAttributes, SummarySequenceClassificationMixin, PreTrainedModel):
    """`transformers.XLMForSequenceClassification`: logits from `SequenceSummary`."""


class XLMForTokenClassification(XLMHeadAttributes, TokenClassificationMixin, PreTrainedModel):
    """`transformers.XLMForTokenClassification`: per-token linear classifier."""


class XLMForQuestionAnsweringSimple(XLMHeadAttributes, QuestionAnsweringMixin, PreTrainedModel):
    """`transformers.XLMForQuestionAnsweringSimple`: span head (`start_logits`, `end_logits`)."""


class XLMForQuestionAnswering(XLMHeadAttributes, BeamQuestionAnsweringMixin, PreTrainedModel):
    """`transformers.XLMForQuestionAnswering`: beam-search SQuAD head (see `BeamQuestionAnsweringMixin`)."""

    input_names = XLMModel.input_names + BeamQuestionAnsweringMixin.head_input_names


class XLMForMultipleChoice(XLMHeadAttributes, SummaryMultipleChoiceMixin, PreTrainedModel):
    """`transformers.XLMForMultipleChoice`: `SequenceSummary` then `logits_proj`; inputs `(batch, choices, seq)`."""


class XLMWithLMHeadModel(XLMHeadAttributes, MaskedLMMixin, PreTrainedModel):
    """`transformers.XLMWithLMHeadModel`: vocabulary logits from the tied projection plus bias."""

    def _make_lm_head(self):
        config = self.backbone.config
        self.pred_layer = MaskedLMHead(
            vocab_size=config["vocab_size"], hidden_size=config["emb_dim"], transform=False,
            tie_word_embeddings=self.backbone.extra_config.get("tie_word_embeddings", True),
            kernel_initializer=hf_initializer(config["init_std"]), dtype=self.dtype_policy, name="pred_layer",
        )

    def _lm_logits(self, hidden_states):
        return self.pred_layer(hidden_states, embedding_matrix=self.backbone.embeddings.word_embeddings.embeddings)
