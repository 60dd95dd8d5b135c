"""GPT-2: the decoder backbone and its task heads.

Pre-norm `TransformerEncoderBlock`s under a causal mask, learned absolute
positions, a final LayerNorm, the LM head tied to the token embeddings.
With `add_cross_attention=True` the blocks are pre-norm
`TransformerDecoderBlock`s (`ln_cross_attn` + `crossattention` over
`encoder_hidden_states`, scaled as the self-attention), the decoder of an
`EncoderDecoderModel`.
GPT-2's fused `Conv1D` `c_attn` is split into query/key/value by the weight
table (`tfmodels.converters.gpt2`), not here. DialoGPT, DistilGPT2 and
Megatron-GPT2 (in GPT-2 layout) are GPT-2 checkpoints and load unchanged.

References:
    Radford et al., "Language Models are Unsupervised Multitask Learners", 2019.
    Parity reference: `transformers.models.gpt2.modeling_gpt2` (PyTorch).
"""

import keras
import tensorflow as tf
from keras import ops

from tfmodels.layers import LayerNormalization, TransformerEncoderBlock
from tfmodels.layers.decoder_block import TransformerDecoderBlock
from tfmodels.layers.losses import broadcast_sample_weight, causal_lm_loss, masked_sparse_categorical_crossentropy
from tfmodels.layers.utils import hf_initializer
from tfmodels.models.causal import (
    CausalDecoderModel,
    CausalHeadMixin,
    CausalLMMixin,
    LastTokenClassificationMixin,
    tied_lm_logits,
)
from tfmodels.models.heads import TokenClassificationMixin


class GPT2Model(CausalDecoderModel):
    """The GPT-2 decoder: `wte + wpe`, `n_layer` pre-norm blocks, `ln_f`.

    Constructor arguments are the fields of a Hugging Face GPT-2 `config.json`
    (`n_embd`, `n_layer`, `n_head`, `n_inner`, `n_positions`,
    `activation_function`, `*_pdrop`, `layer_norm_epsilon`,
    `scale_attn_weights`, `scale_attn_by_inverse_layer_idx`, ...). Other
    fields are kept in `extra_config`. `reorder_and_upcast_attn` changes
    nothing here: attention scores are always softmaxed in float32.

    Call inputs and outputs: see `CausalDecoderModel`. For left-padded
    batches pass `position_ids` (Hugging Face's generate uses
    `tfmodels.models.causal.positions_from_attention_mask`).

    Raises:
        ValueError: `n_embd` not divisible by `n_head`, sequences longer
            than `n_positions`, or `encoder_hidden_states` without
            `add_cross_attention=True`.
    """

    model_type = "gpt2"

    def __init__(
        self,
        vocab_size=50257,
        n_positions=1024,
        n_embd=768,
        n_layer=12,
        n_head=12,
        n_inner=None,
        activation_function="gelu_new",
        resid_pdrop=0.1,
        embd_pdrop=0.1,
        attn_pdrop=0.1,
        layer_norm_epsilon=1e-5,
        initializer_range=0.02,
        scale_attn_weights=True,
        scale_attn_by_inverse_layer_idx=False,
        add_cross_attention=False,
        pad_token_id=None,
        bos_token_id=50256,
        eos_token_id=50256,
        add_pooling_layer=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if n_embd % n_head:
            raise ValueError(f"n_embd must be a multiple of n_head. Received: n_embd={n_embd}, n_head={n_head}")
        self._record_config(locals(), exclude=("add_pooling_layer",))
        self.num_heads, self.head_dim, self.max_positions = n_head, n_embd // n_head, n_positions
        self.initializer_range = initializer_range
        self._build_embeddings(vocab_size, n_positions, n_embd, initializer_range, embd_pdrop)
        self.blocks = []
        block_class = TransformerDecoderBlock if add_cross_attention else TransformerEncoderBlock
        for i in range(n_layer):
            scale = (self.head_dim ** -0.5) if scale_attn_weights else 1.0
            if scale_attn_by_inverse_layer_idx:
                scale /= float(i + 1)
            self.blocks.append(block_class(
                num_heads=n_head, intermediate_size=n_inner or 4 * n_embd, hidden_act=activation_function,
                hidden_dropout=resid_pdrop, attention_dropout=attn_pdrop, layer_norm_eps=layer_norm_epsilon,
                normalize_first=True, kernel_initializer=hf_initializer(initializer_range),
                attention_kwargs={"scale": scale}, dtype=self.dtype_policy, name=f"h_{i}",
            ))
        self.final_layer_norm = LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="ln_f"
        )


class GPT2PreTrainedModel(CausalDecoderModel):
    """Base of the GPT-2 head models: the backbone lives in `self.transformer`."""

    model_type = "gpt2"
    base_model_prefix = "transformer"
    backbone_class = GPT2Model


class GPT2LMHeadModel(CausalLMMixin, GPT2PreTrainedModel):
    """GPT-2 with the LM head tied to `wte`; `generate()` for text generation.

    Returns:
        dict with `logits` `(batch, seq_len, vocab_size)`, `past_key_values`
        (with a cache / `use_cache=True`) and `loss` (next-token
        cross-entropy, -100 ignored) when `labels` is given.

    References: `transformers.GPT2LMHeadModel`.
    """

    def _make_lm_head(self):
        pass  # tied: the projection is `wte` reversed

    def _lm_logits(self, hidden_states):
        return tied_lm_logits(self, hidden_states)


class GPT2ForSequenceClassification(LastTokenClassificationMixin, GPT2PreTrainedModel):
    """GPT-2 scoring the last non-padding token (`score`, no bias).

    References: `transformers.GPT2ForSequenceClassification`.
    """


class GPT2ForTokenClassification(CausalHeadMixin, TokenClassificationMixin, GPT2PreTrainedModel):
    """GPT-2 with a per-token linear classifier.

    References: `transformers.GPT2ForTokenClassification`.
    """

    @property
    def classifier_dropout_rate(self):
        rate = self.config.get("classifier_dropout")
        return self.backbone.extra_config.get("hidden_dropout", 0.1) if rate is None else rate


class GPT2DoubleHeadsModel(CausalLMMixin, GPT2PreTrainedModel):
    """GPT-2 with the tied LM head and a multiple-choice head.

    Inputs are `(batch, num_choices, seq_len)`; `mc_token_ids`
    `(batch, num_choices)` picks the token each choice is scored at (default:
    the last). The multiple-choice head is Hugging Face's
    `GPT2SequenceSummary` with `summary_type="cls_index"`: optional
    projection (`summary_use_proj`, to 1 output), optional activation.

    Returns:
        dict with `logits` `(batch, num_choices, seq_len, vocab_size)` and
        `mc_logits` `(batch, num_choices)`; `loss`/`mc_loss` with
        `labels`/`mc_labels`.

    References: `transformers.GPT2DoubleHeadsModel`.
    """

    input_names = CausalDecoderModel.input_names + ("mc_token_ids",)
    label_names = ("labels", "mc_labels")
    serving_outputs = ("logits", "mc_logits")

    def __init__(self, summary_type="cls_index", summary_use_proj=True, summary_activation=None,
                 summary_proj_to_labels=True, summary_first_dropout=0.1, **kwargs):
        super().__init__(**kwargs)
        if summary_type != "cls_index":
            raise ValueError(f"GPT2DoubleHeadsModel supports summary_type='cls_index'. Received: {summary_type!r}")
        self.config.update({
            "summary_type": summary_type, "summary_use_proj": summary_use_proj,
            "summary_activation": summary_activation, "summary_proj_to_labels": summary_proj_to_labels,
            "summary_first_dropout": summary_first_dropout,
        })
        self.summary_dropout = keras.layers.Dropout(summary_first_dropout, dtype=self.dtype_policy)
        self.multiple_choice_summary = self._dense(1, "multiple_choice_summary") if summary_use_proj else None
        if summary_activation not in (None, "tanh", "linear"):
            raise ValueError(f"summary_activation must be None, 'tanh' or 'linear'. Received: {summary_activation!r}")

    def _make_lm_head(self):
        pass

    def _lm_logits(self, hidden_states):
        return tied_lm_logits(self, hidden_states)

    def dummy_inputs(self, batch_size=1, seq_len=4):
        return {k: v.reshape(batch_size, 1, seq_len) for k, v in super().dummy_inputs(batch_size, seq_len).items()}

    def _head_outputs(self, inputs, training, output_attentions, output_hidden_states):
        shape = ops.shape(inputs["input_ids"])  # (batch, choices, seq_len)
        mc_token_ids = inputs.pop("mc_token_ids", None)
        flat = {k: ops.reshape(v, (-1, shape[-1])) if k in self.input_names else v  # (batch * choices, seq_len)
                for k, v in inputs.items()}
        backbone_outputs = self._backbone_outputs(flat, training, output_attentions, output_hidden_states)
        hidden = backbone_outputs["last_hidden_state"]  # (batch * choices, seq_len, n_embd)
        if mc_token_ids is None:
            mc_token_ids = ops.full((shape[0] * shape[1],), shape[-1] - 1, dtype="int32")
        summary = tf.gather(hidden, ops.reshape(ops.cast(mc_token_ids, "int32"), (-1,)), batch_dims=1)
        summary = self.summary_dropout(summary, training=training)
        if self.multiple_choice_summary is not None:
            summary = self.multiple_choice_summary(summary)  # (batch * choices, 1)
        if self.config["summary_activation"] == "tanh":
            summary = ops.tanh(summary)
        outputs = {
            "logits": ops.reshape(self._lm_logits(hidden), (shape[0], shape[1], shape[2], -1)),
            "mc_logits": ops.reshape(summary[..., 0], (shape[0], shape[1])),
        }
        outputs = self._passthrough(outputs, backbone_outputs)
        if "hidden_states" in outputs:  # Hugging Face views the last one as (batch, choices, seq_len, n_embd)
            *inner, last = outputs["hidden_states"]
            outputs["hidden_states"] = (*inner, ops.reshape(last, (shape[0], shape[1], shape[2], -1)))
        return outputs

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False,
             past_key_values=None, cache_update_index=None, use_cache=False):
        """As `CausalHeadMixin.call`; `loss` (LM, with `labels`) and `mc_loss` (with `mc_labels`) apart, as
        `transformers` returns them."""
        inputs = self._prepare_inputs(inputs)
        labels = {k: inputs.pop(k) for k in self.label_names if k in inputs}
        outputs = super().call(inputs, training=training, output_attentions=output_attentions,
                               output_hidden_states=output_hidden_states, past_key_values=past_key_values,
                               cache_update_index=cache_update_index, use_cache=use_cache)
        if "labels" in labels:
            outputs = {"loss": self._lm_loss(labels["labels"], outputs), **outputs}
        if "mc_labels" in labels:
            outputs["mc_loss"] = masked_sparse_categorical_crossentropy(labels["mc_labels"], outputs["mc_logits"])
        return outputs

    @staticmethod
    def _lm_loss(labels, outputs, sample_weight=None):
        logits = outputs["logits"]  # (batch, num_choices, seq_len, vocab)
        vocab = ops.shape(logits)[-1]
        seq_len = ops.shape(logits)[-2]
        if sample_weight is not None:  # a per-example weight covers the tokens of all its choices
            per_choice = broadcast_sample_weight(sample_weight, outputs["mc_logits"]) * ops.ones(ops.shape(outputs["mc_logits"]))
            sample_weight = ops.reshape(per_choice, (-1,))
        return causal_lm_loss(ops.reshape(labels, (-1, seq_len)), ops.reshape(logits, (-1, seq_len, vocab)), sample_weight)

    def task_loss(self, labels, outputs, sample_weight=None):
        """The training objective: LM loss + multiple-choice loss."""
        mc_loss = masked_sparse_categorical_crossentropy(labels["mc_labels"], outputs["mc_logits"],
                                                         sample_weight=sample_weight)
        return self._lm_loss(labels["labels"], outputs, sample_weight) + mc_loss
