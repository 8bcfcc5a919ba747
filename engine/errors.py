"""Error types. Every error a user can cause is a SonoluxError with a message that names
the bad value and where it came from; the CLI prints it on one line without a traceback."""


class SonoluxError(Exception):
    """Base class for errors a user can fix (bad parameter, device, file, model, config)."""


class ParameterError(SonoluxError, ValueError):
    """A parameter value is out of range or of the wrong kind."""


class DeviceError(SonoluxError):
    """An audio device cannot be found or opened."""


class AudioFileError(SonoluxError):
    """An audio file cannot be read."""


class ConfigError(SonoluxError):
    """A configuration file (TOML, preset JSON, playlist) is malformed."""


class ModelError(SonoluxError):
    """An ONNX model is missing, corrupt, or does not match the engine's contract."""
