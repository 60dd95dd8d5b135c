"""Training helpers: `tf.data` pipelines and `tf.distribute` set-up."""

from tfmodels.training.data import prepare_tf_dataset
from tfmodels.training.distribute import (
    configure_logical_cpus,
    free_local_ports,
    make_strategy,
    multi_worker_tf_config,
)

__all__ = ["configure_logical_cpus", "free_local_ports", "make_strategy", "multi_worker_tf_config",
           "prepare_tf_dataset"]
