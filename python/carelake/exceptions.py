"""The carelake exception tree.

Every error carelake raises is a :class:`CarelakeError`. The subclasses say who must act:

* :class:`SchemaError`: an input table lacks a column or has one of the wrong type (the message names the table
  and column);
* :class:`ConfigError`: the configuration or an argument is invalid;
* :class:`InputError`: an input is missing or unusable;
* :class:`ConflictError`: a write conflicted with another writer;
* :class:`StorageError`: reading or writing storage failed (the Rust cause is chained as ``__cause__``);
* :class:`InternalError`: a bug in carelake (a Rust panic never crosses into Python; it becomes this).

Messages never contain values from patient records.
"""

from carelake._native import (
    CarelakeError,
    ConfigError,
    ConflictError,
    InputError,
    InternalError,
    SchemaError,
    StorageError,
)

__all__ = [
    "CarelakeError",
    "ConfigError",
    "ConflictError",
    "InputError",
    "InternalError",
    "SchemaError",
    "StorageError",
]
