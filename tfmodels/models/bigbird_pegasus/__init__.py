"""BigBirdPegasus: the Pegasus encoder-decoder with a block-sparse (BigBird) encoder."""

from tfmodels.models.catalogue import Family

from tfmodels.models.bigbird_pegasus.heads import BigBirdPegasusForConditionalGeneration
from tfmodels.models.bigbird_pegasus.modeling import BigBirdPegasusModel

__all__ = ["BigBirdPegasusForConditionalGeneration", "BigBirdPegasusModel"]

FAMILY = Family(__name__, {"bigbird_pegasus": "BigBirdPegasus"})
