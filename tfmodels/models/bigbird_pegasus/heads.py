"""BigBirdPegasus with its LM head (`generate()`).

References: `transformers.BigBirdPegasusForConditionalGeneration`.
"""

from tfmodels.models.bart.heads import BartForConditionalGeneration
from tfmodels.models.big_bird.modeling import QuietBuildMixin
from tfmodels.models.bigbird_pegasus.modeling import BigBirdPegasusModel


class BigBirdPegasusForConditionalGeneration(QuietBuildMixin, BartForConditionalGeneration):
    """`BartForConditionalGeneration` (tied LM head + `final_logits_bias`, greedy/beam `generate()`)
    on `BigBirdPegasusModel`. The encoder runs once per `generate()` call, block-sparse when the
    source is long enough; the decoder uses full attention over its KV cache.

    References: `transformers.BigBirdPegasusForConditionalGeneration`.
    """

    model_type = "bigbird_pegasus"
    backbone_class = BigBirdPegasusModel
