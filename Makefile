# face_ssd: `make demo` runs the full pipeline on real footage with the shipped face model,
# `make test` runs the test suite. Both set up .venv/ first (idempotent; ~2-3 min the first time).
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
ACTIVATE := . $(VENV)/bin/activate
# DDS discovery never leaves this machine (tests, CI, demos).
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST
PYTEST_ARGS ?=

.PHONY: setup demo test test-fast pseudo-labels train-default eval-default bench clean help

help:
	@echo "make demo            full pipeline on the demo footage with the shipped face model (out/demo/)"
	@echo "make test            the whole test suite"
	@echo "make pseudo-labels   teacher (RetinaFace-MobileNet0.25) pseudo-labels for training, in out/pseudo/"
	@echo "make train-default   train the default face model again from ../shared/data (runs pseudo-labels first)"
	@echo "make eval-default    WIDER FACE Easy/Medium/Hard AP of the shipped model on ../shared/data/faces/wider_dev"
	@echo "make bench           detector and pipeline benchmarks (benchmarks/README.md)"
	@echo "make setup           only build .venv"

setup:
	bash scripts/setup_env.sh

demo: setup
	$(ACTIVATE)
	python -m face_ssd_ros.demo

test: setup
	$(ACTIVATE)
	python -m pytest tests -q -p no:cacheprovider --timeout=600 $(PYTEST_ARGS)

pseudo-labels: setup
	$(ACTIVATE)
	bash scripts/make_pseudo_labels.sh ../shared/data out/pseudo

train-default: pseudo-labels
	$(ACTIVATE)
	face-ssd-train --config config/training/face_default.yaml
	face-ssd-train --config config/training/face_default.yaml --config config/training/face_default_stage2.yaml
	face-ssd-train --config config/training/face_default.yaml --config config/training/face_default_stage2.yaml \
	  --config config/training/face_default_stage3.yaml
	face-ssd-train --config config/training/face_default.yaml --config config/training/face_default_stage2.yaml \
	  --config config/training/face_default_stage3.yaml --config config/training/face_default_stage4.yaml
	face-ssd-train --config config/training/face_default.yaml --config config/training/face_default_stage2.yaml \
	  --config config/training/face_default_stage3.yaml --config config/training/face_default_stage4.yaml \
	  --config config/training/face_default_stage5.yaml

eval-default: setup
	$(ACTIVATE)
	for m in face_default face_default_640x480; do
	  face-ssd-eval wider --model src/face_ssd_ros/face_ssd_ros/models/$$m.onnx --gt-dir ../shared/data/faces/wider_dev \
	    --plot out/eval/pr_wider_$$m.png --json out/eval/wider_$$m.json
	done

bench: setup
	$(ACTIVATE)
	bash benchmarks/run_all.sh

clean:
	rm -rf out runs .pytest_cache
