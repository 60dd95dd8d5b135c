"""DPR encoders and reader."""

from tfmodels.models.dpr.modeling import (
    DPRContextEncoder,
    DPRQuestionEncoder,
    DPRReader,
)

__all__ = [
    "DPRContextEncoder",
    "DPRQuestionEncoder",
    "DPRReader",
]
