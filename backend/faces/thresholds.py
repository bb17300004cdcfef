"""Default match threshold for face_pipeline templates, and how it was derived.

A score is the cosine similarity of two unit-normalised templates (their dot product); a match is
score >= threshold. A threshold only means something for the model that produced the templates, so
it is stored with that model version (watchlists may override it within the bounds below).

DEFAULT_MATCH_THRESHOLD was measured with `inference/calibrate.py` against the real face_pipeline
(RetinaFace box -> dlib 5-point chip -> dlib ResNet v1, quality gate on), model version
DEFAULT_THRESHOLD_MODEL_VERSION, on the labelled, non-derived colour portraits of the shared
datasets (every dataset but ORL; deepface:angelina = facenet_pytorch:angelina_jolie merged):
195 photos of 44 people, 194 enrolled (stuart5.png, a profile, failed the quality gate),
527 genuine and 18,194 impostor pairs.

    threshold  genuine accepted  impostor accepted
      0.900        100.00%            0.90%
      0.910        100.00%            0.26%
      0.920         99.43%            0.09%   <- default
      0.930         98.10%            0.02%
      0.940         93.93%            0.00%
    equal error rate 0.18% at 0.912

Rule: the lowest 0.005 step at which at most 0.1% of impostor pairs are accepted. A watchlist search
compares every passing face with many templates, so the per-comparison false-accept rate has to sit
an order of magnitude below the 1% an officer could tolerate per face; an officer reviews every
alert, and genuine acceptance stays above 99% there.

ORL (92x112 greyscale crops) is harder and is not part of the default: there 0.920 accepts 99.89%
of genuine and 0.72% of impostor pairs; 0.935 is its FAR<=0.1% point. Cameras that deliver small
greyscale faces (night IR) deserve a higher, separately measured threshold.

Re-measured when the embedder moved from dlib's own runtime to the ONNX conversion of the same
network (inference/convert_dlib.py; the model version said embedder=dlib-resnet-v1@55533b28a958
before): every figure calibrate.py prints, colour and ORL, came out identical to the digits shown, as
the parity test predicts (raw descriptors within 5e-7 of dlib's), so the default stayed 0.92 and only
the model version changed.

The default is a per-comparison rule on portraits. What it means for a list searched by live
cameras is measured by `manage.py evaluate` (backend/evaluation, `make evaluate`): on the datasets'
street-video strangers, a 33-person list at 0.92 matched 4.5% [3.1%, 6.4%] of searched faces, 71% of
them against one listed person enrolled from a poor photo; a watchlist's own threshold can be
calibrated from such a report for a target false-positive identification rate and the list's size
(`Watchlist.threshold_calibration` says which report set it).

For scale: dlib's published rule is a raw Euclidean distance of 0.6 between un-normalised
descriptors (norm about 1.3-1.6); on unit vectors that corresponds to a cosine near 0.9, which is
where our figures put the 1% false-accept point, so 0.6 must never be used as a cosine threshold.
"""

from __future__ import annotations

DEFAULT_MATCH_THRESHOLD = 0.92
# The calibration's model version prefix (content hashes are in the full string the server returns).
DEFAULT_THRESHOLD_MODEL_VERSION = "detector=retinaface-mnet0.25-onnx@b7a7acab55e1;aligner=dlib-sp5-chip150-pad0.25@c4b1e9804792;embedder=dlib-resnet-v1-onnx@463ac5f30144;norm=l2"
# Bounds a configured per-watchlist threshold must stay within: below 0.88 about 5% of impostor
# pairs match; above 0.97 about half of genuine pairs are missed.
MIN_MATCH_THRESHOLD = 0.88
MAX_MATCH_THRESHOLD = 0.97
