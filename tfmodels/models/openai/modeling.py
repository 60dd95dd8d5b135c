"""OpenAI GPT (GPT-1): post-norm decoder blocks, learned positions, tied LM head.

References:
    Radford et al., "Improving Language Understanding by Generative Pre-Training", 2018.
    Parity reference: `transformers.models.openai.modeling_openai` (PyTorch).
"""


from tfmodels.layers import TransformerEncoderBlock
from tfmodels.layers.utils import hf_initializer
from tfmodels.models.causal import CausalDecoderModel, CausalLMMixin, tied_lm_logits


class OpenAIGPTModel(CausalDecoderModel):
    """The GPT decoder: `tokens_embed + positions_embed`, `n_layer` post-norm blocks, no final norm.

    Constructor arguments are the fields of a Hugging Face `openai-gpt`
    `config.json` (`n_embd`, `n_layer`, `n_head`, `n_positions`, `afn`,
    `*_pdrop`, `layer_norm_epsilon`, ...). Call inputs/outputs: see
    `CausalDecoderModel`.

    Raises:
        ValueError: `n_embd` not divisible by `n_head`.
    """

    model_type = "openai-gpt"

    def __init__(self, vocab_size=40478, n_positions=512, n_embd=768, n_layer=12, n_head=12, afn="gelu",
                 resid_pdrop=0.1, embd_pdrop=0.1, attn_pdrop=0.1, layer_norm_epsilon=1e-5,
                 initializer_range=0.02, pad_token_id=None, bos_token_id=None, eos_token_id=None,
                 add_pooling_layer=False, **kwargs):
        super().__init__(**kwargs)
        if n_embd % n_head:
            raise ValueError(f"n_embd must be a multiple of n_head. Received: n_embd={n_embd}, n_head={n_head}")
        self._record_config(locals(), exclude=("add_pooling_layer",))
        self.num_heads, self.head_dim, self.max_positions = n_head, n_embd // n_head, n_positions
        self.initializer_range = initializer_range
        self._build_embeddings(vocab_size, n_positions, n_embd, initializer_range, embd_pdrop)
        self.blocks = [
            TransformerEncoderBlock(
                num_heads=n_head, intermediate_size=4 * n_embd, hidden_act=afn, hidden_dropout=resid_pdrop,
                attention_dropout=attn_pdrop, layer_norm_eps=layer_norm_epsilon, normalize_first=False,
                kernel_initializer=hf_initializer(initializer_range), dtype=self.dtype_policy, name=f"h_{i}",
            )
            for i in range(n_layer)
        ]
        self.final_layer_norm = None


class OpenAIGPTPreTrainedModel(CausalDecoderModel):
    """Base of the GPT head models: the backbone lives in `self.transformer`."""

    model_type = "openai-gpt"
    base_model_prefix = "transformer"
    backbone_class = OpenAIGPTModel


class OpenAIGPTLMHeadModel(CausalLMMixin, OpenAIGPTPreTrainedModel):
    """GPT with the LM head tied to the token embeddings; `generate()`.

    References: `transformers.OpenAIGPTLMHeadModel`.
    """

    def _make_lm_head(self):
        pass

    def _lm_logits(self, hidden_states):
        return tied_lm_logits(self, hidden_states)
