"""GPT-Neo models."""

from tfmodels.models.gpt_neo.modeling import GPTNeoForCausalLM, GPTNeoModel

__all__ = ["GPTNeoForCausalLM", "GPTNeoModel"]
