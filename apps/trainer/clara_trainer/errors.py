"""Exit codes and the errors that map to them (the one place both are defined)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of the trainer; the worker maps them to failure reasons."""

    SUCCESS = 0
    INTERNAL = 1  # unexpected error (a bug, or something we did not foresee)
    INVALID_CONFIG = 2  # job.json is missing, unreadable or invalid
    DATA_ERROR = 3  # a training/validation file is missing, empty or malformed
    OUT_OF_MEMORY = 4  # the GPU (or host) ran out of memory
    CANCELLED = 5  # SIGTERM/SIGINT: a checkpoint was saved (if training had started)
    ENVIRONMENT = 6  # missing GPU/bitsandbytes for QLoRA, base model not found/loadable, ...


class ErrorCode:
    """Values of the ``code`` field of ``error`` events."""

    INVALID_CONFIG = "invalid_config"
    DATA_ERROR = "data_error"
    OUT_OF_MEMORY = "out_of_memory"
    ENVIRONMENT = "environment"
    CANCELLED = "cancelled"
    INTERNAL = "internal"


class TrainerError(Exception):
    """An expected failure: carries the event code, the exit code and optional details."""

    code: str = ErrorCode.INTERNAL
    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, *, field: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.line = line


class ConfigError(TrainerError):
    code = ErrorCode.INVALID_CONFIG
    exit_code = ExitCode.INVALID_CONFIG


class DataError(TrainerError):
    code = ErrorCode.DATA_ERROR
    exit_code = ExitCode.DATA_ERROR


class OutOfMemory(TrainerError):
    code = ErrorCode.OUT_OF_MEMORY
    exit_code = ExitCode.OUT_OF_MEMORY


class EnvironmentProblem(TrainerError):
    code = ErrorCode.ENVIRONMENT
    exit_code = ExitCode.ENVIRONMENT


class Cancelled(TrainerError):
    code = ErrorCode.CANCELLED
    exit_code = ExitCode.CANCELLED
