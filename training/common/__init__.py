"""What both models use: clip lists, folds, calibration, evaluation, the
real-music check, window views and their timing."""
