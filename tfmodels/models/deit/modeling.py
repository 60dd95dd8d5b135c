"""DeiT: ViT with a distillation token next to [CLS], and its heads.

References:
    Touvron et al., "Training data-efficient image transformers & distillation
    through attention", 2021. Parity reference:
    `transformers.models.deit.modeling_deit` (PyTorch).
"""

from tfmodels.models.heads import ImageClassificationMixin
from tfmodels.models.vit.modeling import IMAGE_INPUTS, MaskedImageModelingMixin, ViTModel, ViTPreTrainedModel


class DeiTModel(ViTModel):
    """The DeiT encoder: `[CLS] + [DIST] + patches` with learned positions, pre-norm blocks, final LayerNorm.

    Same config fields, inputs, options and outputs as `ViTModel`
    (`last_hidden_state (batch, 2 + num_patches, hidden_size)`); the
    position table covers both special tokens, and `interpolate_pos_encoding`
    resizes only the patch part.

    References: `transformers.DeiTModel`.
    """

    model_type = "deit"
    distillation_token = True


class DeiTPreTrainedModel(ViTPreTrainedModel):
    model_type = "deit"
    base_model_prefix = "deit"
    backbone_class = DeiTModel
    input_names = IMAGE_INPUTS


class DeiTForImageClassification(ImageClassificationMixin, DeiTPreTrainedModel):
    """DeiT + a linear classifier on the final [CLS] state: `logits (batch, num_labels)`, loss by `problem_type`.

    References: `transformers.DeiTForImageClassification`.
    """


class DeiTForImageClassificationWithTeacher(ImageClassificationMixin, DeiTPreTrainedModel):
    """DeiT + two linear classifiers: `cls_logits` on [CLS], `distillation_logits` on the
    distillation token, and `logits = (cls_logits + distillation_logits) / 2`.

    Inference only, as in the reference (it computes no loss; training with a
    teacher is not implemented there either): `labels` are not accepted.

    References: `transformers.DeiTForImageClassificationWithTeacher`.
    """

    label_names = ()
    serving_outputs = ("logits", "cls_logits", "distillation_logits")

    def _make_sentence_classifier(self, num_outputs):
        self.cls_classifier = self._dense(num_outputs, "cls_classifier")
        self.distillation_classifier = self._dense(num_outputs, "distillation_classifier")

    def _head_outputs(self, inputs, training, output_attentions, output_hidden_states, **backbone_options):
        backbone_outputs = self._backbone_outputs(inputs, training, output_attentions, output_hidden_states,
                                                  **backbone_options)
        states = backbone_outputs["last_hidden_state"]
        cls_logits = self.cls_classifier(states[:, 0])
        distillation_logits = self.distillation_classifier(states[:, 1])
        outputs = {"logits": (cls_logits + distillation_logits) / 2, "cls_logits": cls_logits,
                   "distillation_logits": distillation_logits}
        return self._passthrough(outputs, backbone_outputs)


class DeiTForMaskedImageModeling(MaskedImageModelingMixin, DeiTPreTrainedModel):
    """DeiT (with a mask token) + the SimMIM decoder on the patch states (after [CLS] and [DIST]):
    `reconstruction (batch, num_channels, height, width)`, `loss` with `bool_masked_pos`.

    References: `transformers.DeiTForMaskedImageModeling`.
    """

    num_special_tokens = 2

    def __init__(self, **kwargs):
        self._init_masked_image_head(kwargs)
