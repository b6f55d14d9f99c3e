"""The accurate model (``musicnn-genre``): musicnn's backbone converted to
ONNX and a genre head; ``python -m training.accurate`` trains it."""
