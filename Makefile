# Entry points of the project. Every target bootstraps .venv (Python 3.7) when it is missing.
# Point targets at real data with DATA=... and OUT=...; see README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV     ?= .venv
PY       := $(VENV)/bin/python
STAMP    := $(VENV)/.requirements-installed
SEED     ?= 0
# Where `make sample-data` writes and where dataset targets read by default. DATA holds the
# dataset roots; point one dataset elsewhere with VID_DATA=..., COCO_DATA=..., and so on.
SAMPLE   ?= data/sample
DATA     ?= $(SAMPLE)
VID_DATA   ?= $(DATA)/ILSVRC2015
COCO_DATA  ?= $(DATA)/coco
DAVIS_DATA ?= $(DATA)/DAVIS
YTVOS_DATA ?= $(DATA)/youtube-vos
OUT      ?= out
PYTEST_ARGS ?=

PIPELINE_ARGS ?=
# OVERWRITE=1 replaces an existing output directory of a dataset target (0, no, false, off or
# empty: it does not).
OVERWRITE ?=
overwrite_flag = $(if $(filter-out 0 no false off NO FALSE OFF No False Off,$(OVERWRITE)),--overwrite)

# Variables accepted on the command line (`make vid-records DATA=...`); any other, e.g. the typo
# COCO_DAT=..., stops make with a suggestion instead of being ignored. Environment variables and
# make's own are not checked. Add new variables to this one line.
KNOWN_VARIABLES := VENV PYTHON37 TF_FROM_SYSTEM SEED SAMPLE DATA VID_DATA COCO_DATA DAVIS_DATA YTVOS_DATA OUT PYTEST_ARGS PIPELINE_ARGS OVERWRITE DAVIS_YEAR RECORDS BRANCH DEVICE RUN_DIR TRAIN_ARGS STEPS STAGE OSMN_RECORDS OSMN_RUN_DIR RUN SEQ INIT OTB OTB_LIST VID COMPARE RESULTS SPLIT NPUS WORKERS HOSTS HOST_INDEX PORT RANK_TABLE FINETUNE_STEPS SEGMENT_ARGS TRACK_ARGS EVAL_ARGS VIDEO MASK TRACKER DOCTOR_ARGS
unknown_variables := $(strip $(foreach v,$(.VARIABLES),$(if $(filter command line,$(origin $(v))),$(if $(filter $(v),$(KNOWN_VARIABLES)),,$(v)))))
# the known variable sharing the longest prefix (5, 4 or 3 letters, case-insensitive) with $(1)
suggest_variable = $(firstword $(foreach n,5 4 3,$(filter $(shell printf '%s' '$(1)' | tr a-z A-Z | cut -c1-$(n))%,$(KNOWN_VARIABLES))))
ifneq ($(unknown_variables),)
bad_variable := $(firstword $(unknown_variables))
$(error unknown variable $(bad_variable)$(if $(call suggest_variable,$(bad_variable)), (did you mean $(call suggest_variable,$(bad_variable))?)); the accepted ones are KNOWN_VARIABLES at the top of the Makefile)
endif

.PHONY: help venv test sample-data sample-data-corrupt demo \
        vid-records coco-records davis-records ytvos-records train-sasiam train-osmn \
        bench bench-vid bench-coco bench-vos bench-sasiam bench-osmn bench-parallel

help:
	@echo "make demo         build the sample datasets and run everything that exists on them"
	@echo "make test         run the test suite"
	@echo "make sample-data  write tiny ILSVRC2015-VID, COCO 2017, DAVIS 2017, YouTube-VOS 2018 trees to $(SAMPLE)"
	@echo "make vid-records  ILSVRC2015-VID -> OUT/vid (DATA=<dir holding ILSVRC2015> or VID_DATA=<root>, OUT=<dir>, OVERWRITE=1)"
	@echo "make coco-records | davis-records (DAVIS_YEAR=2016|2017) | ytvos-records   (same variables)"
	@echo "make train-sasiam SA-Siam on vid records (RECORDS=, BRANCH=appearance|semantic, STEPS=, DEVICE=auto|npu|gpu|cpu)"
	@echo "make track-sasiam track with a run (RUN=<run dir>[,<semantic run dir>] SEQ=<OTB sequence or frame folder> [INIT=x,y,w,h])"
	@echo "make eval-sasiam  OTB-style evaluation (RUN=... OTB=<OTB root> [OTB_LIST=file] | VID=<ILSVRC2015 root>, [OUT=dir] [COMPARE=\"runA runB\"])"
	@echo "make train-osmn   OSMN on coco/vos records (STAGE=coco|davis|ytvos, RECORDS=, STEPS=, DEVICE=, TRAIN_ARGS=)"
	@echo "make segment-osmn RUN=<osmn run> [VIDEO= MASK= | RECORDS= | DAVIS_DATA= | YTVOS_DATA=] [OUT=] [FINETUNE_STEPS=]"
	@echo "make eval-osmn    RESULTS=<folder> DAVIS_DATA=<root> DAVIS_YEAR=2016|2017 [SPLIT=val] [OUT=]: DAVIS J&F, CSVs"
	@echo "make npu-doctor   on an Ascend host: does the project run here? one verdict per check (DOCTOR_ARGS=)"
	@echo "make bench        every benchmark (bench-vid, bench-coco, bench-vos, bench-sasiam, bench-osmn, bench-parallel)"
	@echo "python -m schemas (inside .venv) documents every record schema"

# The venv is rebuilt in place whenever a requirements file changes (tools/make-venv; the stamp is
# written last so an interrupted install is retried, never taken as done). TF_FROM_SYSTEM=1: keep
# the host's TensorFlow (CANN's on Ascend hosts, docs/ascend-host.md) and install everything else
# around it; 0: TensorFlow 1.15.5 from PyPI; empty: 1 when Python 3.7 imports tensorflow and
# npu_bridge.
TF_FROM_SYSTEM ?=
$(STAMP): requirements.txt requirements-base.txt
	@tools/make-venv "$(VENV)" "$(TF_FROM_SYSTEM)"

venv: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q test $(PYTEST_ARGS)

sample-data: $(STAMP)
	$(PY) -m sampledata --out $(SAMPLE) --seed $(SEED) --overwrite

sample-data-corrupt: $(STAMP)
	$(PY) -m sampledata --out $(SAMPLE)-corrupt --seed $(SEED) --corrupt --overwrite

# Dataset targets reading the default DATA write the sample first when it is missing.
$(SAMPLE)/sample_manifest.json: | $(STAMP)
	$(PY) -m sampledata --out $(SAMPLE) --seed $(SEED) --overwrite
sample_if_default = $(if $(filter $(DATA),$(SAMPLE)),$(SAMPLE)/sample_manifest.json)

vid-records: $(STAMP) $(sample_if_default)
	$(PY) -m pipelines vid --data $(VID_DATA) --out $(OUT) $(overwrite_flag) $(PIPELINE_ARGS)

coco-records: $(STAMP) $(sample_if_default)
	$(PY) -m pipelines coco --data $(COCO_DATA) --out $(OUT) $(overwrite_flag) $(PIPELINE_ARGS)

# DAVIS_YEAR=2016 for the single-object DAVIS 2016 records
DAVIS_YEAR ?= 2017
davis-records: $(STAMP) $(sample_if_default)
	$(PY) -m pipelines davis --data $(DAVIS_DATA) --year $(DAVIS_YEAR) --out $(OUT) $(overwrite_flag) $(PIPELINE_ARGS)

ytvos-records: $(STAMP) $(sample_if_default)
	$(PY) -m pipelines ytvos --data $(YTVOS_DATA) --out $(OUT) $(overwrite_flag) $(PIPELINE_ARGS)

# Records of the sample data: what the trainers read by default.
SAMPLE_RECORDS = $(OUT)/sample
$(SAMPLE_RECORDS)/vid/dataset_info.json: | $(SAMPLE)/sample_manifest.json
	$(PY) -m pipelines vid --data $(SAMPLE)/ILSVRC2015 --out $(SAMPLE_RECORDS) --overwrite

# Data-parallel training (README, Data-parallel training): WORKERS=N CPU/GPU processes on this
# host (several hosts: HOSTS=h1,h2,... HOST_INDEX=k on each, WORKERS per host, gRPC ports from
# PORT; with DEVICE=gpu each rank sees one GPU), or NPUS=N Ascend NPUs (HCCL; RANK_TABLE=<file>,
# else one is written for this host from /etc/hccn.conf; several hosts: one table listing every
# server and HOST_INDEX=k, this host's place in its server_list).
# Every rank runs the same trainer command through python -m trainers.launch; per-rank logs go
# to <run dir>/ranks.
HOST_INDEX ?= 0
PORT ?= 23456
ifneq ($(and $(strip $(WORKERS)),$(strip $(NPUS))),)
$(error give WORKERS (CPU/GPU) or NPUS (Ascend), not both)
endif
launch = $(if $(strip $(WORKERS)),$(PY) -m trainers.launch --workers $(WORKERS) \
  $(if $(HOSTS),--hosts $(HOSTS) --host-index $(HOST_INDEX) --port $(PORT)) \
  $(if $(filter gpu,$(DEVICE)),--one-gpu-each) --log-dir $(1)/ranks --,$(if \
  $(strip $(NPUS)),$(PY) -m trainers.launch --npus $(NPUS) $(if $(RANK_TABLE),--rank-table \
  $(RANK_TABLE) --server-index $(HOST_INDEX)) --log-dir $(1)/ranks --))

# make train-sasiam [RECORDS=out/vid] [BRANCH=appearance|semantic] [STEPS=N] [DEVICE=auto|npu|gpu|cpu]
#                   [RUN_DIR=runs/...] [TRAIN_ARGS="--caffenet caffenet.npy --set train.lr=0.01"]
RECORDS  ?= $(SAMPLE_RECORDS)/vid
BRANCH   ?= appearance
DEVICE   ?= auto
RUN_DIR  ?= runs/sasiam-$(BRANCH)
TRAIN_ARGS ?=
sample_records = $(filter $(SAMPLE_RECORDS)/vid,$(RECORDS))
# On the sample records a short run is the useful default; real records get the reference's 199,500.
STEPS    ?= $(if $(sample_records),200)
train-sasiam: $(STAMP) $(if $(sample_records),$(SAMPLE_RECORDS)/vid/dataset_info.json)
	$(call launch,$(RUN_DIR)) $(PY) -m trainers.sasiam --records $(RECORDS) --branch $(BRANCH) --device $(DEVICE) \
	  --run-dir $(RUN_DIR) $(if $(STEPS),--steps $(STEPS)) $(TRAIN_ARGS)

# make track-sasiam RUN=<run dir>[,<semantic run dir>] SEQ=<OTB sequence or frame folder> [INIT=x,y,w,h]
#                   (or VID=<ILSVRC2015 root> SEQ=<val track, e.g. ILSVRC2015_val_00000000.0>)
# make eval-sasiam RUN=... (OTB=<OTB root> [OTB_LIST=<list>] | VID=<ILSVRC2015 root>) [OUT=<dir>]
#                  [COMPARE="runA runB,runC"] [TRACK_ARGS="--limit 50 --skip-existing --set k=v"]
#                  (default output: out/tracking/{track,eval})
.PHONY: track-sasiam eval-sasiam bench-track
RUN ?=
SEQ ?=
INIT ?=
OTB ?=
OTB_LIST ?=
VID ?=
COMPARE ?=
TRACK_ARGS ?=
tracking_out = $(if $(filter command line,$(origin OUT)),$(OUT),$(OUT)/tracking/$(1))
track-sasiam: $(STAMP)
	@test -n "$(RUN)" -a -n "$(SEQ)" || { echo "usage: make track-sasiam RUN=<run dir>[,<run dir>] SEQ=<sequence dir> [INIT=x,y,w,h]"; exit 2; }
	$(PY) -m trackers track --run $(RUN) --seq $(SEQ) $(if $(INIT),--init $(INIT)) $(if $(VID),--vid $(VID)) \
	  --device $(DEVICE) --out $(call tracking_out,track) $(TRACK_ARGS)

eval-sasiam: $(STAMP)
	@test -n "$(RUN)" -a -n "$(OTB)$(VID)" || { echo "usage: make eval-sasiam RUN=<run dir>[,<run dir>] OTB=<dir> | VID=<ILSVRC2015 root> [OUT=<dir>]"; exit 2; }
	$(PY) -m trackers eval --run $(RUN) $(if $(OTB),--otb $(OTB) $(if $(OTB_LIST),--list $(OTB_LIST)),--vid $(VID)) \
	  $(if $(COMPARE),--compare $(COMPARE)) --device $(DEVICE) --out $(call tracking_out,eval) $(TRACK_ARGS)

# make npu-doctor [DOCTOR_ARGS="--steps 8 --iterations-per-loop 4 --work-dir runs/doctor"]: on an
# Ascend host, the versions, the visible NPUs, both trainers and the tracking and segmentation
# graphs at a tiny size on the NPU, one verdict line per check (docs/ascend-host.md). Without an
# NPU one line and exit 1, before any sample data is written.
.PHONY: npu-doctor
DOCTOR_ARGS ?=
npu-doctor: $(STAMP)
	@$(PY) -m trainers.doctor --detect
	@$(MAKE) --no-print-directory $(SAMPLE_RECORDS)/vid/dataset_info.json $(SAMPLE_RECORDS)/coco/dataset_info.json
	$(PY) -m trainers.doctor --vid-records $(SAMPLE_RECORDS)/vid --coco-records $(SAMPLE_RECORDS)/coco $(DOCTOR_ARGS)

# make train-osmn [STAGE=coco|davis|ytvos] [RECORDS=out/coco] [STEPS=N] [DEVICE=...]
#                 [TRAIN_ARGS="--vgg16 vgg_16.ckpt" or "--init-from runs/osmn-coco"]
STAGE ?= coco
OSMN_RECORDS_coco = coco
OSMN_RECORDS_davis = davis2017
OSMN_RECORDS_ytvos = ytvos2018
OSMN_RECORDS ?= $(if $(filter $(SAMPLE_RECORDS)/vid,$(RECORDS)),$(SAMPLE_RECORDS)/$(OSMN_RECORDS_$(STAGE)),$(RECORDS))
OSMN_RUN_DIR ?= runs/osmn-$(STAGE)
osmn_sample = $(filter $(SAMPLE_RECORDS)/%,$(OSMN_RECORDS))
# rebuilt when their schema changes (a new version: readers refuse the old records)
$(SAMPLE_RECORDS)/coco/dataset_info.json: schemas/coco_instances.py | $(SAMPLE)/sample_manifest.json
	$(PY) -m pipelines coco --data $(SAMPLE)/coco --out $(SAMPLE_RECORDS) --overwrite
$(SAMPLE_RECORDS)/davis2017/dataset_info.json: schemas/vos_video.py | $(SAMPLE)/sample_manifest.json
	$(PY) -m pipelines davis --data $(SAMPLE)/DAVIS --out $(SAMPLE_RECORDS) --overwrite
$(SAMPLE_RECORDS)/ytvos2018/dataset_info.json: schemas/vos_video.py | $(SAMPLE)/sample_manifest.json
	$(PY) -m pipelines ytvos --data $(SAMPLE)/youtube-vos --out $(SAMPLE_RECORDS) --overwrite
# On the sample records (no ImageNet weights offline) a short smoke run of a small network.
OSMN_SAMPLE_ARGS = --random-init-for-tests --set model.width=0.25 --set input.input_scale=0.5
train-osmn: $(STAMP) $(if $(osmn_sample),$(OSMN_RECORDS)/dataset_info.json)
	$(call launch,$(OSMN_RUN_DIR)) $(PY) -m trainers.osmn --stage $(STAGE) --records $(OSMN_RECORDS) --device $(DEVICE) \
	  --run-dir $(OSMN_RUN_DIR) $(if $(STEPS),--steps $(STEPS)) \
	  $(if $(osmn_sample),$(OSMN_SAMPLE_ARGS)) $(TRAIN_ARGS)

# make segment-osmn RUN=<run dir> [VIDEO=<frames dir> MASK=<first-frame palette png>]
#     | [RECORDS=<vos_video records>] | [YTVOS_DATA=<YouTube-VOS root>] | [DAVIS_DATA=<DAVIS root>]
#     [DAVIS_YEAR=2016|2017] [SPLIT=<split>] [OUT=<dir>] [FINETUNE_STEPS=N] [SEGMENT_ARGS=...]
# (the source is the first given of VIDEO, RECORDS, YTVOS_DATA; else DAVIS_DATA, the sample's by
# default; results: OUT, default out/segment/<run name>; SPLIT: raw data val|valid, records
# validation (default) or the release's name)
# make eval-osmn RESULTS=<folder of <seq>/<frame>.png> [DAVIS_DATA=<root>] [DAVIS_YEAR=2016|2017]
#     [SPLIT=val] [OUT=<dir>] [EVAL_ARGS=--resize]    (default OUT: RESULTS/evaluation)
# (either writes the sample data first only when the data it reads is the sample's)
.PHONY: segment-osmn eval-osmn bench-segment
VIDEO ?=
MASK ?=
SPLIT ?=
RESULTS ?=
FINETUNE_STEPS ?= 0
SEGMENT_ARGS ?=
EVAL_ARGS ?=
given = $(filter command line,$(origin $(1)))
cli_out = $(if $(filter command line,$(origin OUT)),$(OUT),$(1))
segment_source = $(if $(VIDEO),--frames $(VIDEO) --mask $(MASK),$(if $(call given,RECORDS),--records $(RECORDS),$(if $(call given,YTVOS_DATA),--ytvos $(YTVOS_DATA),--davis $(DAVIS_DATA) --year $(DAVIS_YEAR))))
segment_data = $(or $(VIDEO),$(if $(call given,RECORDS),$(RECORDS)),$(if $(call given,YTVOS_DATA),$(YTVOS_DATA)),$(DAVIS_DATA))
sample_for = $(if $(filter $(SAMPLE)/%,$(1)),$(SAMPLE)/sample_manifest.json)
segment-osmn: $(STAMP) $(call sample_for,$(segment_data))
	@test -n "$(RUN)" -a "$(if $(VIDEO),1)" = "$(if $(MASK),1)" || { echo "usage: make segment-osmn RUN=<run dir> [VIDEO=<frames dir> MASK=<png>] | [RECORDS=<records>] | [DAVIS_DATA=<root>] [OUT=<dir>] [FINETUNE_STEPS=N]"; exit 2; }
	$(PY) -m segmenters --run $(RUN) $(segment_source) $(if $(SPLIT),--split $(SPLIT)) \
	  --device $(DEVICE) --finetune-steps $(FINETUNE_STEPS) \
	  --out $(call cli_out,$(OUT)/segment/$(notdir $(patsubst %/,%,$(RUN)))) $(SEGMENT_ARGS)

eval-osmn: $(STAMP) $(call sample_for,$(DAVIS_DATA))
	@test -n "$(RESULTS)" || { echo "usage: make eval-osmn RESULTS=<results folder> DAVIS_DATA=<DAVIS root> DAVIS_YEAR=2016|2017 [SPLIT=val] [OUT=<dir>] [EVAL_ARGS=--resize]"; exit 2; }
	$(PY) -m evaluation.davis --results $(RESULTS) --davis $(DAVIS_DATA) --year $(DAVIS_YEAR) \
	  --split $(or $(SPLIT),val) --out $(call cli_out,$(patsubst %/,%,$(RESULTS))/evaluation) $(EVAL_ARGS)

DEMO_OUT = $(OUT)/demo
demo: sample-data
	$(PY) -m pipelines vid --data $(SAMPLE)/ILSVRC2015 --out $(DEMO_OUT) --overwrite
	$(PY) -m pipelines coco --data $(SAMPLE)/coco --out $(DEMO_OUT) --overwrite
	$(PY) -m pipelines davis --data $(SAMPLE)/DAVIS --out $(DEMO_OUT) --overwrite
	$(PY) -m pipelines ytvos --data $(SAMPLE)/youtube-vos --out $(DEMO_OUT) --overwrite
	rm -rf $(DEMO_OUT)/runs/sasiam-appearance
	$(PY) -m trainers.sasiam --records $(DEMO_OUT)/vid --branch appearance --device $(DEVICE) \
	  --run-dir $(DEMO_OUT)/runs/sasiam-appearance --steps 60 \
	  --set model.width=0.25 --set train.validate_every=30 --set train.validation_batches=4
	rm -rf $(DEMO_OUT)/tracking
	$(PY) -m trackers eval --run $(DEMO_OUT)/runs/sasiam-appearance --vid $(SAMPLE)/ILSVRC2015 \
	  --device $(DEVICE) --out $(DEMO_OUT)/tracking --strips
	$(PY) -m trackers track --run $(DEMO_OUT)/runs/sasiam-appearance --vid $(SAMPLE)/ILSVRC2015 \
	  --seq ILSVRC2015_val_00000000.0 --device $(DEVICE) --out $(DEMO_OUT)/tracking/track
	rm -rf $(DEMO_OUT)/runs/osmn-coco
	$(PY) -m trainers.osmn --stage coco --records $(DEMO_OUT)/coco --device $(DEVICE) \
	  --run-dir $(DEMO_OUT)/runs/osmn-coco --steps 40 --random-init-for-tests \
	  --set model.width=0.125 --set input.input_scale=0.25 --set input.batch_size=4 \
	  --set train.lr=0.001 --set train.validate_every=20 --set train.validation_batches=2 \
	  --set train.log_every=5
	rm -rf $(DEMO_OUT)/segment
	$(PY) -m segmenters --run $(DEMO_OUT)/runs/osmn-coco --davis $(SAMPLE)/DAVIS --device $(DEVICE) \
	  --out $(DEMO_OUT)/segment/davis2017-val
	$(PY) -m evaluation.davis --results $(DEMO_OUT)/segment/davis2017-val --davis $(SAMPLE)/DAVIS \
	  --out $(DEMO_OUT)/segment/davis2017-val-eval
	@echo
	@echo "demo: sample datasets in $(SAMPLE); records in $(DEMO_OUT)/{vid,coco,davis2017,ytvos2018} (each with dataset_info.json);"
	@echo "demo: short trainings in $(DEMO_OUT)/runs/: SA-Siam appearance (quarter width) and OSMN COCO stage"
	@echo "demo: (eighth width, random init: no ImageNet weights offline); see summary.json and train_log.jsonl."
	@echo "demo: OSMN (COCO stage) segments the sample DAVIS val split: $(DEMO_OUT)/segment/davis2017-val,"
	@echo "demo: its J&F, CSVs and overlay strips in $(DEMO_OUT)/segment/davis2017-val-eval."
	@echo "demo: SA-Siam tracks the sample VID val tracks: $(DEMO_OUT)/tracking/{results,reports,strips}"
	@echo "demo: (success / precision plots and performance.json against the static-first-box baseline)."
	@echo "demo: and one of them with make track-sasiam's command: $(DEMO_OUT)/tracking/track (boxes, strip PNG)"
	@echo "demo: record schemas: $(PY) -m schemas."

bench: bench-vid bench-coco bench-vos bench-sasiam bench-osmn bench-parallel bench-track bench-segment

bench-vid: $(STAMP)
	$(PY) -m bench.vid_bench

bench-coco: $(STAMP)
	$(PY) -m bench.convert_bench coco

bench-vos: $(STAMP)
	$(PY) -m bench.convert_bench davis

bench-sasiam: $(STAMP)
	$(PY) -m bench.sasiam_bench

bench-osmn: $(STAMP)
	$(PY) -m bench.osmn_bench

bench-track: $(STAMP)
	$(PY) -m bench.track_bench

# OSMN inference at 854x480, full width, on the CPU: frames/s, host work vs network
bench-segment: $(STAMP)
	$(PY) -m bench.segment_bench

# data-parallel: 1 vs 2 local processes, all-reduce time at full model size
bench-parallel: $(STAMP)
	$(PY) -m bench.parallel_bench

