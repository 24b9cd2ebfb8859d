#!/bin/bash
# Session 16, phase 2: two arms side by side from the phase-1 run (runs/warp, EMA weights),
# one thread each, 30 minutes, the same settings and seed: the shift target of phase 1 (the
# single best shift: losses.py and models/warp.py of commit 163a7aa, snapshot /tmp/snap, with
# the diagnostics of the next commit) against the set of shifts as good as it
# (acceptable_shifts, commit after it, snapshot /tmp/snap2).
source "$(dirname "$0")/common.sh"
run warp-argmin /tmp/snap runs/warp 7 1 "${MINUTES:-30}" 2000 &
run warp-set /tmp/snap2 runs/warp 7 1 "${MINUTES:-30}" 2000 &
wait
