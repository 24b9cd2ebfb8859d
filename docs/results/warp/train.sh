#!/bin/bash
# Session 16: the shift canvas (model.warp=4, models/warp.py) fine-tuned from the
# history_freeze arm of session 15 (runs/fr-freeze2, EMA weights; the warp layer is new and
# starts at the zero shift), the same settings as its last phase (common.sh), seed 6, two
# threads, nothing beside it; code snapshot /tmp/snap (commit 163a7aa's model.warp).
source "$(dirname "$0")/common.sh"
run warp /tmp/snap runs/fr-freeze2 6 2 "${MINUTES:-45}" 3000
