#!/bin/bash
# Session 16, phase 3: the set-target arm (runs/warp-set, EMA weights) 35 more minutes on two
# threads, nothing beside it but editing: does the warp's gain keep rising?
source "$(dirname "$0")/common.sh"
run warp3 /tmp/snap2 runs/warp-set 8 2 "${MINUTES:-35}" 2200
