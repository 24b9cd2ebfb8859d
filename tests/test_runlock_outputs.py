"""The run-folder lock (canvasmar.runlock) and the output guard (canvasmar.outputs)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from canvasmar.errors import UserError
from canvasmar.outputs import claim_outputs
from canvasmar.runlock import LOCK, RunLock

HOLD = """
import sys, time
from canvasmar.runlock import RunLock
with RunLock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_second_run_is_refused_with_the_first_ones_pid(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(UserError, match=f"process {holder.pid}"):
            RunLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait()
    # SIGKILL left the lock file with the dead PID: the next run takes it over.
    assert (tmp_path / LOCK).read_text().split()[0] == str(holder.pid)
    with RunLock(tmp_path) as lock:
        assert lock.previous_pid == holder.pid
        assert (tmp_path / LOCK).read_text().split()[0] == str(os.getpid())
    with RunLock(tmp_path) as lock:  # a clean release leaves no previous owner
        assert lock.previous_pid is None


def test_the_lock_is_free_again_after_the_block(tmp_path):
    with RunLock(tmp_path):
        pass
    start = time.perf_counter()
    with RunLock(tmp_path):
        assert time.perf_counter() - start < 1


def test_claim_outputs(tmp_path):
    video = tmp_path / "in.mp4"
    video.write_bytes(b"user's video")
    out = tmp_path / "out.mp4"
    assert claim_outputs([out], force=False, inputs=[video]) == [out]
    out.write_bytes(b"earlier result")
    with pytest.raises(UserError, match="already exists; pass --force"):
        claim_outputs([out], force=False)
    claim_outputs([out], force=True)
    for same in (video, tmp_path / "sub" / ".." / "in.mp4"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        with pytest.raises(UserError, match="also an input"):
            claim_outputs([same], force=True, inputs=[video])
    link = tmp_path / "link.mp4"
    link.symlink_to(video)
    with pytest.raises(UserError, match="also an input"):
        claim_outputs([link], force=True, inputs=[video])
    with pytest.raises(UserError, match="is a folder"):
        claim_outputs([tmp_path / "sub"], force=True)
    assert video.read_bytes() == b"user's video"
