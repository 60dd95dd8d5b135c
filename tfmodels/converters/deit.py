"""DeiT <-> Hugging Face `DeiTModel` / `DeiTFor*` checkpoints.

The ViT table (`converters/vit.py`) with the `deit.` prefix: the same module
names plus `embeddings.distillation_token` `(1, 1, D)` -> `(D,)` and the teacher
head's `cls_classifier` / `distillation_classifier` (`nn.Linear`, transposed).
"""

from tfmodels.converters.registry import register_weight_table
from tfmodels.converters.vit import vit_table

register_weight_table("deit")(vit_table)
