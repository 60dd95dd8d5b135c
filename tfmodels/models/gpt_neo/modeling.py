"""GPT-Neo: GPT-2-like pre-norm decoder alternating global and local (sliding-window) attention.

Local layers use the shared attention layer with a banded causal mask
(`causal_mask(..., window_size=...)`); attention is unscaled (no
`1/sqrt(head_dim)`) and its query/key/value projections have no bias.

References:
    Black et al., "GPT-Neo: Large Scale Autoregressive Language Modeling with Mesh-Tensorflow", 2021.
    Parity reference: `transformers.models.gpt_neo.modeling_gpt_neo` (PyTorch).
"""


from tfmodels.layers import LayerNormalization, TransformerEncoderBlock
from tfmodels.layers.utils import hf_initializer
from tfmodels.models.causal import CausalDecoderModel, CausalLMMixin, tied_lm_logits


def expand_attention_types(attention_types):
    """`[[["global", "local"], 2]]` -> `["global", "local", "global", "local"]` (Hugging Face's rule)."""
    layers = []
    for kinds, repeat in attention_types:
        for _ in range(repeat):
            layers.extend(kinds)
    return layers


class GPTNeoModel(CausalDecoderModel):
    """The GPT-Neo decoder: `wte + wpe`, pre-norm blocks (global or local attention), `ln_f`.

    Constructor arguments are the fields of a Hugging Face GPT-Neo
    `config.json` (`hidden_size`, `num_layers`, `num_heads`,
    `attention_types`, `window_size`, `intermediate_size`, ...). Call
    inputs/outputs: see `CausalDecoderModel`.

    Raises:
        ValueError: unknown attention types, or `attention_types` not
            describing `num_layers` layers.
    """

    model_type = "gpt_neo"

    def __init__(self, vocab_size=50257, max_position_embeddings=2048, hidden_size=2048, num_layers=24,
                 attention_types=None, num_heads=16, intermediate_size=None, window_size=256,
                 activation_function="gelu_new", resid_dropout=0.0, embed_dropout=0.0, attention_dropout=0.0,
                 classifier_dropout=0.1, layer_norm_epsilon=1e-5, initializer_range=0.02,
                 bos_token_id=50256, eos_token_id=50256, pad_token_id=None, add_pooling_layer=False, **kwargs):
        kwargs.pop("attention_layers", None)  # derived from attention_types
        super().__init__(**kwargs)
        attention_types = attention_types or [[["global", "local"], 12]]
        self._record_config(locals(), exclude=("add_pooling_layer",))
        self.attention_layers = expand_attention_types(attention_types)
        if len(self.attention_layers) != num_layers or set(self.attention_layers) - {"global", "local"}:
            raise ValueError(
                "attention_types must expand to num_layers entries of 'global'/'local'. "
                f"Received: attention_types={attention_types}, num_layers={num_layers}"
            )
        if hidden_size % num_heads:
            raise ValueError(
                f"hidden_size must be a multiple of num_heads. Received: {hidden_size}, {num_heads}"
            )
        self.num_heads, self.head_dim = num_heads, hidden_size // num_heads
        self.max_positions, self.initializer_range = max_position_embeddings, initializer_range
        self._build_embeddings(vocab_size, max_position_embeddings, hidden_size, initializer_range, embed_dropout)
        self.blocks = [
            TransformerEncoderBlock(
                num_heads=num_heads, intermediate_size=intermediate_size or 4 * hidden_size,
                hidden_act=activation_function, hidden_dropout=resid_dropout, attention_dropout=attention_dropout,
                layer_norm_eps=layer_norm_epsilon, normalize_first=True,
                kernel_initializer=hf_initializer(initializer_range),
                attention_kwargs={"scale": 1.0, "use_bias": False, "output_use_bias": True},
                dtype=self.dtype_policy, name=f"h_{i}",
            )
            for i in range(num_layers)
        ]
        self.final_layer_norm = LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="ln_f"
        )

    def get_config(self):
        config = super().get_config()
        config["attention_layers"] = self.attention_layers
        return config

    def hf_config(self):
        config = super().hf_config()
        config["attention_layers"] = self.attention_layers
        return config

    def _layer_window(self, index):
        return self.config["window_size"] if self.attention_layers[index] == "local" else None


class GPTNeoPreTrainedModel(CausalDecoderModel):
    """Base of the GPT-Neo head models: the backbone lives in `self.transformer`."""

    model_type = "gpt_neo"
    base_model_prefix = "transformer"
    backbone_class = GPTNeoModel


class GPTNeoForCausalLM(CausalLMMixin, GPTNeoPreTrainedModel):
    """GPT-Neo with the LM head tied to `wte`; `generate()`.

    References: `transformers.GPTNeoForCausalLM`.
    """

    def _make_lm_head(self):
        pass

    def _lm_logits(self, hidden_states):
        return tied_lm_logits(self, hidden_states)
