"""LED: the Longformer encoder inside the BART encoder-decoder."""

from tfmodels.models.catalogue import Family
from tfmodels.models.led.modeling import LEDForConditionalGeneration, LEDModel

__all__ = ["LEDForConditionalGeneration", "LEDModel"]

FAMILY = Family(__name__, {"led": "LED"})
