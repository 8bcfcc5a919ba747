"""The ONNX models shipped with sonolux (``sonolux.models``): each ``NAME.onnx`` with its
contract sidecar ``NAME.json`` and the model cards. Found with :func:`importlib.resources.files`."""
