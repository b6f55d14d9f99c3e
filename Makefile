# Quick start: `make demo` (tag a throwaway library) and `make test`.
# `make fuzz`: the property tests at random, for minutes (see README, Development).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRA ?= ../shared/extra
GTZAN ?= ../shared/gtzan
MUSIC ?=

.PHONY: demo test fuzz train bench convert reference musicnn nonmusic clean

$(VENV)/.runtime: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(PY) -m pip install --quiet -e '.[test,train]'
	touch $@

demo: $(VENV)/.runtime
	$(PY) demo.py $(if $(MUSIC),--music "$(MUSIC)")

test: $(VENV)/.dev
	$(PY) -m pytest -q --hypothesis-profile=ci

fuzz: $(VENV)/.dev
	$(PY) -m pytest -q -m hypothesis --hypothesis-profile=fuzz --hypothesis-show-statistics

# The fast model: search, evaluation, teacher (musicnn's backbone: `make convert`), card.
BACKBONE := training/cache/musicnn/msd_musicnn.onnx

$(BACKBONE):
	$(MAKE) convert

# Then the accurate model's card pairs its real-music check with the new run's.
train: $(VENV)/.dev $(BACKBONE)
	$(PY) -m training.fast --gtzan "$(GTZAN)" --extra "$(EXTRA)"
	$(PY) -m training.common.real_check --gtzan "$(GTZAN)" --extra "$(EXTRA)"

$(VENV)/.bench: $(VENV)/.runtime
	$(PY) -m pip install --quiet -e '.[bench]'
	touch $@

bench: $(VENV)/.bench
	$(PY) -m benchmarks.speed $(if $(MUSIC),--music "$(MUSIC)") $(BENCH_ARGS)

# musicnn -> ONNX needs TensorFlow 2.15 (numpy<2): a virtual environment of its own.
CONVERT_VENV ?= .venv-convert

$(CONVERT_VENV)/.convert: training/accurate/requirements-convert.txt
	$(PYTHON) -m venv $(CONVERT_VENV)
	$(CONVERT_VENV)/bin/python -m pip install --quiet -r training/accurate/requirements-convert.txt
	touch $@

convert: $(CONVERT_VENV)/.convert
	$(CONVERT_VENV)/bin/python -m training.accurate.convert convert

# Not-music clips (speech, effects, noise, tones) and music with speech over it,
# from Debian packages (the command names any that are missing) and numpy.
NONMUSIC := training/cache/nonmusic/manifest.csv

$(NONMUSIC):
	$(MAKE) nonmusic

nonmusic: $(VENV)/.dev
	$(PY) -m training.common.nonmusic --music "$(GTZAN)/audio"

# The accurate model: twelve genres and not music, its mood head, its card.
musicnn: $(VENV)/.dev $(BACKBONE) $(NONMUSIC)
	$(PY) -m training.accurate --gtzan "$(GTZAN)" --extra "$(EXTRA)"

reference: $(CONVERT_VENV)/.convert
	$(CONVERT_VENV)/bin/python -m training.accurate.convert reference

clean:
	rm -rf $(VENV) $(CONVERT_VENV) demo build *.egg-info
