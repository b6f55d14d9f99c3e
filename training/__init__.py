"""Training of the two shipped models, one folder each: ``fast/`` (``make train``)
and ``accurate/`` (``make convert``, then ``make musicnn``); ``common/`` holds
what both use. Models go to ``beetsplug/genreclf/data/``, cards to ``models/``."""
