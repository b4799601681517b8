"""numcnn.train: the training loop (`Trainer`) and `evaluate` (loss, accuracy, confusion matrix);
`numcnn.train.run` reads back a run written by `numcnn train` (checkpoint, model, data)."""

from numcnn.train.run import (
    RunError,
    load_run,
    load_test_set,
    model_from,
    model_input,
    pick_images,
    read_checkpoint,
)
from numcnn.train.trainer import (
    METRICS_COLUMNS,
    Callback,
    Evaluation,
    NonFiniteError,
    StopTraining,
    Trainer,
    evaluate,
)

__all__ = ["METRICS_COLUMNS", "Callback", "Evaluation", "NonFiniteError", "StopTraining", "Trainer",
           "evaluate", "RunError", "load_run", "read_checkpoint", "model_from", "load_test_set",
           "pick_images", "model_input"]
