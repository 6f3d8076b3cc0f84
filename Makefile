# livetsm — `make demo` and `make test` do everything on a fresh Debian 12 machine (as root).

GO      ?= go
BIN     := bin/livetsm
# System packages the build and tests need (installed when missing).
# python3-skimage and opencv-doc bring scikit-image's and OpenCV's sample
# photographs, the backgrounds of the cross evaluation (reserved for
# evaluation: never train on them).
APT_PKGS ?= pkg-config libopencv-dev ffmpeg libvpx-dev chromium
# Photographs only: installed without their recommends (dask, pytest).
APT_DATA_PKGS ?= python3-skimage opencv-doc
# Debian's PyTorch: the tools' tests (make test-tools, part of make test),
# regenerating fixtures, training and the bench harness; jemalloc for
# training (tools/README.md).
PY      := /usr/bin/python3
TOOLS_PKGS ?= python3-torch libjemalloc2
# apt-get as root, or through sudo otherwise.
SUDO    := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: all deps tools-deps build test test-tools vet fuzz demo demo-terminal bench evalcross screenshot loadtest fixtures clean

all: build

deps:
	@command -v $(GO) >/dev/null || { echo "Go 1.26+ is required (go not on PATH)" >&2; exit 1; }
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	data=""; for p in $(APT_DATA_PKGS); do dpkg -s $$p >/dev/null 2>&1 || data="$$data $$p"; done; \
	if [ -n "$$missing$$data" ]; then \
		echo "installing:$$missing$$data" >&2; \
		$(SUDO) apt-get update -qq || exit 1; \
		if [ -n "$$missing" ]; then DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing || exit 1; fi; \
		if [ -n "$$data" ]; then DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$data || exit 1; fi; \
	fi

build: deps
	$(GO) build -o $(BIN) ./cmd/livetsm

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change: $$out" >&2; exit 1; fi
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) build ./onlinetsm/... ./cache/... ./stream ./stream/synth ./crosseval ./cluster

test: deps vet test-tools
	$(GO) test -count=1 -timeout 25m ./...
	$(GO) test -count=1 -race -run 'Concurrent' ./onlinetsm/...
	$(GO) test -run '^$$' -fuzz FuzzReadCheckpoint -fuzztime 20s -fuzzminimizetime 5s ./onlinetsm/internal/ckpt/

# The Python tools that make and ship the default model (tools/test_*.py):
# targets, smoothing, safetensors, averaging, widening, --resume's settings,
# the parity fixture and the generator's stream format read from a built livetsm.
test-tools: build tools-deps
	LIVETSM_BIN=$(CURDIR)/$(BIN) $(PY) -m unittest discover -s tools -p 'test_*.py'

tools-deps:
	@dpkg -s $(TOOLS_PKGS) >/dev/null 2>&1 || { echo "installing: $(TOOLS_PKGS)" >&2; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(TOOLS_PKGS); }

# The issue's bar: 60 s of fuzzing the loader finds nothing.
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzReadCheckpoint -fuzztime 60s -fuzzminimizetime 5s ./onlinetsm/internal/ckpt/

# The main job: the web page with the embedded default model. Open the printed
# URL, press Start, make a gesture at the camera. Ctrl-C stops it.
demo: build
	./$(BIN) --addr $(or $(ADDR),127.0.0.1:8080)

# The same pipeline in a terminal, on synthetic gestures (no camera needed).
demo-terminal: build
	./$(BIN) --synthetic

bench: build
	./$(BIN) bench --frames 200 --threads 2
	./$(BIN) bench --frames 100 --threads 1

# The cross evaluation (package crosseval): 45 clips from a second renderer
# over photographs as H.264 files through the terminal's pipeline, 9 as VP8
# through the page in headless Chromium; per-class confusion of the labels
# shown. CLIPS, VP8 and SEED override.
evalcross: build
	./$(BIN) eval --cross --clips $(or $(CLIPS),45) --vp8 $(or $(VP8),9) --seed $(or $(SEED),1)

# The README's picture of the page: TestBrowserEndToEnd's screenshot, which a
# plain test run keeps in its temporary directory.
screenshot: deps
	LIVETSM_SCREENSHOT=$(CURDIR)/web/testdata/page.png $(GO) test -count=1 -run '^TestBrowserEndToEnd$$' ./cmd/livetsm/

# The long load test: 1, 4 and 16 synthetic streams (and 16 without
# batching) for a minute each on the published configuration, then 4 pion
# WebRTC clients over two connect/disconnect cycles; loopback only. Prints
# the table of frames/s, latency percentiles, memory and goroutines.
loadtest: deps
	LIVETSM_LOADTEST=long $(GO) test -count=1 -timeout 30m -run '^TestLoad$$' -v ./web/

# PyTorch's parity fixtures, by hand: the engine's (a random width-0.35
# model) and the embedded default model's.
fixtures:
	$(PY) tools/make_fixtures.py
	$(PY) tools/ship_model.py --fixture-only

clean:
	rm -rf bin
