"""CTRL: pre-norm decoder with fixed sinusoidal positions and scaled token embeddings.

References:
    Keskar et al., "CTRL: A Conditional Transformer Language Model for Controllable Generation", 2019.
    Parity reference: `transformers.models.ctrl.modeling_ctrl` (PyTorch).
"""

import math

import numpy as np
from keras import ops

from tfmodels.layers import LayerNormalization, TransformerEncoderBlock
from tfmodels.layers.utils import hf_initializer
from tfmodels.models.causal import CausalDecoderModel, CausalLMMixin, tied_lm_logits


def ctrl_positional_encoding(num_positions, width):
    """CTRL's table `(num_positions, width)`: sines of the even angles, then cosines of the odd ones.

    Computed in float32 step by step as `transformers.models.ctrl.positional_encoding`.
    """
    positions = np.arange(num_positions, dtype=np.float32)[:, None]
    i = np.arange(width, dtype=np.float32)[None, :]
    rates = (np.float32(1) / np.power(np.float32(10000), (2 * (i // 2)) / np.float32(width))).astype(np.float32)
    angles = (positions * rates).astype(np.float32)
    return np.concatenate([np.sin(angles[:, 0::2]), np.cos(angles[:, 1::2])], axis=-1).astype(np.float32)


class CTRLModel(CausalDecoderModel):
    """The CTRL decoder: `w(ids) * sqrt(n_embd) + sinusoid(positions)`, pre-norm blocks, final norm.

    Constructor arguments are the fields of a Hugging Face CTRL
    `config.json` (`n_embd`, `dff`, `n_layer`, `n_head`, `n_positions`,
    `resid_pdrop`, `embd_pdrop`, `layer_norm_epsilon`, ...). The blocks'
    LayerNorms use epsilon 1e-6 as in the reference; `layer_norm_epsilon`
    is the final LayerNorm's. Call inputs/outputs: see `CausalDecoderModel`.
    """

    model_type = "ctrl"

    def __init__(self, vocab_size=246534, n_positions=256, n_embd=1280, dff=8192, n_layer=48, n_head=16,
                 resid_pdrop=0.1, embd_pdrop=0.1, layer_norm_epsilon=1e-6, initializer_range=0.02,
                 pad_token_id=None, bos_token_id=None, eos_token_id=None, add_pooling_layer=False, **kwargs):
        super().__init__(**kwargs)
        if n_embd % n_head:
            raise ValueError(f"n_embd must be a multiple of n_head. Received: n_embd={n_embd}, n_head={n_head}")
        self._record_config(locals(), exclude=("add_pooling_layer",))
        self.num_heads, self.head_dim, self.max_positions = n_head, n_embd // n_head, n_positions
        self.initializer_range = initializer_range
        self._build_embeddings(vocab_size, None, n_embd, initializer_range, embd_pdrop)
        self._positions = ctrl_positional_encoding(n_positions, n_embd)
        self._embedding_scale = math.sqrt(n_embd)
        self.blocks = [
            TransformerEncoderBlock(
                num_heads=n_head, intermediate_size=dff, hidden_act="relu", hidden_dropout=resid_pdrop,
                layer_norm_eps=1e-6, normalize_first=True, kernel_initializer=hf_initializer(initializer_range),
                dtype=self.dtype_policy, name=f"h_{i}",
            )
            for i in range(n_layer)
        ]
        self.final_layer_norm = LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="layernorm"
        )

    def _embed(self, input_ids, position_ids, token_type_ids, training):
        scale = ops.cast(self._embedding_scale, self.compute_dtype)
        table = ops.cast(self._positions, self.compute_dtype)
        x = self.wte(input_ids) * scale + ops.take(table, position_ids, axis=0)  # (batch, seq_len, n_embd)
        if token_type_ids is not None:
            x = x + self.wte(token_type_ids) * scale
        return self.embedding_dropout(x, training=training)


class CTRLPreTrainedModel(CausalDecoderModel):
    """Base of the CTRL head models: the backbone lives in `self.transformer`."""

    model_type = "ctrl"
    base_model_prefix = "transformer"
    backbone_class = CTRLModel


class CTRLLMHeadModel(CausalLMMixin, CTRLPreTrainedModel):
    """CTRL with the LM head tied to the token embeddings, plus its own bias; `generate()`.

    References: `transformers.CTRLLMHeadModel`.
    """

    def _make_lm_head(self):
        self.lm_head_bias = self.add_weight(
            shape=(self.backbone.config["vocab_size"],), initializer="zeros", name="lm_head_bias"
        )

    def _lm_logits(self, hidden_states):
        return tied_lm_logits(self, hidden_states) + ops.cast(self.lm_head_bias, hidden_states.dtype)
