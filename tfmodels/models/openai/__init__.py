"""OpenAI GPT models."""

from tfmodels.models.catalogue import Family

from tfmodels.models.openai.modeling import OpenAIGPTLMHeadModel, OpenAIGPTModel

__all__ = ["OpenAIGPTLMHeadModel", "OpenAIGPTModel"]

FAMILY = Family(__name__, {"openai-gpt": "OpenAIGPT"})
