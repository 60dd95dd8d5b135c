"""The BART family: BART, mBART, Marian, Pegasus, Blenderbot, BlenderbotSmall, M2M100, FSMT (flags of one stack)."""

from tfmodels.models.catalogue import Family

from tfmodels.models.bart.heads import (
    MBartForSequenceClassification,
    MBartForQuestionAnswering,
    MBartForCausalLM,
    MarianForCausalLM,
    PegasusForCausalLM,
    BlenderbotForCausalLM,
    BlenderbotSmallForCausalLM,
    BartForCausalLM,
    BartForConditionalGeneration,
    BartForQuestionAnswering,
    BartForSequenceClassification,
    BlenderbotForConditionalGeneration,
    BlenderbotSmallForConditionalGeneration,
    FSMTForConditionalGeneration,
    M2M100ForConditionalGeneration,
    MarianMTModel,
    MBartForConditionalGeneration,
    PegasusForConditionalGeneration,
)
from tfmodels.models.bart.modeling import (
    BartModel,
    BlenderbotModel,
    BlenderbotSmallModel,
    FSMTModel,
    M2M100Model,
    MarianModel,
    MBartModel,
    PegasusModel,
)

__all__ = [
    "MBartForSequenceClassification",
    "MBartForQuestionAnswering",
    "MBartForCausalLM",
    "MarianForCausalLM",
    "PegasusForCausalLM",
    "BlenderbotForCausalLM",
    "BlenderbotSmallForCausalLM",
    "BartForCausalLM",
    "BartForConditionalGeneration",
    "BartForQuestionAnswering",
    "BartForSequenceClassification",
    "BartModel",
    "BlenderbotForConditionalGeneration",
    "BlenderbotModel",
    "BlenderbotSmallForConditionalGeneration",
    "BlenderbotSmallModel",
    "FSMTForConditionalGeneration",
    "FSMTModel",
    "M2M100ForConditionalGeneration",
    "M2M100Model",
    "MBartForConditionalGeneration",
    "MBartModel",
    "MarianMTModel",
    "MarianModel",
    "PegasusForConditionalGeneration",
    "PegasusModel",
]

FAMILY = Family(
    __name__,
    {"bart": "Bart", "mbart": "MBart", "marian": "Marian", "pegasus": "Pegasus", "blenderbot": "Blenderbot",
     "blenderbot-small": "BlenderbotSmall", "m2m_100": "M2M100", "fsmt": "FSMT"},
    tasks={"seq2seq-lm": ("ForConditionalGeneration", "MTModel")},  # MarianMTModel
)
