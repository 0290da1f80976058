"""Shipped Speckle2Void checkpoints, installed as package data.

One folder per model (``model.keras``, ``config.json``, ``MODEL_CARD.md``). This package
holds no code: find the folder with :func:`s2v._shared.checkpoint_root` and load a model
by name with :func:`s2v.load_model` (names from :func:`s2v.list_checkpoints`).
"""
