"""XLNet: relative-attention encoder with memory, two-stream attention and task heads.

Layouts: activations are batch-first `(batch, seq_len, d_model)`; `mems` (in
and out) keep the Hugging Face layout `(mem_len, batch, d_model)`, one per
layer, so memories move freely between `transformers` and tfmodels.

References:
    Yang et al., "XLNet: Generalized Autoregressive Pretraining for Language
    Understanding", NeurIPS 2019.
    Parity reference: `transformers.models.xlnet.modeling_xlnet` (PyTorch).
"""

import keras
from keras import ops

from tfmodels.layers.block_stack import run_block_stack
from tfmodels.layers.position.sinusoidal import SinusoidalRelativeEmbedding
from tfmodels.layers.relative_block import RelativeEncoderBlock
from tfmodels.layers.embeddings import WordEmbedding
from tfmodels.layers.heads import SequenceSummary
from tfmodels.layers.utils import hf_initializer
from tfmodels.models.base import PreTrainedModel, stack_outputs
from tfmodels.models.memory import FLOAT_INPUTS, block_memories, prepare_memory_inputs

def cache_memory(current, previous, mem_len, reuse_len=None):
    """Next memory `(new_len, B, D)` from this layer's input `(B, T, D)` and the old memory."""
    current = ops.transpose(current, (1, 0, 2))  # (T, B, D)
    if reuse_len:
        current = current[:reuse_len]
    if previous is not None:
        current = ops.concatenate([ops.cast(previous, current.dtype), current], axis=0)
    if mem_len:
        current = current[-mem_len:]
    return ops.stop_gradient(current)


class XLNetModel(PreTrainedModel):
    """The XLNet encoder (Hugging Face `XLNetConfig` fields as arguments).

    Call inputs: `input_ids`, `attention_mask` (or `input_mask`, 1 = padding),
    `token_type_ids`, `mems` (list of `(mem_len, batch, d_model)`),
    `perm_mask` `(batch, seq_len, seq_len)` (1 = may not attend),
    `target_mapping` `(batch, num_predict, seq_len)` (one-hot prediction slots).

    Returns:
        dict with `last_hidden_state` `(batch, seq_len or num_predict, d_model)`,
        `mems` (tuple of `(new_mem_len, batch, d_model)`, when `use_mems_eval`
        / `use_mems_train` is set), and when asked `hidden_states` (with a
        query stream: content and query states alternate) and `attentions`
        (with a query stream: `(content, query)` pairs).
    """

    model_type = "xlnet"
    input_names = ("input_ids", "attention_mask", "token_type_ids") + FLOAT_INPUTS
    serving_outputs = ("last_hidden_state",)

    def __init__(
        self, vocab_size=32000, d_model=1024, n_layer=24, n_head=16, d_inner=4096, d_head=None,
        ff_activation="gelu", attn_type="bi", initializer_range=0.02, layer_norm_eps=1e-12, dropout=0.1,
        mem_len=512, reuse_len=None, use_mems_eval=True, use_mems_train=False, bi_data=False, clamp_len=-1,
        same_length=False, summary_type="last", summary_use_proj=True, summary_activation="tanh",
        summary_last_dropout=0.1, add_pooling_layer=False, **kwargs,
    ):
        super().__init__(**kwargs)
        if d_model % n_head:
            raise ValueError(f"d_model must be a multiple of n_head. Received: d_model={d_model}, n_head={n_head}")
        if attn_type not in ("bi", "uni"):
            raise ValueError(f"attn_type must be 'bi' or 'uni'. Received: attn_type={attn_type!r}")
        d_head = d_model // n_head if d_head is None else d_head
        self._record_config(locals(), exclude=("add_pooling_layer",))
        self.add_pooling_layer = add_pooling_layer
        init = hf_initializer(initializer_range)
        self.word_embedding = WordEmbedding(
            vocab_size, d_model, embeddings_initializer=init, dtype=self.dtype_policy, name="word_embedding"
        )
        self.mask_emb = self.add_weight(name="mask_emb", shape=(1, 1, d_model), initializer=init)
        self.position_embedding = SinusoidalRelativeEmbedding(d_model, clamp_len, dtype=self.dtype_policy,
                                                              name="position_embedding")
        self.dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy)
        self.layers_ = [
            RelativeEncoderBlock(
                num_heads=n_head, intermediate_size=d_inner, segment_attention=True, relative_initializer=init,
                hidden_act=ff_activation, hidden_dropout=dropout, attention_dropout=dropout,
                layer_norm_eps=layer_norm_eps, key_dim=d_head, kernel_initializer=init,
                dtype=self.dtype_policy, name=f"layer_{i}",
            )
            for i in range(n_layer)
        ]
        self.pooler = SequenceSummary(
            summary_type=summary_type, num_outputs=d_model if summary_use_proj else None,
            activation=summary_activation, kernel_initializer=init, dtype=self.dtype_policy, name="pooler",
        ) if add_pooling_layer else None

    def _constructor_only_config(self):
        return {"add_pooling_layer": self.add_pooling_layer}

    def _prepare_inputs(self, inputs, kwargs=None):
        return prepare_memory_inputs(self, inputs, kwargs)

    def _masks(self, inputs, qlen, mlen):
        """Boolean masks `(B|1, 1, T, S)` for the content and query streams (True = attend)."""
        config = self.config
        klen = qlen + mlen
        i = ops.arange(qlen)[:, None]
        j = ops.arange(klen)[None, :]
        masked = None
        if config["attn_type"] == "uni":
            masked = ops.greater(j, i + mlen)
            if config["same_length"]:
                masked = ops.logical_or(masked, ops.less(j, i))
            masked = masked[None]  # (1, T, S)
        input_mask = inputs.get("input_mask")
        if input_mask is None and inputs.get("attention_mask") is not None:
            input_mask = 1.0 - ops.cast(inputs["attention_mask"], "float32")
        data = None
        if input_mask is not None:
            data = ops.cast(input_mask, "float32")[:, None, :]  # (B, 1, T)
        if inputs.get("perm_mask") is not None:
            perm = ops.cast(inputs["perm_mask"], "float32")
            data = perm if data is None else data + perm
        if data is not None:
            if mlen:
                data = ops.pad(data, [[0, 0], [0, 0], [mlen, 0]])
            data = ops.greater(data, 0)
            masked = data if masked is None else ops.logical_or(masked, data)
        if masked is None:
            return None, None
        diagonal = ops.equal(j, i + mlen)[None]
        content = ops.logical_not(ops.logical_and(masked, ops.logical_not(diagonal)))
        return content[:, None], ops.logical_not(masked)[:, None]

    def _position_embeds(self, qlen, klen, batch_size, training):
        config = self.config
        end = -qlen if config["attn_type"] == "bi" else -1
        forward = self.position_embedding(ops.arange(klen, end, -1))  # (R, D)
        if config["bi_data"]:
            backward = self.position_embedding(ops.arange(-klen, -end, 1))
            half = batch_size // 2
            forward = ops.concatenate([
                ops.broadcast_to(forward[None], (half, *ops.shape(forward))),
                ops.broadcast_to(backward[None], (half, *ops.shape(backward))),
            ], axis=0)  # (B, R, D)
        return self.dropout(forward, training=training)

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = self._prepare_inputs(inputs)
        config = self.config
        input_ids = inputs["input_ids"]
        batch_size, qlen = ops.shape(input_ids)[0], ops.shape(input_ids)[1]  # static ints when known
        mems = inputs.get("mems")
        mlen = mems[0].shape[0] if mems else 0
        klen = qlen + mlen
        use_mems = config["use_mems_train"] if training else config["use_mems_eval"]
        content_mask, query_mask = self._masks(inputs, qlen, mlen)

        h = self.dropout(self.word_embedding(input_ids), training=training)  # (B, T, D)
        target_mapping = inputs.get("target_mapping")
        g = None
        if target_mapping is not None:
            mask_emb = ops.cast(self.mask_emb, h.dtype)
            g = self.dropout(ops.broadcast_to(mask_emb, (batch_size, ops.shape(target_mapping)[1], config["d_model"])),
                             training=training)
        segment_mismatch = None
        if inputs.get("token_type_ids") is not None:
            token_type_ids = inputs["token_type_ids"]
            keys = ops.pad(token_type_ids, [[0, 0], [mlen, 0]]) if mlen else token_type_ids
            segment_mismatch = ops.not_equal(token_type_ids[:, :, None], keys[:, None, :])  # (B, T, S)
        position_embeds = self._position_embeds(qlen, klen, batch_size, training)

        memories = block_memories(mems, len(self.layers_))

        def two_streams(step, layer, x, **kwargs):
            content, query = x
            return layer(content, query_stream=query, **kwargs)  # -> (h, g[, (h_probs, g_probs)])

        stack = run_block_stack(
            self.layers_, h if g is None else (h, g),
            call_kwargs=dict(attention_mask=content_mask, query_attention_mask=query_mask,
                             target_mapping=target_mapping, position_embeds=position_embeds,
                             segment_mismatch=segment_mismatch),
            layer_kwargs=lambda step: {"memory": memories[step]},
            call_block=None if g is None else two_streams,
            output_attentions=output_attentions, training=training,
        )
        contents = [x if g is None else x[0] for x in stack.hidden_states]  # the content stream h
        output = self.dropout(stack.x if g is None else stack.x[1], training=training)
        result = {"last_hidden_state": output}
        if use_mems:  # from each layer's input
            result["mems"] = tuple(cache_memory(contents[i], mems[i] if mems else None, config["mem_len"],
                                                config["reuse_len"]) for i in range(len(self.layers_)))
        if self.pooler is not None:
            result["pooler_output"] = self.pooler(output, training=training)
        hidden_states = [t for x in stack.hidden_states for t in (x if g is not None else (x,))]  # h, g alternate
        return stack_outputs(result, output_hidden_states, output_attentions, hidden_states, stack.attentions)
