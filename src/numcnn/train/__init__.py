"""numcnn.train: the training loop (`Trainer`) and `evaluate` (loss, accuracy, confusion matrix)."""

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
           "evaluate"]
