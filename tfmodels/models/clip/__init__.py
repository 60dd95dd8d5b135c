"""CLIP: text and vision towers, their projections, and the dual encoder."""

from tfmodels.models.catalogue import Family

from tfmodels.models.clip.modeling import (
    CLIPModel,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    CLIPVisionModel,
    CLIPVisionModelWithProjection,
)

__all__ = [
    "CLIPModel",
    "CLIPTextModel",
    "CLIPTextModelWithProjection",
    "CLIPVisionModel",
    "CLIPVisionModelWithProjection",
]

# Standalone towers have their own `model_type`s in Hugging Face configs (CLIPTextConfig, CLIPVisionConfig).
# The dual encoder is the zero-shot image classifier (`logits_per_image`); the towers are not.
FAMILY = Family(__name__, {"clip": "CLIP", "clip_text_model": "CLIPText", "clip_vision_model": "CLIPVision"},
                tasks={"zero-shot-image-classification": {"clip": "Model"}})
