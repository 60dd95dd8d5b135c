"""GPT-Neo models."""

from tfmodels.models.catalogue import Family

from tfmodels.models.gpt_neo.modeling import GPTNeoForCausalLM, GPTNeoModel

__all__ = ["GPTNeoForCausalLM", "GPTNeoModel"]

FAMILY = Family(__name__, {"gpt_neo": "GPTNeo"})
