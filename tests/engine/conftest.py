"""Fixtures of every TensorRT test (tests/engine/); the fakes themselves are in tensorrt_testutils.py."""
import pytest


@pytest.fixture(autouse=True)
def no_engine_env(monkeypatch):
    """Tests choose engine caches and precisions explicitly; the caller's FACE_SSD_* settings must not leak in."""
    monkeypatch.delenv('FACE_SSD_ENGINE_CACHE', raising=False)
    monkeypatch.delenv('FACE_SSD_PRECISION', raising=False)
