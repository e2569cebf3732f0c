"""Fixtures for the runtime-core unit tests: the grid test models of tests/grid_model.py."""
import pytest

from grid_model import build_grid_onnx, grid_boxes, make_manifest


@pytest.fixture
def manifest_dict():
    """Factory: ``manifest_dict(**kwargs)`` -> a fresh valid manifest dict (see :func:`make_manifest`)."""
    return make_manifest


@pytest.fixture
def onnx_builder():
    """Factory: ``onnx_builder(path, **kwargs)`` writes a grid ONNX model (see :func:`build_grid_onnx`)."""
    return build_grid_onnx


@pytest.fixture
def grid_model(tmp_path):
    """Path of a 32x24 grid model (cells of 8 px -> 12 priors, labels background/face) with sidecar + metadata."""
    path = tmp_path / 'grid.onnx'
    build_grid_onnx(path)
    return str(path)


@pytest.fixture
def grid_boxes_fn():
    return grid_boxes
