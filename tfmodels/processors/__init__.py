"""Preprocessing of non-text inputs from the checkpoint's `preprocessor_config.json`."""

from tfmodels.processors.audio import Speech2TextFeatureExtractor, Wav2Vec2FeatureExtractor, normalize_in_graph
from tfmodels.processors.image import PREPROCESSOR_CONFIG_NAME, ImageProcessor
from tfmodels.processors.image_graph import InGraphImageProcessor, resize_like_pillow

__all__ = ["ImageProcessor", "InGraphImageProcessor", "PREPROCESSOR_CONFIG_NAME", "Speech2TextFeatureExtractor",
           "Wav2Vec2FeatureExtractor", "normalize_in_graph", "resize_like_pillow"]
