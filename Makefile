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

.PHONY: setup demo test test-fast pseudo-labels train-default ship-default eval-default bench clean help \
	finetune-plates finetune-cartoon finetune-identities finetune-splits

help:
	@echo "make demo            full pipeline on the demo footage with the shipped face model (out/demo/)"
	@echo "make test            the whole test suite"
	@echo "make pseudo-labels   teacher (RetinaFace-MobileNet0.25) pseudo-labels for training, in out/pseudo/"
	@echo "make train-default   train the default face model again from ../shared/data (runs pseudo-labels first)"
	@echo "make ship-default    export the last stage's weights as the shipped model (ONNX 320x240 + 640x480, .pt)"
	@echo "make eval-default    WIDER FACE Easy/Medium/Hard AP of the shipped model on ../shared/data/faces/wider_dev"
	@echo "make bench           detector and pipeline benchmarks (benchmarks/README.md)"
	@echo "make docs            docs/PARAMETERS.md from the nodes' parameter tables (after changing a ParamSpec)"
	@echo "make finetune-plates      recipe 1 (docs/TRAINING.md): licence plates, ImageNet MobileNetV2 vs scratch"
	@echo "make finetune-cartoon     recipe 2: human vs cartoon faces from the face model (320x240, 640x480) vs scratch"
	@echo "make finetune-identities  recipe 3: two people's faces (selfies) from the face model vs scratch"
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
	face-ssd-train --config config/training/face_default.yaml --config config/training/face_default_stage2.yaml \
	  --config config/training/face_default_stage3.yaml --config config/training/face_default_stage4.yaml \
	  --config config/training/face_default_stage5.yaml --config config/training/face_default_stage6.yaml
	face-ssd-train --config config/training/face_default.yaml --config config/training/face_default_stage2.yaml \
	  --config config/training/face_default_stage3.yaml --config config/training/face_default_stage4.yaml \
	  --config config/training/face_default_stage5.yaml --config config/training/face_default_stage6.yaml \
	  --config config/training/face_default_stage10.yaml
	for s in 21 "21 22" "21 23" "21 23 24"; do   # four fine-tunings of stage 10's weights
	  face-ssd-train $(STAGE10_CONFIGS) $$(for n in $$s; do echo --config config/training/face_default_stage$$n.yaml; done) \
	    --set train.init_checkpoint=$(CURDIR)/runs/face_default_stage10/last.pt
	done
	face-ssd-average runs/face_default_stage10/last.pt runs/face_default_stage21/last.pt \
	  runs/face_default_stage22/last.pt runs/face_default_stage23/last.pt --out runs/face_default_soup23.pt

STAGE10_CONFIGS := --config config/training/face_default.yaml \
  $(foreach n,2 3 4 5 6 10,--config config/training/face_default_stage$(n).yaml)

# The shipped model (v10): at 320x240 v9's uniform average of stage 10's weights and stages 21, 22 and 23 (the rule
# in face_default_stage23.yaml), at 640x480 stage 24's last epoch (distilled from CenterFace; the rule in
# face_default_stage24.yaml), each with its weights-only checkpoint (the start of every fine-tuning at that size:
# train.init_checkpoint). Stages 7-9, 11-20 were trials (docs/MODEL.md, "What was tried"), and stages 21-23 alone
# too; make train-default runs 21-23 only for the average.
MODELS := src/face_ssd_ros/face_ssd_ros/models
SHIP_CKPT ?= runs/face_default_soup23.pt
SHIP_CKPT_640x480 ?= runs/face_default_stage24/last.pt
ship-default: setup
	$(ACTIVATE)
	face-ssd-export $(SHIP_CKPT) --out $(MODELS)/face_default.onnx --input-size 320x240 --weights-out $(MODELS)/face_default.pt
	face-ssd-export $(SHIP_CKPT_640x480) --out $(MODELS)/face_default_640x480.onnx --input-size 640x480 \
	  --weights-out $(MODELS)/face_default_640x480.pt

eval-default: setup
	$(ACTIVATE)
	for m in face_default face_default_640x480; do
	  face-ssd-eval wider --model src/face_ssd_ros/face_ssd_ros/models/$$m.onnx --gt-dir ../shared/data/faces/wider_dev \
	    --plot out/eval/pr_wider_$$m.png --json out/eval/wider_$$m.json --save-pred out/eval/pred_$$m.jsonl
	done

bench: setup
	$(ACTIVATE)
	bash benchmarks/run_all.sh

# ---- fine-tuning recipes (docs/TRAINING.md): train, evaluate on the held-out split, print a Markdown table
# (out/finetune/<recipe>.md). FINETUNE_SET adds face-ssd-train options, e.g. FINETUNE_SET="--set train.epochs=5".
FT := config/training
FT_OUT := out/finetune
FINETUNE_SET ?=
FACE_CKPT := src/face_ssd_ros/face_ssd_ros/models/face_default.pt
FACE_CKPT_640 := src/face_ssd_ros/face_ssd_ros/models/face_default_640x480.pt
FT_EVAL := face-ssd-eval config --quiet --accuracy-threshold 0.5

# The shipped face model's training checkpoints (recipes 2 and 3 start from face_default.pt, recipe 2's 640x480
# variant from face_default_640x480.pt). They ship with the model; should one be missing, it is recovered from its
# ONNX (face-ssd-import-onnx: BatchNorm statistics from the dlib photos).
$(FACE_CKPT) $(FACE_CKPT_640): %.pt:
	$(ACTIVATE)
	face-ssd-import-onnx $*.onnx --out $@ --images ../shared/data/faces/dlib/images

finetune-plates: setup
	$(ACTIVATE)
	face-ssd-train --config $(FT)/finetune_plates.yaml $(FINETUNE_SET)
	face-ssd-train --config $(FT)/finetune_plates.yaml --config $(FT)/finetune_plates_scratch.yaml $(FINETUNE_SET)
	for r in plates plates_scratch; do
	  $(FT_EVAL) --config $(FT)/finetune_plates.yaml --model runs/finetune_$$r/$$r.onnx \
	    --json $(FT_OUT)/$$r.json --plot $(FT_OUT)/pr_$$r.png
	done
	face-ssd-eval table --out $(FT_OUT)/plates.md \
	  "mb2-ssd-lite 300x300, ImageNet backbone=$(FT_OUT)/plates.json,runs/finetune_plates/metrics.csv" \
	  "mb2-ssd-lite 300x300, from scratch=$(FT_OUT)/plates_scratch.json,runs/finetune_plates_scratch/metrics.csv"

finetune-cartoon: setup $(FACE_CKPT) $(FACE_CKPT_640)
	$(ACTIVATE)
	face-ssd-train --config $(FT)/finetune_cartoon.yaml $(FINETUNE_SET)
	face-ssd-train --config $(FT)/finetune_cartoon.yaml --config $(FT)/finetune_cartoon_640.yaml $(FINETUNE_SET)
	face-ssd-train --config $(FT)/finetune_cartoon.yaml --config $(FT)/finetune_cartoon_scratch.yaml $(FINETUNE_SET)
	for m in face_default face_default_640x480; do
	  $(FT_EVAL) --config $(FT)/finetune_cartoon.yaml --model src/face_ssd_ros/face_ssd_ros/models/$$m.onnx \
	    --json $(FT_OUT)/cartoon_$$m.json
	done
	for r in cartoon cartoon_640x480 cartoon_scratch; do
	  $(FT_EVAL) --config $(FT)/finetune_cartoon.yaml --model runs/finetune_$$r/$$r.onnx \
	    --json $(FT_OUT)/$$r.json --plot $(FT_OUT)/pr_$$r.png
	done
	face-ssd-eval table --out $(FT_OUT)/cartoon.md \
	  "face model as shipped, 320x240 (every face: face)=$(FT_OUT)/cartoon_face_default.json" \
	  "face model as shipped, 640x480 (every face: face)=$(FT_OUT)/cartoon_face_default_640x480.json" \
	  "fine-tuned from the face model, 320x240=$(FT_OUT)/cartoon.json,runs/finetune_cartoon/metrics.csv" \
	  "fine-tuned from the face model, 640x480=$(FT_OUT)/cartoon_640x480.json,runs/finetune_cartoon_640x480/metrics.csv" \
	  "from scratch, 320x240=$(FT_OUT)/cartoon_scratch.json,runs/finetune_cartoon_scratch/metrics.csv"

finetune-identities: setup $(FACE_CKPT)
	$(ACTIVATE)
	face-ssd-train --config $(FT)/finetune_identities.yaml $(FINETUNE_SET)
	face-ssd-train --config $(FT)/finetune_identities.yaml --config $(FT)/finetune_identities_scratch.yaml $(FINETUNE_SET)
	for r in identities identities_scratch; do
	  $(FT_EVAL) --config $(FT)/finetune_identities.yaml --model runs/finetune_$$r/$$r.onnx \
	    --json $(FT_OUT)/$$r.json --plot $(FT_OUT)/pr_$$r.png
	done
	face-ssd-eval table --out $(FT_OUT)/identities.md \
	  "fine-tuned from the face model=$(FT_OUT)/identities.json,runs/finetune_identities/metrics.csv" \
	  "from scratch=$(FT_OUT)/identities_scratch.json,runs/finetune_identities_scratch/metrics.csv"

# The held-out splits of recipes 2 and 3 (committed in config/training/splits/; this rewrites the same files).
finetune-splits: setup
	$(ACTIVATE)
	face-ssd-split --format csv ../shared/data/faces/selfies/images ../shared/data/faces/selfies/original_classes.csv \
	  --group roboflow --similar 0.8 --stratify classes --test-fraction 0.25 \
	  --train-out $(FT)/splits/selfies_train.txt --test-out $(FT)/splits/selfies_test.txt
	face-ssd-split --format voc ../shared/data/cartoon --image-set default --group none --stratify prefix \
	  --test-fraction 0.35 --train-out $(FT)/splits/cartoon_train.txt --test-out $(FT)/splits/cartoon_test.txt
	face-ssd-split --format wider ../shared/data/faces/aaf/images ../shared/data/faces/aaf/aaf_bbx_gt.txt \
	  --sample 150 --test-fraction 0.2 --train-out $(FT)/splits/aaf_train.txt --test-out $(FT)/splits/aaf_test.txt

# docs/PARAMETERS.md from the ParamSpec tables and launch arguments (tests/unit/test_parameters_doc.py checks it).
# Only pyyaml is needed: the venv's Python when there is one, else python3; PYTHONPATH = the sources, not an install.
.PHONY: docs
docs:
	PYTHONPATH=src/face_ssd_ros $$( [ -x $(VENV)/bin/python ] && echo $(VENV)/bin/python || echo python3 ) \
	  -m face_ssd_ros.config.docs --out docs/PARAMETERS.md

clean:
	rm -rf out runs .pytest_cache
