"""The baseline the LSTM is compared with, on the same training sides:
logistic regression on per-clip MFCC mean and variance (the classic GTZAN
feature table, computed from the same MFCCs as the LSTM's input)."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def mfcc_statistics(mfcc: np.ndarray) -> np.ndarray:
    """(frames, n_mfcc) -> (2 * n_mfcc,): per-coefficient mean and variance."""
    return np.concatenate([mfcc.mean(axis=0), mfcc.var(axis=0)])


def logistic_regression_probabilities(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, n_labels: int, seed: int
) -> np.ndarray:
    """Class-balanced logistic regression; (n_test, n_labels) probabilities
    (zero for labels absent from training)."""
    model = make_pipeline(
        StandardScaler(),
        LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000, random_state=seed),
    )
    model.fit(train_x, train_y)
    probabilities = np.zeros((len(test_x), n_labels))
    probabilities[:, model.classes_] = model.predict_proba(test_x)
    return probabilities
