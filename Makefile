# Entry points of the project. Every target bootstraps .venv (Python 3.7) when it is missing.
# Point targets at real data with DATA=... and OUT=...; see README.md and `make help`.
#
# One vocabulary across targets: RUN_DIR is the run directory a trainer writes, RUN a trained run
# that is read, RECORDS the records read, <NAME>_DATA a dataset root (DATA holds them all), OUT
# where results go. Each target declares, beside its rule, the command-line variables it reads:
#   $(call declare,<target>,<variables>,<one line for make help; a comma is $(comma), no # or quote>)
# A command-line variable that none of the requested targets reads stops make with one line
# naming the targets that do (the checks are at the end, after every declaration).
SHELL := /bin/bash
.DEFAULT_GOAL := help

comma := ,
TARGETS :=
declare = $(if $(4),$(error declaration of $(strip $(1)): write a comma in its description as $$(comma)))$(eval \
  TARGETS += $(strip $(1)))$(eval VARS_$(strip $(1)) := $(strip $(2)))$(eval \
  HELP_$(strip $(1)) := $(strip $(3)))
# Read by every target (each one bootstraps the venv: tools/find-python37 reads PYTHON37,
# tools/make-venv TF_FROM_SYSTEM).
GLOBAL_VARIABLES := VENV PYTHON37 TF_FROM_SYSTEM
# Read wherever the sample data may be written first.
SAMPLE_VARIABLES := SAMPLE SEED

# Old names kept for one release (old:new): the old value goes to the new name, with a one-line
# note on stderr (after the checks at the end); a command line giving both with different values
# stops make.
RENAMED := OSMN_RUN_DIR:RUN_DIR OSMN_RECORDS:RECORDS VID:VID_DATA OTB:OTB_DATA
old_name = $(word 1,$(subst :, ,$(1)))
new_name = $(word 2,$(subst :, ,$(1)))
on_command_line = $(filter command line,$(origin $(1)))
define rename_variable
ifneq ($(call on_command_line,$(1)),)
ifeq ($(call on_command_line,$(2)),)
$(2) := $$(value $(1))
else ifneq ($$(value $(1)),$$(value $(2)))
$$(error $(1) and $(2) disagree: give only $(2) ($(1) is its deprecated name))
endif
renamed_on_command_line += $(1)
endif
endef
$(foreach r,$(RENAMED),$(eval $(call rename_variable,$(call old_name,$(r)),$(call new_name,$(r)))))

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
OTB_DATA   ?=
GOT10K_DATA ?= $(DATA)/GOT-10k
LASOT_DATA  ?= $(DATA)/LaSOT
TRACK_DATA  ?=
TRACK_NAME  ?= track
OUT      ?= out
DEVICE   ?= auto
PYTEST_ARGS ?=
# Processes make test spreads its tests over (pytest-xdist); 0 or empty runs them in the make
# process itself (a debugger, -x at the first failure in order).
TEST_WORKERS ?= 2

PIPELINE_ARGS ?=
# OVERWRITE=1 replaces an existing output directory of a dataset target (0, no, false, off or
# empty: it does not).
OVERWRITE ?=
overwrite_flag = $(if $(filter-out 0 no false off NO FALSE OFF No False Off,$(OVERWRITE)),--overwrite)

$(call declare,help,,this list: every target with the command-line variables it reads)
help:
	@echo "Every target also reads $(GLOBAL_VARIABLES); python -m schemas (inside .venv) documents every record schema."
	@$(foreach t,$(TARGETS),printf '%-25s %s\n%-25s reads: %s\n' 'make $(t)' '$(HELP_$(t))' '' '$(or $(VARS_$(t)),-)';)

# The venv is rebuilt in place whenever a requirements file changes (tools/make-venv; the stamp is
# written last so an interrupted install is retried, never taken as done). TF_FROM_SYSTEM=1: keep
# the host's TensorFlow (CANN's on Ascend hosts, docs/ascend-host.md) and install everything else
# around it; 0: TensorFlow 1.15.5 from PyPI; empty: 1 when Python 3.7 imports tensorflow and
# npu_bridge.
TF_FROM_SYSTEM ?=
$(STAMP): requirements.txt requirements-base.txt
	@tools/make-venv "$(VENV)" "$(TF_FROM_SYSTEM)"

$(call declare,venv,,create or update .venv (Python 3.7 with requirements.txt))
venv: $(STAMP)

# make test: every test but those marked slow (about 2 minutes on 2 cores, on TEST_WORKERS
# processes); make test-slow: the slow ones (real multi-process, multi-scale and install runs),
# one at a time since many start processes of their own. CI runs both (.ci/run).
$(call declare,test,PYTEST_ARGS TEST_WORKERS,run the test suite but its slow tests (PYTEST_ARGS: extra pytest arguments; TEST_WORKERS: processes$(comma) 0 for none))
test: $(STAMP)
	$(PY) -m pytest -q test -m "not slow" -n $(or $(TEST_WORKERS),0) $(PYTEST_ARGS)

$(call declare,test-slow,PYTEST_ARGS,run the slow tests only (CI runs them after make test; docs/testing.md))
test-slow: $(STAMP)
	$(PY) -m pytest -q test -m slow $(PYTEST_ARGS)

$(call declare,sample-data,$(SAMPLE_VARIABLES),write tiny ILSVRC2015-VID / COCO 2017 / DAVIS 2017 / YouTube-VOS 2018 and 2019 / MOSE / GOT-10k / LaSOT trees to SAMPLE)
sample-data: $(STAMP)
	$(PY) -m sampledata --out $(SAMPLE) --seed $(SEED) --overwrite

$(call declare,sample-data-corrupt,$(SAMPLE_VARIABLES),the same trees with broken files to SAMPLE-corrupt)
sample-data-corrupt: $(STAMP)
	$(PY) -m sampledata --out $(SAMPLE)-corrupt --seed $(SEED) --corrupt --overwrite

# Dataset targets reading the default DATA write the sample first when it is missing, or older
# than the sample generator (a checkout that adds a dataset to it rewrites the sample).
$(SAMPLE)/sample_manifest.json: $(wildcard sampledata/*.py) | $(STAMP)
	$(PY) -m sampledata --out $(SAMPLE) --seed $(SEED) --overwrite
sample_if_default = $(if $(filter $(DATA),$(SAMPLE)),$(SAMPLE)/sample_manifest.json)
PIPELINE_VARIABLES := DATA OUT OVERWRITE PIPELINE_ARGS $(SAMPLE_VARIABLES)

$(call declare,vid-records,VID_DATA $(PIPELINE_VARIABLES),ILSVRC2015-VID -> OUT/vid (DATA: the folder holding ILSVRC2015 or VID_DATA: its root))
vid-records: $(STAMP) $(sample_if_default)
	$(PY) -m pipelines vid --data $(VID_DATA) --out $(OUT) $(overwrite_flag) $(PIPELINE_ARGS)

# GOT-10k, LaSOT and any labelled sequence folders -> the same vid_track records (docs/pipelines.md)
$(call declare,got10k-records,GOT10K_DATA $(PIPELINE_VARIABLES),GOT-10k train + val -> OUT/got10k (GOT10K_DATA: the root holding train/ val/ test/))
got10k-records: $(STAMP) $(sample_if_default)
	$(PY) -m pipelines got10k --data $(GOT10K_DATA) --out $(OUT) $(overwrite_flag) $(PIPELINE_ARGS)

$(call declare,lasot-records,LASOT_DATA $(PIPELINE_VARIABLES),LaSOT train split (1120 sequences) -> OUT/lasot)
lasot-records: $(STAMP) $(sample_if_default)
	$(PY) -m pipelines lasot --data $(LASOT_DATA) --out $(OUT) $(overwrite_flag) $(PIPELINE_ARGS)

$(call declare,track-records,TRACK_DATA TRACK_NAME $(PIPELINE_VARIABLES),folders of <seq>/img/*.jpg or <seq>/*.jpg + groundtruth.txt -> OUT/TRACK_NAME (default track))
track-records: $(STAMP)
	@test -n "$(TRACK_DATA)" || { echo 'make track-records: give TRACK_DATA=<folder of sequence folders>' >&2; exit 2; }
	$(PY) -m pipelines track --data $(TRACK_DATA) --name $(TRACK_NAME) --out $(OUT) $(overwrite_flag) $(PIPELINE_ARGS)

$(call declare,coco-records,COCO_DATA $(PIPELINE_VARIABLES),COCO 2017 -> OUT/coco)
coco-records: $(STAMP) $(sample_if_default)
	$(PY) -m pipelines coco --data $(COCO_DATA) --out $(OUT) $(overwrite_flag) $(PIPELINE_ARGS)

# DAVIS_YEAR=2016 for the single-object DAVIS 2016 records
DAVIS_YEAR ?= 2017
$(call declare,davis-records,DAVIS_DATA DAVIS_YEAR $(PIPELINE_VARIABLES),DAVIS 2017 (DAVIS_YEAR=2016: 2016) -> OUT/davis<year>)
davis-records: $(STAMP) $(sample_if_default)
	$(PY) -m pipelines davis --data $(DAVIS_DATA) --year $(DAVIS_YEAR) --out $(OUT) $(overwrite_flag) $(PIPELINE_ARGS)

# YTVOS_YEAR=2019 for the 2019 release (records ytvos2019; YTVOS_DATA default DATA/youtube-vos-2019).
# HOLDOUT=N moves N train videos (HOLDOUT_UNSEEN=K whole categories with them, chosen by
# HOLDOUT_SEED) to a holdout split for local scoring (docs/pipelines.md, "The hold-out split").
YTVOS_YEAR ?= 2018
HOLDOUT ?= 0
HOLDOUT_UNSEEN ?= 0
HOLDOUT_SEED ?= 0
MOSE_DATA ?= $(DATA)/MOSE
HOLDOUT_VARIABLES := HOLDOUT HOLDOUT_UNSEEN HOLDOUT_SEED
holdout_flags = --holdout $(HOLDOUT) --holdout-unseen $(HOLDOUT_UNSEEN) --holdout-seed $(HOLDOUT_SEED)
ytvos_root = $(if $(and $(filter 2019,$(YTVOS_YEAR)),$(if $(call on_command_line,YTVOS_DATA),,1)),$(DATA)/youtube-vos-2019,$(YTVOS_DATA))
$(call declare,ytvos-records,YTVOS_DATA YTVOS_YEAR $(HOLDOUT_VARIABLES) $(PIPELINE_VARIABLES),YouTube-VOS 2018 (YTVOS_YEAR=2019: 2019) -> OUT/ytvos<year> (HOLDOUT=N: a holdout split of N train videos))
ytvos-records: $(STAMP) $(sample_if_default)
	$(PY) -m pipelines ytvos --data $(ytvos_root) --year $(YTVOS_YEAR) --out $(OUT) $(holdout_flags) $(overwrite_flag) $(PIPELINE_ARGS)

$(call declare,mose-records,MOSE_DATA $(HOLDOUT_VARIABLES) $(PIPELINE_VARIABLES),MOSE -> OUT/mose (HOLDOUT=N: a holdout split of N train videos))
mose-records: $(STAMP) $(sample_if_default)
	$(PY) -m pipelines mose --data $(MOSE_DATA) --out $(OUT) $(holdout_flags) $(overwrite_flag) $(PIPELINE_ARGS)

$(call declare,holdout-gt,RECORDS GT,the holdout split of RECORDS as GT/<video>/<frame>.png masks (GT default: RECORDS-holdout-gt) to score against)
holdout-gt: $(STAMP)
	@test -n "$(RECORDS)" || { echo "usage: make holdout-gt RECORDS=<records with a holdout split, e.g. out/ytvos2019> [GT=<new folder>]"; exit 2; }
	$(PY) -m schemas export $(RECORDS) --out $(or $(GT),$(patsubst %/,%,$(RECORDS))-holdout-gt) --split holdout --masks-only

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
# What both trainers read: the run directory written, the records read (default: the sample's
# records of the right kind, built under OUT/sample first), steps, device, parallel launch.
TRAINER_VARIABLES := RUN_DIR RECORDS STEPS DEVICE TRAIN_ARGS WORKERS NPUS HOSTS HOST_INDEX PORT \
  RANK_TABLE OUT $(SAMPLE_VARIABLES)
RUN_DIR ?=
RECORDS ?=
STEPS ?=
TRAIN_ARGS ?=
# On the sample records a short run is the useful default; real records get the trainer's own.
SAMPLE_STEPS := 200
steps_flag = $(if $(or $(STEPS),$(1)),--steps $(or $(STEPS),$(SAMPLE_STEPS)))

# make train-sasiam [RECORDS=out/vid] [BRANCH=appearance|semantic] [STEPS=N] [DEVICE=auto|npu|gpu|cpu]
#                   (RECORDS=out/vid,out/got10k: several, mixed; TRAIN_ARGS="--set input.source_weights=[2,1]")
#                   [RUN_DIR=runs/...] [TRAIN_ARGS="--caffenet caffenet.npy --set train.lr=0.01"]
BRANCH   ?= appearance
sasiam_records = $(or $(RECORDS),$(SAMPLE_RECORDS)/vid)
sasiam_run_dir = $(or $(RUN_DIR),runs/sasiam-$(BRANCH))
sasiam_sample = $(filter $(SAMPLE_RECORDS)/vid,$(sasiam_records))
$(call declare,train-sasiam,BRANCH $(TRAINER_VARIABLES),SA-Siam on vid_track records (BRANCH=appearance|semantic; RUN_DIR default runs/sasiam-BRANCH; RECORDS default the sample vid records))
train-sasiam: $(STAMP) $(if $(sasiam_sample),$(SAMPLE_RECORDS)/vid/dataset_info.json)
	$(call launch,$(sasiam_run_dir)) $(PY) -m trainers.sasiam --records $(sasiam_records) --branch $(BRANCH) --device $(DEVICE) \
	  --run-dir $(sasiam_run_dir) $(call steps_flag,$(sasiam_sample)) $(TRAIN_ARGS)

# make track-sasiam RUN=<run dir>[,<semantic run dir>] SEQ=<OTB sequence or frame folder> [INIT=x,y,w,h]
#                   (or SEQ=<video file, e.g. clip.mp4> INIT=x,y,w,h)
#                   (or [VID_DATA=<ILSVRC2015 root>] SEQ=<val track, e.g. ILSVRC2015_val_00000000.0>)
# make eval-sasiam RUN=... [OTB_DATA=<OTB root> [OTB_LIST=<list>] | VID_DATA=<ILSVRC2015 root>
#                  | UAV123_DATA | NFS_DATA | TC128_DATA | LASOT_DATA | GOT10K_DATA [SPLIT=val|test]
#                  | TRACKINGNET_DATA=<benchmark root> | VOT_DATA=<VOT root> [VOT_YEAR=2016|2017|2018]]
#                  [OUT=<dir>] [COMPARE="runA runB,runC"] [TRACK_ARGS="--limit 50 --skip-existing --set k=v"]
#                  (default data: the sample's VID val split; default output: out/tracking/{track,eval})
# VOT 2016-2018 (docs/tracking.md, VOT): VOT_DATA=<root> runs the reset protocol and reports
# accuracy, robustness and EAO; VOT_YEAR=2016|2017|2018 when the root's name has no year.
VOT_DATA ?=
VOT_YEAR ?=
vot_source = $(if $(VOT_DATA),--vot $(VOT_DATA) $(if $(VOT_YEAR),--vot-year $(VOT_YEAR)))
RUN ?=
SEQ ?=
INIT ?=
OTB_LIST ?=
COMPARE ?=
TRACK_ARGS ?=
# OUT given on the command line is the output folder itself; else $(1), a folder below OUT
cli_out = $(if $(call on_command_line,OUT),$(OUT),$(1))
tracking_out = $(call cli_out,$(OUT)/tracking/$(1))
sample_for = $(if $(filter $(SAMPLE)/%,$(1)),$(SAMPLE)/sample_manifest.json)
# SEQ names a VID val track when VID_DATA is given or SEQ is no folder (then the sample's by default)
seq_is_vid_track = $(if $(SEQ),$(or $(call on_command_line,VID_DATA),$(call on_command_line,VID),$(if $(wildcard $(SEQ)),,1)))
$(call declare,track-sasiam,RUN SEQ INIT VID_DATA DATA DEVICE OUT TRACK_ARGS $(SAMPLE_VARIABLES),track one sequence with a run (RUN=<run>[$(comma)<semantic run>] SEQ=<folder$(comma) video file or VID val track> [INIT=x$(comma)y$(comma)w$(comma)h]))
track-sasiam: $(STAMP) $(if $(seq_is_vid_track),$(call sample_for,$(VID_DATA)))
	@test -n "$(RUN)" -a -n "$(SEQ)" || { echo "usage: make track-sasiam RUN=<run dir>[,<run dir>] SEQ=<sequence dir or VID val track> [INIT=x,y,w,h] [VID_DATA=<ILSVRC2015 root>]"; exit 2; }
	$(PY) -m trackers track --run $(RUN) --seq $(SEQ) $(if $(INIT),--init $(INIT)) $(if $(seq_is_vid_track),--vid $(VID_DATA)) \
	  --device $(DEVICE) --out $(call tracking_out,track) $(TRACK_ARGS)

# The benchmark eval-sasiam scores (NAME:option): the one whose NAME_DATA is on the command line,
# else OTB_DATA, else VID_DATA (docs/tracking.md#benchmarks lists each layout and output).
EVAL_BENCHMARKS := UAV123:uav123 NFS:nfs TC128:tc128 LASOT:lasot GOT10K:got10k TRACKINGNET:trackingnet
eval_benchmark = $(firstword $(foreach b,$(EVAL_BENCHMARKS),$(if $(call on_command_line,$(call old_name,$(b))_DATA),$(b))))
sasiam_eval_source = $(if $(eval_benchmark),--$(call new_name,$(eval_benchmark)) $($(call old_name,$(eval_benchmark))_DATA) \
  $(if $(filter GOT10K:%,$(eval_benchmark)),--split $(or $(SPLIT),val)),$(if $(OTB_DATA),--otb $(OTB_DATA) $(if $(OTB_LIST),--list $(OTB_LIST)),--vid $(VID_DATA)))
$(call declare,eval-sasiam,RUN OTB_DATA OTB_LIST VID_DATA UAV123_DATA NFS_DATA TC128_DATA LASOT_DATA GOT10K_DATA SPLIT TRACKINGNET_DATA VOT_DATA VOT_YEAR DATA COMPARE DEVICE OUT TRACK_ARGS $(SAMPLE_VARIABLES),evaluation of runs on OTB_DATA / VID_DATA / UAV123_DATA / NFS_DATA / TC128_DATA / LASOT_DATA / GOT10K_DATA (SPLIT=val|test) / TRACKINGNET_DATA / VOT_DATA (the VOT reset protocol) (default the sample VID val split))
eval-sasiam: $(STAMP) $(if $(OTB_DATA)$(VOT_DATA)$(eval_benchmark),,$(call sample_for,$(VID_DATA)))
	@test -n "$(RUN)" || { echo "usage: make eval-sasiam RUN=<run dir>[,<run dir>] [OTB_DATA=<dir> | VID_DATA=<ILSVRC2015 root> | UAV123_DATA= | NFS_DATA= | TC128_DATA= | LASOT_DATA= | GOT10K_DATA= [SPLIT=val|test] | TRACKINGNET_DATA= | VOT_DATA= [VOT_YEAR=]] [OUT=<dir>]"; exit 2; }
	$(PY) -m trackers eval --run $(RUN) $(or $(vot_source),$(sasiam_eval_source)) \
	  $(if $(COMPARE),--compare $(COMPARE)) --device $(DEVICE) --out $(call tracking_out,eval) $(TRACK_ARGS)

# make import-siamfc MAT=<SiamFC network, e.g. 2016-08-17.net.mat> RUN_DIR=<new run directory>:
# the released SiamFC weights as an appearance run that make track-sasiam RUN=... uses (docs/tracking.md)
MAT ?=
$(call declare,import-siamfc,MAT RUN_DIR,import the released SiamFC network (MAT=<MatConvNet .mat>) as an appearance run directory (RUN_DIR=<new dir>))
import-siamfc: $(STAMP)
	@test -n "$(MAT)" -a -n "$(RUN_DIR)" || { echo "usage: make import-siamfc MAT=<2016-08-17.net.mat> RUN_DIR=<new run directory>"; exit 2; }
	$(PY) -m trainers.sasiam.import_siamfc $(MAT) $(RUN_DIR)

# make npu-doctor [DOCTOR_ARGS="--steps 8 --iterations-per-loop 4 --work-dir runs/doctor"]: on an
# Ascend host, the versions, the visible NPUs, both trainers and the tracking and segmentation
# graphs at a tiny size on the NPU, one verdict line per check (docs/ascend-host.md). Without an
# NPU one line and exit 1, before any sample data is written.
DOCTOR_ARGS ?=
$(call declare,npu-doctor,DOCTOR_ARGS OUT $(SAMPLE_VARIABLES),on an Ascend host: does the project run here? one verdict line per check)
npu-doctor: $(STAMP)
	@$(PY) -m doctor --detect
	@$(MAKE) --no-print-directory $(SAMPLE_RECORDS)/vid/dataset_info.json $(SAMPLE_RECORDS)/coco/dataset_info.json
	$(PY) -m doctor --vid-records $(SAMPLE_RECORDS)/vid --coco-records $(SAMPLE_RECORDS)/coco $(DOCTOR_ARGS)

# make train-osmn [STAGE=coco|davis|ytvos] [RECORDS=out/coco] [STEPS=N] [DEVICE=...] [RUN_DIR=runs/...]
#                 [TRAIN_ARGS="--vgg16 vgg_16.ckpt" or "--init-from runs/osmn-coco"]
STAGE ?= coco
OSMN_SAMPLE_RECORDS_coco = coco
OSMN_SAMPLE_RECORDS_davis = davis2017
OSMN_SAMPLE_RECORDS_ytvos = ytvos2018
osmn_records = $(or $(RECORDS),$(SAMPLE_RECORDS)/$(OSMN_SAMPLE_RECORDS_$(STAGE)))
osmn_run_dir = $(or $(RUN_DIR),runs/osmn-$(STAGE))
osmn_sample = $(filter $(SAMPLE_RECORDS)/%,$(osmn_records))
# rebuilt when their schema changes (a new version: readers refuse the old records)
$(SAMPLE_RECORDS)/coco/dataset_info.json: schemas/coco_instances.py | $(SAMPLE)/sample_manifest.json
	$(PY) -m pipelines coco --data $(SAMPLE)/coco --out $(SAMPLE_RECORDS) --overwrite
$(SAMPLE_RECORDS)/davis2017/dataset_info.json: schemas/vos_video.py | $(SAMPLE)/sample_manifest.json
	$(PY) -m pipelines davis --data $(SAMPLE)/DAVIS --out $(SAMPLE_RECORDS) --overwrite
$(SAMPLE_RECORDS)/ytvos2018/dataset_info.json: schemas/vos_video.py | $(SAMPLE)/sample_manifest.json
	$(PY) -m pipelines ytvos --data $(SAMPLE)/youtube-vos --out $(SAMPLE_RECORDS) --overwrite
# On the sample records (no ImageNet weights offline) a short smoke run of a small network.
OSMN_SAMPLE_ARGS = --random-init-for-tests --set model.width=0.25 --set input.input_scale=0.5
$(call declare,train-osmn,STAGE $(TRAINER_VARIABLES),OSMN on coco / vos_video records (STAGE=coco|davis|ytvos; RUN_DIR default runs/osmn-STAGE; RECORDS default the sample records of STAGE))
train-osmn: $(STAMP) $(if $(osmn_sample),$(osmn_records)/dataset_info.json)
	$(call launch,$(osmn_run_dir)) $(PY) -m trainers.osmn --stage $(STAGE) --records $(osmn_records) --device $(DEVICE) \
	  --run-dir $(osmn_run_dir) $(call steps_flag,$(osmn_sample)) \
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
VIDEO ?=
MASK ?=
SPLIT ?=
RESULTS ?=
FINETUNE_STEPS ?=
FINETUNE_SCALES ?=
FINETUNE_PER_OBJECT ?=
SEGMENT_ARGS ?=
EVAL_ARGS ?=
segment_source = $(if $(VIDEO),--frames $(VIDEO) --mask $(MASK),$(if $(RECORDS),--records $(RECORDS),$(if $(call on_command_line,YTVOS_DATA),--ytvos $(YTVOS_DATA),--davis $(DAVIS_DATA) --year $(DAVIS_YEAR))))
segment_data = $(or $(VIDEO),$(RECORDS),$(if $(call on_command_line,YTVOS_DATA),$(YTVOS_DATA)),$(DAVIS_DATA))
$(call declare,segment-osmn,RUN VIDEO MASK RECORDS YTVOS_DATA DAVIS_DATA DATA DAVIS_YEAR SPLIT OUT FINETUNE_STEPS FINETUNE_SCALES FINETUNE_PER_OBJECT DEVICE SEGMENT_ARGS $(SAMPLE_VARIABLES),segment videos with an OSMN run (VIDEO+MASK or RECORDS or YTVOS_DATA or DAVIS_DATA: default the sample DAVIS; FINETUNE_SCALES=1 FINETUNE_PER_OBJECT=1: fine-tuning as the reference))
segment-osmn: $(STAMP) $(call sample_for,$(segment_data))
	@test -n "$(RUN)" -a "$(if $(VIDEO),1)" = "$(if $(MASK),1)" || { echo "usage: make segment-osmn RUN=<run dir> [VIDEO=<frames dir> MASK=<png>] | [RECORDS=<records>] | [DAVIS_DATA=<root>] [OUT=<dir>] [FINETUNE_STEPS=N]"; exit 2; }
	$(PY) -m segmenters --run $(RUN) $(segment_source) $(if $(SPLIT),--split $(SPLIT)) \
	  --device $(DEVICE) $(if $(FINETUNE_STEPS),--finetune-steps $(FINETUNE_STEPS)) \
	  $(if $(FINETUNE_SCALES),--finetune-scales) $(if $(FINETUNE_PER_OBJECT),--finetune-per-object) \
	  --out $(call cli_out,$(OUT)/segment/$(notdir $(patsubst %/,%,$(RUN)))) $(SEGMENT_ARGS)

# make pack-osmn PACK=davis2017-test-dev|ytvos2018|ytvos2019|mose RESULTS=<segmenter OUT>: the zip the
# challenge server takes, checked against the split's every required frame (segmenters/submission.py;
# an incomplete one is submission-incomplete.zip with submission-problems.txt, and exit 1). The
# dataset root: DAVIS_DATA (test-dev), YTVOS_DATA (2018; 2019: DATA/youtube-vos-2019 unless
# YTVOS_DATA is given), MOSE_DATA.
PACK ?=
pack_data = $(if $(filter davis%,$(PACK)),$(DAVIS_DATA),$(if $(filter mose,$(PACK)),$(MOSE_DATA),$(if $(filter ytvos2019,$(PACK)),$(if $(call on_command_line,YTVOS_DATA),$(YTVOS_DATA),$(DATA)/youtube-vos-2019),$(YTVOS_DATA))))
$(call declare,pack-osmn,PACK RESULTS DAVIS_DATA YTVOS_DATA MOSE_DATA DATA,the submission zip of a results folder for PACK=davis2017-test-dev|ytvos2018|ytvos2019|mose$(comma) checked for completeness)
pack-osmn: $(STAMP)
	@test -n "$(PACK)" -a -n "$(RESULTS)" || { echo "usage: make pack-osmn PACK=davis2017-test-dev|ytvos2018|ytvos2019|mose RESULTS=<segmenter OUT> [DAVIS_DATA=|YTVOS_DATA=|MOSE_DATA=<root>]"; exit 2; }
	$(PY) -m segmenters.submission --pack $(PACK) --results $(RESULTS) --data $(pack_data)

CKPT ?=
$(call declare,import-osmn,CKPT RUN_DIR STAGE,a released OSMN checkpoint (CKPT=<prefix or folder>) as a run directory RUN_DIR the segmenter uses (STAGE: its config$(comma) default davis))
import-osmn: $(STAMP)
	@test -n "$(CKPT)" -a -n "$(RUN_DIR)" || { echo "usage: make import-osmn CKPT=<osmn.ckpt-N or folder> RUN_DIR=<run dir> [STAGE=davis|coco|ytvos]"; exit 2; }
	$(PY) -m trainers.osmn.import_reference $(CKPT) $(RUN_DIR) $(if $(call on_command_line,STAGE),--stage $(STAGE))

# make eval-osmn RESULTS=<folder> GT=<folder of <seq>/<frame>.png>: J&F as vos-benchmark (no
# ImageSets); with META=<meta.json> and HOLDOUT=<holdout.json> (or UNSEEN=cat,cat): seen / unseen
# scores and G, YouTube-VOS protocol (evaluation/vos.py)
GT ?=
META ?=
HOLDOUT ?=
UNSEEN ?=
osmn_eval_source = $(if $(GT),-m evaluation.vos --gt $(GT) $(if $(META),--meta $(META)) $(if $(HOLDOUT),--holdout $(HOLDOUT)) $(if $(UNSEEN),--unseen $(UNSEEN)),-m evaluation.davis --davis $(DAVIS_DATA) --year $(DAVIS_YEAR) --split $(or $(SPLIT),val))
$(call declare,eval-osmn,RESULTS GT META HOLDOUT UNSEEN DAVIS_DATA DATA DAVIS_YEAR SPLIT OUT EVAL_ARGS $(SAMPLE_VARIABLES),J&F of a results folder against DAVIS_DATA (DAVIS CSVs) or GT=<folder> (vos-benchmark; META+HOLDOUT: seen/unseen G))
eval-osmn: $(STAMP) $(if $(GT),,$(call sample_for,$(DAVIS_DATA)))
	@test -n "$(RESULTS)" || { echo "usage: make eval-osmn RESULTS=<results folder> [DAVIS_DATA=<DAVIS root> DAVIS_YEAR=2016|2017 [SPLIT=val] | GT=<folder of <seq>/<frame>.png> [META=<meta.json> HOLDOUT=<holdout.json>|UNSEEN=cat,cat]] [OUT=<dir>] [EVAL_ARGS=--resize]"; exit 2; }
	$(PY) $(osmn_eval_source) --results $(RESULTS) \
	  --out $(call cli_out,$(patsubst %/,%,$(RESULTS))/evaluation) $(EVAL_ARGS)

DEMO_OUT = $(OUT)/demo
DEMO_RECORDS = $(addprefix $(DEMO_OUT)/,vid got10k lasot coco davis2017 ytvos2018 ytvos2019 mose)
$(call declare,demo,OUT DEVICE $(SAMPLE_VARIABLES),build the sample datasets and run everything on them (results in OUT/demo))
demo: sample-data
	$(PY) -m pipelines vid --data $(SAMPLE)/ILSVRC2015 --out $(DEMO_OUT) --overwrite
	$(PY) -m pipelines coco --data $(SAMPLE)/coco --out $(DEMO_OUT) --overwrite
	$(PY) -m pipelines davis --data $(SAMPLE)/DAVIS --out $(DEMO_OUT) --overwrite
	$(PY) -m pipelines ytvos --data $(SAMPLE)/youtube-vos --out $(DEMO_OUT) --overwrite
	$(PY) -m pipelines got10k --data $(SAMPLE)/GOT-10k --out $(DEMO_OUT) --overwrite
	$(PY) -m pipelines lasot --data $(SAMPLE)/LaSOT --out $(DEMO_OUT) --overwrite
	$(PY) -m pipelines ytvos --year 2019 --data $(SAMPLE)/youtube-vos-2019 --out $(DEMO_OUT) --overwrite \
	  --holdout 3 --holdout-unseen 1
	$(PY) -m pipelines mose --data $(SAMPLE)/MOSE --out $(DEMO_OUT) --overwrite
	$(PY) -m schemas inspect $(DEMO_RECORDS)
	$(PY) -m schemas verify $(DEMO_RECORDS)
	mkdir -p $(DEMO_OUT)/sheets
	$(PY) -m schemas show $(DEMO_OUT)/vid --out $(DEMO_OUT)/sheets/vid.png
	$(PY) -m schemas show $(DEMO_OUT)/coco --out $(DEMO_OUT)/sheets/coco.png
	$(PY) -m schemas show $(DEMO_OUT)/davis2017 --out $(DEMO_OUT)/sheets/davis2017.png
	$(PY) -m schemas show $(DEMO_OUT)/ytvos2018 --out $(DEMO_OUT)/sheets/ytvos2018.png
	$(PY) -m trainers.sasiam.show_pairs $(DEMO_OUT)/vid --out $(DEMO_OUT)/sheets/vid-pairs.png
	rm -rf $(DEMO_OUT)/runs/sasiam-appearance
	$(PY) -m trainers.sasiam --records $(DEMO_OUT)/vid,$(DEMO_OUT)/got10k,$(DEMO_OUT)/lasot \
	  --branch appearance --device $(DEVICE) --run-dir $(DEMO_OUT)/runs/sasiam-appearance --steps 60 \
	  --set 'input.source_weights=[2,1,1]' \
	  --set model.width=0.25 --set train.validate_every=30 --set train.validation_batches=4
	rm -rf $(DEMO_OUT)/tracking
	$(PY) -m trackers eval --run $(DEMO_OUT)/runs/sasiam-appearance --vid $(SAMPLE)/ILSVRC2015 \
	  --device $(DEVICE) --out $(DEMO_OUT)/tracking --strips
	$(PY) -m trackers track --run $(DEMO_OUT)/runs/sasiam-appearance --vid $(SAMPLE)/ILSVRC2015 \
	  --seq ILSVRC2015_val_00000000.0 --device $(DEVICE) --out $(DEMO_OUT)/tracking/track
	rm -rf $(DEMO_OUT)/tracking-vot2018
	$(PY) -m trackers eval --run $(DEMO_OUT)/runs/sasiam-appearance --vot $(SAMPLE)/benchmarks/vot2018 \
	  --device $(DEVICE) --out $(DEMO_OUT)/tracking-vot2018
	rm -rf $(DEMO_OUT)/tracking-got10k
	$(PY) -m trackers eval --run $(DEMO_OUT)/runs/sasiam-appearance --got10k $(SAMPLE)/GOT-10k \
	  --split val --device $(DEVICE) --out $(DEMO_OUT)/tracking-got10k
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
	rm -rf $(DEMO_OUT)/runs/osmn-ytvos2019 $(DEMO_OUT)/ytvos2019-holdout-gt
	$(PY) -m trainers.osmn --stage ytvos --records $(DEMO_OUT)/ytvos2019 --device $(DEVICE) \
	  --run-dir $(DEMO_OUT)/runs/osmn-ytvos2019 --steps 20 --init-from $(DEMO_OUT)/runs/osmn-coco \
	  --set model.width=0.125 --set input.input_scale=0.25 --set input.batch_size=4 \
	  --set train.lr=0.001 --set input.validation_split=holdout --set train.validate_every=10 \
	  --set train.validation_batches=2 --set train.log_every=5
	$(PY) -m segmenters --run $(DEMO_OUT)/runs/osmn-ytvos2019 --records $(DEMO_OUT)/ytvos2019 \
	  --split holdout --device $(DEVICE) --out $(DEMO_OUT)/segment/ytvos2019-holdout
	$(PY) -m schemas export $(DEMO_OUT)/ytvos2019 --split holdout --masks-only \
	  --out $(DEMO_OUT)/ytvos2019-holdout-gt
	$(PY) -m evaluation.vos --gt $(DEMO_OUT)/ytvos2019-holdout-gt \
	  --results $(DEMO_OUT)/segment/ytvos2019-holdout/Annotations \
	  --meta $(SAMPLE)/youtube-vos-2019/train/meta.json --holdout $(DEMO_OUT)/ytvos2019/holdout.json \
	  --out $(DEMO_OUT)/segment/ytvos2019-holdout-eval
	@echo
	@echo "demo: sample datasets in $(SAMPLE); records in $(DEMO_OUT)/{vid,got10k,lasot,coco,davis2017,ytvos2018,ytvos2019,mose} (each with dataset_info.json);"
	@echo "demo: ytvos2019 holds a seeded hold-out split (holdout.json: 3 train videos$(comma) one category unseen)."
	@echo "demo: contact sheets of the records in $(DEMO_OUT)/sheets/{vid,vid-pairs,coco,davis2017,ytvos2018}.png (python -m schemas show);"
	@echo "demo: each records folder has a dataset card, README.md; docs/records-tools.md explains inspect, verify, show and export."
	@echo "demo: short trainings in $(DEMO_OUT)/runs/: SA-Siam appearance (quarter width$(comma) on VID + GOT-10k + LaSOT$(comma) weights 2:1:1) and OSMN COCO stage"
	@echo "demo: (eighth width, random init: no ImageNet weights offline); see summary.json and train_log.jsonl."
	@echo "demo: OSMN (COCO stage) segments the sample DAVIS val split: $(DEMO_OUT)/segment/davis2017-val,"
	@echo "demo: its J&F, CSVs and overlay strips in $(DEMO_OUT)/segment/davis2017-val-eval."
	@echo "demo: OSMN fine-tuned on YouTube-VOS 2019 ($(DEMO_OUT)/runs/osmn-ytvos2019) segments the hold-out split;"
	@echo "demo: its seen / unseen J$(comma) F and G: $(DEMO_OUT)/segment/ytvos2019-holdout-eval (evaluation.vos)."
	@echo "demo: SA-Siam tracks the sample VID val tracks: $(DEMO_OUT)/tracking/{results,reports,strips}"
	@echo "demo: (success / precision plots and performance.json against the static-first-box baseline)."
	@echo "demo: and one of them with make track-sasiam's command: $(DEMO_OUT)/tracking/track (boxes, strip PNG)"
	@echo "demo: and the sample VOT2018 tree (rotated boxes) by the VOT reset protocol: $(DEMO_OUT)/tracking-vot2018/reports/vot.json (A, R, EAO)"
	@echo "demo: the same run scores GOT-10k val (AO$(comma) SR): $(DEMO_OUT)/tracking-got10k/reports"
	@echo "demo: record schemas: $(PY) -m schemas."

$(call declare,bench,,every benchmark (bench-vid bench-coco bench-vos bench-sasiam bench-osmn bench-parallel bench-track bench-segment))
bench: bench-vid bench-coco bench-vos bench-sasiam bench-osmn bench-parallel bench-track bench-segment

$(call declare,bench-vid,,VID pipeline throughput)
bench-vid: $(STAMP)
	$(PY) -m bench.vid_bench

$(call declare,bench-coco,,COCO pipeline throughput)
bench-coco: $(STAMP)
	$(PY) -m bench.convert_bench coco

$(call declare,bench-vos,,DAVIS pipeline throughput)
bench-vos: $(STAMP)
	$(PY) -m bench.convert_bench davis

$(call declare,bench-sasiam,,SA-Siam input pipeline and CPU training speed)
bench-sasiam: $(STAMP)
	$(PY) -m bench.sasiam_bench

$(call declare,bench-osmn,,OSMN input pipeline and CPU training speed)
bench-osmn: $(STAMP)
	$(PY) -m bench.osmn_bench

$(call declare,bench-track,,SA-Siam tracking speed)
bench-track: $(STAMP)
	$(PY) -m bench.track_bench

# OSMN inference at 854x480, full width, on the CPU: frames/s, host work vs network
$(call declare,bench-segment,,OSMN inference speed at 854x480 on the CPU)
bench-segment: $(STAMP)
	$(PY) -m bench.segment_bench

# data-parallel: 1 vs 2 local processes, all-reduce time at full model size
$(call declare,bench-parallel,,data-parallel training: 1 vs 2 local processes)
bench-parallel: $(STAMP)
	$(PY) -m bench.parallel_bench

# ---- Command-line variables against the declarations above (environment variables and make's
# own are not checked). An undeclared variable, e.g. the typo COCO_DAT=..., stops make with a
# suggestion; a declared one that none of the requested targets reads stops make naming the
# targets that do (goals that are files, e.g. a sample's dataset_info.json, are not checked).
.PHONY: $(TARGETS)
KNOWN_VARIABLES := $(sort $(GLOBAL_VARIABLES) $(foreach t,$(TARGETS),$(VARS_$(t))))
command_line_variables := $(strip $(foreach v,$(.VARIABLES),$(if $(call on_command_line,$(v)),$(v))))
unknown_variables := $(filter-out $(KNOWN_VARIABLES) $(foreach r,$(RENAMED),$(call old_name,$(r))),$(command_line_variables))
# the known variable sharing the longest prefix (5, 4 or 3 letters, case-insensitive) with $(1)
suggest_variable = $(firstword $(foreach n,5 4 3,$(filter $(shell printf '%s' '$(1)' | tr a-z A-Z | cut -c1-$(n))%,$(KNOWN_VARIABLES))))
ifneq ($(unknown_variables),)
bad_variable := $(firstword $(unknown_variables))
$(error unknown variable $(bad_variable)$(if $(call suggest_variable,$(bad_variable)), (did you mean $(call suggest_variable,$(bad_variable))?)); make help lists every target with the variables it reads)
endif
goals := $(or $(MAKECMDGOALS),$(.DEFAULT_GOAL))
current_name = $(or $(call new_name,$(filter $(1):%,$(RENAMED))),$(1))
readers_of = $(strip $(foreach t,$(TARGETS),$(if $(filter $(1),$(VARS_$(t))),$(t))))
read_by_goals := $(GLOBAL_VARIABLES) $(foreach g,$(goals),$(VARS_$(g)))
unread_variables := $(if $(filter-out $(TARGETS),$(goals)),,$(strip $(foreach v,$(command_line_variables),$(if \
  $(filter $(call current_name,$(v)),$(read_by_goals)),,$(v)))))
ifneq ($(unread_variables),)
unread := $(firstword $(unread_variables))
$(error $(unread) is not read by $(goals) (read by: $(call readers_of,$(call current_name,$(unread)))))
endif
$(foreach v,$(renamed_on_command_line),$(shell printf '%s\n' 'make: $(v) is deprecated: use $(call current_name,$(v))' >&2))
