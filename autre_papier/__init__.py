"""AP-BSN (Lee, Son & Lee, CVPR 2022) adapted to speckle: the study's "other paper".

The implementation is part of the package, :mod:`s2v.apbsn` (model, training, despeckling;
the shipped model in ``s2v_checkpoint/apbsn``). This folder keeps the paper's README, its
notebook (``Notebook.ipynb``), the measurement script (``python -m autre_papier.experiments``)
and its results. Nothing in ``s2v`` imports it.
"""
