"""OpenAI GPT models."""

from tfmodels.models.openai.modeling import OpenAIGPTLMHeadModel, OpenAIGPTModel

__all__ = ["OpenAIGPTLMHeadModel", "OpenAIGPTModel"]
