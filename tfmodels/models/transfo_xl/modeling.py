"""Transformer-XL: segment-level recurrence with relative positions, adaptive embeddings/softmax.

Layouts: activations batch-first `(batch, seq_len, d_model)`; `mems` in and
out in the Hugging Face layout `(mem_len, batch, d_model)`, one per layer.
`transformers` 5 dropped Transformer-XL: parity is checked against fixtures
made with transformers 4.35.2 (`scripts/make_transfo_xl_fixtures.py`).

References:
    Dai et al., "Transformer-XL: Attentive Language Models Beyond a
    Fixed-Length Context", ACL 2019.
    Parity reference: `transformers` 4.35 `TransfoXLModel`, `TransfoXLLMHeadModel`.
"""

import keras
from keras import ops

from tfmodels.layers.adaptive import AdaptiveEmbedding, AdaptiveLogSoftmax
from tfmodels.layers.block_stack import run_block_stack
from tfmodels.layers.losses import causal_lm_loss
from tfmodels.layers.position.sinusoidal import SinusoidalRelativeEmbedding
from tfmodels.layers.relative_block import RelativeEncoderBlock
from tfmodels.models.base import PreTrainedModel, stack_outputs
from tfmodels.models.heads import HeadModelMixin
from tfmodels.models.memory import block_memories, prepare_memory_inputs


def _check_supported(pre_lnorm, untie_r, attn_type, sample_softmax):
    """Rejects the reference's options this port does not implement (kept out of
    `__init__` so its locals, recorded as the config, hold only config fields)."""
    for name, value, supported in (("pre_lnorm", pre_lnorm, False), ("untie_r", untie_r, True),
                                   ("attn_type", attn_type, 0)):
        if value != supported:
            raise ValueError(f"TransfoXLModel supports {name}={supported!r} only. Received: {name}={value!r}")
    if sample_softmax > 0:
        raise ValueError(f"sample_softmax is not supported. Received: sample_softmax={sample_softmax}")


class TransfoXLModel(PreTrainedModel):
    """The Transformer-XL decoder stack (Hugging Face `TransfoXLConfig` fields).

    Without `mems` and with `mem_len > 0`, the memory starts as zeros of
    length `mem_len` (as in the reference), so the first segment attends to it.

    Call inputs: `input_ids` `(batch, seq_len)`, `mems` (list of
    `(mem_len, batch, d_model)`).

    Returns:
        dict with `last_hidden_state`, `mems` (when `mem_len > 0`), and when
        asked `hidden_states` and `attentions` `(batch, n_head, seq_len, mem_len + seq_len)`.

    Raises:
        ValueError: for `pre_lnorm=True`, `untie_r=False` or `attn_type != 0`
            (not supported), or `sample_softmax > 0`.
    """

    model_type = "transfo-xl"
    input_names = ("input_ids", "mems")
    serving_outputs = ("last_hidden_state",)

    def __init__(
        self, vocab_size=267735, cutoffs=(20000, 40000, 200000), d_model=1024, d_embed=1024, n_head=16, d_head=64,
        d_inner=4096, div_val=4, pre_lnorm=False, n_layer=18, mem_len=1600, clamp_len=1000, same_length=True,
        proj_share_all_but_first=True, attn_type=0, sample_softmax=-1, adaptive=True, dropout=0.1, dropatt=0.0,
        untie_r=True, init="normal", init_range=0.01, proj_init_std=0.01, init_std=0.02, layer_norm_epsilon=1e-5,
        tie_projs=None, **kwargs,
    ):
        super().__init__(**kwargs)
        _check_supported(pre_lnorm=pre_lnorm, untie_r=untie_r, attn_type=attn_type, sample_softmax=sample_softmax)
        cutoffs = list(cutoffs)
        if tie_projs is None:
            tie_projs = [False] + [bool(proj_share_all_but_first)] * len(cutoffs)
        self._record_config(locals())
        init_fn = (keras.initializers.RandomUniform(-init_range, init_range) if init == "uniform"
                   else keras.initializers.RandomNormal(stddev=init_std))
        self.word_emb = AdaptiveEmbedding(vocab_size, d_embed, d_model, cutoffs, div_val,
                                          embeddings_initializer=init_fn, dtype=self.dtype_policy, name="word_emb")
        self.position_embedding = SinusoidalRelativeEmbedding(d_model, clamp_len, dtype=self.dtype_policy,
                                                              name="position_embedding")
        self.dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy)
        self.layers_ = [
            RelativeEncoderBlock(
                num_heads=n_head, intermediate_size=d_inner, key_dim=d_head, relative_initializer=init_fn,
                hidden_act="relu", hidden_dropout=dropout, attention_dropout=dropatt,
                layer_norm_eps=layer_norm_epsilon, kernel_initializer=init_fn, dtype=self.dtype_policy,
                name=f"layer_{i}",
            )
            for i in range(n_layer)
        ]

    def _prepare_inputs(self, inputs, kwargs=None):
        return prepare_memory_inputs(self, inputs, kwargs)

    def _attention_mask(self, qlen, mlen):
        """`(1, 1, T, S)` bool: causal over memory + segment; `same_length` also caps the look-back."""
        klen = qlen + mlen
        i = ops.arange(qlen)[:, None]
        j = ops.arange(klen)[None, :]
        masked = ops.greater(j, i + mlen)
        if self.config["same_length"]:
            mask_len = klen - self.config["mem_len"]
            shift = ops.where(ops.greater(mask_len, 0), qlen - mask_len, qlen)
            masked = ops.logical_or(masked, ops.less_equal(j, i - shift))
        return ops.logical_not(masked)[None, None]

    def _update_mems(self, hidden_inputs, mems, mlen, qlen):
        mem_len = self.config["mem_len"]
        end = mlen + qlen
        begin = ops.maximum(0, end - mem_len)
        return tuple(
            ops.stop_gradient(ops.concatenate([ops.cast(m, h.dtype), ops.transpose(h, (1, 0, 2))], 0)[begin:end])
            for h, m in zip(hidden_inputs, mems)
        )

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = self._prepare_inputs(inputs)
        config = self.config
        input_ids = inputs["input_ids"]
        batch_size, qlen = ops.shape(input_ids)[0], ops.shape(input_ids)[1]  # static ints when known
        mems = inputs.get("mems")
        if mems is None and config["mem_len"] > 0:
            mems = [ops.zeros((config["mem_len"], batch_size, config["d_model"]), self.compute_dtype)
                    for _ in self.layers_]
        mlen = mems[0].shape[0] if mems else 0
        klen = qlen + mlen
        mask = self._attention_mask(qlen, mlen)
        # Distances klen .. -qlen+1; the negative ones only meet masked (future) keys.
        position_embeds = self.dropout(self.position_embedding(ops.arange(klen, -qlen, -1)), training=training)
        h = self.dropout(self.word_emb(input_ids), training=training)
        memories = block_memories(mems, len(self.layers_))
        stack = run_block_stack(
            self.layers_, h, call_kwargs={"attention_mask": mask, "position_embeds": position_embeds},
            layer_kwargs=lambda step: {"memory": memories[step]}, output_attentions=output_attentions,
            training=training,
        )
        hidden_states = stack.hidden_states  # each layer's input, then the last output
        h = self.dropout(stack.x, training=training)
        result = {"last_hidden_state": h}
        if mems:
            result["mems"] = self._update_mems(hidden_states[:-1], mems, mlen, qlen)
        hidden_states[-1] = h
        return stack_outputs(result, output_hidden_states, output_attentions, hidden_states, stack.attentions)


class TransfoXLPreTrainedModel(PreTrainedModel):
    """Base of the Transformer-XL heads: the backbone lives in `self.transformer`."""

    model_type = "transfo-xl"
    base_model_prefix = "transformer"
    backbone_class = TransfoXLModel
    input_names = TransfoXLModel.input_names


class TransfoXLLMHeadModel(HeadModelMixin, TransfoXLPreTrainedModel):
    """Transformer-XL + adaptive log-softmax tied to the adaptive input embeddings.

    Returns:
        dict with `logits`: log-probabilities `(batch, seq_len, vocab_size)`
        (the reference's `prediction_scores`), `mems`, optional
        `hidden_states`/`attentions`, and `loss` when `labels` `(batch, seq_len)`
        is given (labels are shifted inside: `labels = input_ids` works; -100
        ignored).
    """

    label_names = ("labels",)
    serving_outputs = ("logits",)
    backbone_kwargs = {}

    def __init__(self, **kwargs):
        self._init_backbone(kwargs)
        self.config = {}
        config = self.backbone.config
        self.lm_head = AdaptiveLogSoftmax(
            config["vocab_size"], config["d_embed"], config["d_model"], config["cutoffs"], config["div_val"],
            tie_word_embeddings=self.backbone.extra_config.get("tie_word_embeddings", True),
            tie_projs=config["tie_projs"], kernel_initializer=keras.initializers.RandomNormal(
                stddev=config["proj_init_std"]),
            dtype=self.dtype_policy, name="lm_head",
        )

    def _prepare_inputs(self, inputs, kwargs=None):
        return prepare_memory_inputs(self, inputs, kwargs)

    def _head_outputs(self, inputs, training, output_attentions, output_hidden_states):
        backbone_outputs = self._backbone_outputs(inputs, training, output_attentions, output_hidden_states)
        logits = self.lm_head(backbone_outputs["last_hidden_state"],
                              embedding_weights=self.backbone.word_emb.cluster_weights())
        outputs = {"logits": logits}
        for key in ("mems", "hidden_states", "attentions"):
            if key in backbone_outputs:
                outputs[key] = backbone_outputs[key]
        return outputs

    def task_loss(self, labels, outputs, sample_weight=None):
        return causal_lm_loss(labels["labels"], outputs["logits"], sample_weight, from_logits=False)

    def _metric_targets(self, labels, logits):
        return labels[:, 1:], logits[:, :-1]  # logits at t predict the label at t + 1
