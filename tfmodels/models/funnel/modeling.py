"""Funnel-Transformer: encoder with sequence pooling, optional upsampling decoder, heads.

`FunnelBaseModel` is the pooling encoder (its output is shorter than the
input); `FunnelModel` adds the decoder that upsamples back to full length.

References:
    Dai et al., "Funnel-Transformer: Filtering out Sequential Redundancy for
    Efficient Language Processing", NeurIPS 2020.
    Parity reference: `transformers.models.funnel.modeling_funnel` (PyTorch).
"""

import keras
from keras import ops

from tfmodels.layers import TransformerEmbeddings
from tfmodels.layers.block_stack import run_block_stack
from tfmodels.layers.funnel_block import FunnelBlock
from tfmodels.layers.heads import Pooler
from tfmodels.layers.masks import padding_mask
from tfmodels.layers.pooling.funnel import upsample
from tfmodels.models.base import PreTrainedModel, stack_outputs
from tfmodels.models.funnel.structure import FunnelAttentionStructure


def _static_seq_len(input_ids, model_name):
    seq_len = input_ids.shape[1]
    if seq_len is None:
        raise ValueError(
            f"{model_name} needs a static sequence length (its pooling and relative positions are "
            "laid out per length): pad inputs to a fixed length, or trace with a fixed input shape. "
            f"Received input_ids of shape {tuple(input_ids.shape)}."
        )
    return seq_len


class FunnelBaseModel(PreTrainedModel):
    """The Funnel encoder: embeddings and pooling blocks (no decoder).

    Constructor arguments are the fields of a Hugging Face Funnel `config.json`
    (`block_sizes`, `block_repeats`, `d_model`, `n_head`, `d_head`, `d_inner`,
    `pooling_type`, `attention_type`, `separate_cls`, `truncate_seq`,
    `pool_q_only`, ...).

    Call inputs: `input_ids`, `attention_mask`, `token_type_ids`
    (int `(batch, seq_len)`; the sequence length must be static; token type 2
    marks [CLS] tokens).

    Returns:
        dict with `last_hidden_state` `(batch, pooled_len, d_model)` and, when
        asked, `hidden_states` (embeddings + one per layer application, of
        shrinking length) and `attentions`. With `add_pooling_layer=True`
        (used by the classification heads) also `pooler_output`
        `(batch, d_model)` = `tanh(dense(h[:, 0]))`.

    Raises:
        ValueError: unknown `pooling_type`/`attention_type`, mismatched
            `block_sizes`/`block_repeats`, dynamic sequence length.
    """

    model_type = "funnel"
    input_names = ("input_ids", "attention_mask", "token_type_ids")
    serving_outputs = ("last_hidden_state",)
    has_decoder = False

    def __init__(
        self,
        vocab_size=30522,
        block_sizes=(4, 4, 4),
        block_repeats=None,
        num_decoder_layers=2,
        d_model=768,
        n_head=12,
        d_head=64,
        d_inner=3072,
        hidden_act="gelu_new",
        hidden_dropout=0.1,
        attention_dropout=0.1,
        activation_dropout=0.0,
        initializer_range=0.1,
        initializer_std=None,
        layer_norm_eps=1e-9,
        pooling_type="mean",
        attention_type="relative_shift",
        separate_cls=True,
        truncate_seq=True,
        pool_q_only=True,
        pad_token_id=None,
        add_pooling_layer=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        block_sizes = list(block_sizes)
        block_repeats = [1] * len(block_sizes) if block_repeats is None else list(block_repeats)
        if len(block_sizes) != len(block_repeats):
            raise ValueError(
                "block_sizes and block_repeats must have the same length. "
                f"Received: block_sizes={block_sizes}, block_repeats={block_repeats}"
            )
        if pooling_type not in ("mean", "max"):
            raise ValueError(f"pooling_type must be 'mean' or 'max'. Received: pooling_type={pooling_type!r}")
        if attention_type not in ("relative_shift", "factorized"):
            raise ValueError(
                f"attention_type must be 'relative_shift' or 'factorized'. Received: attention_type={attention_type!r}"
            )
        self._record_config(locals(), exclude=("add_pooling_layer",))
        self.add_pooling_layer = add_pooling_layer
        std = 1.0 if initializer_std is None else initializer_std
        kernel_init = (  # N(0, 1 / (fan_in + fan_out)) as in the reference, or N(0, initializer_std)
            keras.initializers.VarianceScaling(0.5, "fan_avg", "untruncated_normal") if initializer_std is None
            else keras.initializers.RandomNormal(stddev=std)
        )
        self.embeddings = TransformerEmbeddings(
            vocab_size=vocab_size, hidden_size=d_model, max_position_embeddings=None, type_vocab_size=0,
            layer_norm_eps=layer_norm_eps, dropout=hidden_dropout, initializer_range=std,
            dtype=self.dtype_policy, name="embeddings",
        )
        self.structure = FunnelAttentionStructure(
            self, d_model, len(block_sizes), attention_type, separate_cls, truncate_seq, pool_q_only,
            pooling_type, hidden_dropout,
        )

        def block(name):
            return FunnelBlock(
                num_heads=n_head, intermediate_size=d_inner, attention_type=attention_type,
                relative_initializer=keras.initializers.RandomUniform(0.0, initializer_range),
                hidden_act=hidden_act, hidden_dropout=hidden_dropout, attention_dropout=attention_dropout,
                layer_norm_eps=layer_norm_eps, key_dim=d_head, kernel_initializer=kernel_init,
                dtype=self.dtype_policy, name=name,
            )

        self.blocks = [[block(f"block_{b}_layer_{i}") for i in range(size)] for b, size in enumerate(block_sizes)]
        self.decoder_layers = (
            [block(f"decoder_layer_{i}") for i in range(num_decoder_layers)] if self.has_decoder else []
        )
        self.pooler = (
            Pooler(d_model, kernel_initializer=kernel_init, dtype=self.dtype_policy, name="pooler")
            if add_pooling_layer else None
        )

    def _constructor_only_config(self):
        return {"add_pooling_layer": self.add_pooling_layer}

    def _run_layer(self, layer, block_index, query, value, attention_inputs, **kwargs):
        position_embeds, token_type_mat, attention_mask, cls_mask = attention_inputs
        if self.config["attention_type"] == "relative_shift":
            # The (within, pooling) pair of this block; the layer picks by query/key lengths.
            position_embeds = position_embeds[block_index]
        return layer(query, value=value, attention_mask=padding_mask(attention_mask),
                     position_embeds=position_embeds, token_type_mat=token_type_mat, cls_mask=cls_mask, **kwargs)

    def _encoder_plan(self):
        """The applied layers: `(order, plan)`, indices into the flattened `blocks` and, per step,
        `(block_index, first)` where `first` marks a block's first application (where pooling may happen)."""
        order, plan, start = [], [], 0
        for block_index, block in enumerate(self.blocks):
            for layer_index in range(len(block)):
                for repeat_index in range(self.config["block_repeats"][block_index]):
                    order.append(start + layer_index)
                    plan.append((block_index, layer_index == 0 and repeat_index == 0))
            start += len(block)
        return order, plan

    def _encode(self, inputs, training, output_attentions):
        """Runs embeddings + pooling blocks; returns (hidden, hidden_states, attentions, first-call info)."""
        input_ids = inputs["input_ids"]
        seq_len = _static_seq_len(input_ids, type(self).__name__)
        attention_mask = inputs.get("attention_mask")
        attention_mask = (
            ops.ones_like(input_ids, dtype=self.compute_dtype) if attention_mask is None
            else ops.cast(attention_mask, self.compute_dtype)
        )
        token_type_ids = inputs.get("token_type_ids")
        if token_type_ids is None:
            token_type_ids = ops.zeros_like(input_ids)
        hidden = self.embeddings(input_ids, training=training)
        config = self.config
        order, plan = self._encoder_plan()
        # The attention inputs shrink with the sequence: block-stack state, updated around pooling layers.
        state = {"attention_inputs": self.structure.init(seq_len, attention_mask, token_type_ids, training)}

        def pooling_layer(step, layer, hidden, **kwargs):
            block_index, first = plan[step]
            query = value = hidden
            pooling = first and block_index > 0 and hidden.shape[1] > (2 if config["separate_cls"] else 1)
            if pooling:  # queries (and keys/values unless pool_q_only) pooled before the attention
                query, state["attention_inputs"] = self.structure.pre_attention_pooling(
                    hidden, state["attention_inputs"])
                value = hidden if config["pool_q_only"] else query
            outputs = self._run_layer(layer, block_index, query, value, state["attention_inputs"], **kwargs)
            if pooling:
                state["attention_inputs"] = self.structure.post_attention_pooling(state["attention_inputs"])
            return outputs

        stack = run_block_stack([layer for block in self.blocks for layer in block], hidden, order=order,
                                call_block=pooling_layer, output_attentions=output_attentions, training=training)
        return stack.x, stack.hidden_states, stack.attentions, (attention_mask, token_type_ids, seq_len)

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = self._prepare_inputs(inputs)
        hidden, hidden_states, attentions, _ = self._encode(inputs, training, output_attentions)
        outputs = {"last_hidden_state": hidden}
        if self.pooler is not None:
            outputs["pooler_output"] = self.pooler(hidden)
        return stack_outputs(outputs, output_hidden_states, output_attentions, hidden_states, attentions)


class FunnelModel(FunnelBaseModel):
    """The full Funnel model: `FunnelBaseModel` + upsampling decoder.

    The decoder upsamples the last encoder state by `2 ** (num_blocks - 1)`,
    adds the output of the first block and runs `num_decoder_layers` layers
    at full length.

    Returns:
        dict with `last_hidden_state` `(batch, seq_len, d_model)`, and when
        asked `hidden_states` (encoder's, then decoder's: upsampled input +
        one per decoder layer) and `attentions` (encoder's then decoder's).
    """

    has_decoder = True

    def call(self, inputs, training=None, output_attentions=False, output_hidden_states=False):
        inputs = self._prepare_inputs(inputs)
        hidden, hidden_states, attentions, (attention_mask, token_type_ids, seq_len) = self._encode(
            inputs, training, output_attentions
        )
        config = self.config
        first_block = hidden_states[config["block_sizes"][0]]
        hidden = upsample(
            hidden, 2 ** (len(config["block_sizes"]) - 1), seq_len, config["separate_cls"], config["truncate_seq"]
        ) + first_block
        attention_inputs = self.structure.init(seq_len, attention_mask, token_type_ids, training)
        stack = run_block_stack(
            self.decoder_layers, hidden, output_attentions=output_attentions, training=training,
            call_block=lambda step, layer, h, **kwargs: self._run_layer(layer, 0, h, h, attention_inputs, **kwargs),
        )
        hidden, hidden_states, attentions = stack.x, hidden_states + stack.hidden_states, attentions + stack.attentions
        outputs = {"last_hidden_state": hidden}
        if self.pooler is not None:
            outputs["pooler_output"] = self.pooler(hidden)
        return stack_outputs(outputs, output_hidden_states, output_attentions, hidden_states, attentions)
