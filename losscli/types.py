"""Shared type aliases of the model layer.

``Array`` is any array of a namespace that follows the Python array API standard (a numpy
array on the numpy backend, a torch tensor on the torch backend); ``Namespace`` is that
namespace (``array_api_compat.array_namespace(x)``).  Neither can be spelled more precisely
without importing torch, so both are ``Any`` under one name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Array = Any
Namespace = Any
Inputs = Mapping[str, Array]
Params = Mapping[str, Any]
Sources = Mapping[str, str]
