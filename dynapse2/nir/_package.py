"""The lazy import of the optional ``nir`` package (``pip install "dynapse2[nir]"``)."""

from types import ModuleType


def nir_package() -> ModuleType:
    """The ``nir`` module, imported on first use; an ``ImportError`` that says how to get it."""
    try:
        import nir  # noqa: PLC0415
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError('dynapse2.nir needs the nir package: pip install "dynapse2[nir]"') from e
    return nir
