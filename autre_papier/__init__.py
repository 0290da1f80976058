"""AP-BSN (Lee, Son & Lee, CVPR 2022) adapted to speckle: the study's "other paper".

The implementation lives in :mod:`autre_papier.apbsn` (imported lazily here so
that ``import autre_papier`` does not load TensorFlow).
"""

__all__ = ["apbsn"]
