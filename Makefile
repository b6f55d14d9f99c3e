# Quick start: `make demo` (tag a throwaway library) and `make test`.
# `make fuzz`: the property tests at random, for minutes (see README, Development).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRA ?= ../shared/extra
GTZAN ?= ../shared/gtzan
MUSIC ?=

.PHONY: demo test fuzz train bench convert reference musicnn nonmusic dist clean

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

# sdist and wheel in dist/, then checked as a user gets them: the wheel in a
# fresh virtual environment (plugin imports, `beet --help` lists genreclf),
# the sdist holds what its tests need.
DIST_CHECK := build/dist-check
SDIST_NEEDS := LICENSE tests/conftest.py tests/helper.py tests/audiogen.py \
	tests/data/musicnn_logmel_reference.npz models/README.md models/musicnn-genre.md

$(VENV)/.dist: $(VENV)/.runtime
	$(PY) -m pip install --quiet -e '.[dist]'
	touch $@

dist: $(VENV)/.dist
	rm -rf dist $(DIST_CHECK)
	$(PY) -m build --outdir dist .
	$(PYTHON) -m venv $(DIST_CHECK)/venv
	$(DIST_CHECK)/venv/bin/python -m pip install --quiet dist/*.whl
	mkdir -p $(DIST_CHECK)/beets
	printf 'plugins: genreclf\nlibrary: %s/library.db\n' "$(abspath $(DIST_CHECK))" \
		> $(DIST_CHECK)/beets/config.yaml
	cd $(DIST_CHECK) && BEETSDIR=beets venv/bin/python -c \
		"import beetsplug.genreclf.model as m; assert 'site-packages' in m.__file__; \
		assert all(p.is_file() for p in m.PACKAGED.values())"
	cd $(DIST_CHECK) && BEETSDIR=beets venv/bin/beet --help | grep -q '^  *genreclf '
	tar -xzf dist/*.tar.gz -C $(DIST_CHECK)
	cd $(DIST_CHECK)/beets_genreclf-* && ls $(SDIST_NEEDS) > /dev/null
	@echo "dist: $$(ls dist) checked"

clean:
	rm -rf $(VENV) $(CONVERT_VENV) demo build dist *.egg-info
