"""The fast model (``gtzan-mfcc``): small networks on MFCC segments, taught
by the accurate model; ``python -m training.fast`` trains it."""
