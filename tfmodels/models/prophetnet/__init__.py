"""ProphetNet and XLM-ProphetNet: encoder, n-gram decoder, encoder-decoder and their LM heads."""

from tfmodels.models.catalogue import Family

from tfmodels.models.prophetnet.heads import (
    ProphetNetForCausalLM,
    ProphetNetForConditionalGeneration,
    XLMProphetNetForCausalLM,
    XLMProphetNetForConditionalGeneration,
)
from tfmodels.models.prophetnet.modeling import (
    ProphetNetDecoder,
    ProphetNetEncoder,
    ProphetNetModel,
    XLMProphetNetDecoder,
    XLMProphetNetEncoder,
    XLMProphetNetModel,
)

__all__ = [
    "ProphetNetDecoder",
    "ProphetNetEncoder",
    "ProphetNetForCausalLM",
    "ProphetNetForConditionalGeneration",
    "ProphetNetModel",
    "XLMProphetNetDecoder",
    "XLMProphetNetEncoder",
    "XLMProphetNetForCausalLM",
    "XLMProphetNetForConditionalGeneration",
    "XLMProphetNetModel",
]

FAMILY = Family(__name__, {"prophetnet": "ProphetNet", "xlm-prophetnet": "XLMProphetNet"})
