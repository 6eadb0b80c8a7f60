"""Each package's ``__all__`` names exactly what it exports, and every name resolves
(modelled on httpx's tests/test_exported_members.py)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PACKAGES = ["ledger", "consensus", "node", "client", "views"]


@pytest.mark.parametrize("package", PACKAGES)
def test_all_names_resolve_and_are_unique(package):
    module = importlib.import_module(package)
    names = module.__all__
    assert len(names) == len(set(names)), f"{package}.__all__ repeats a name"
    for name in names:
        assert getattr(module, name) is not None, name


@pytest.mark.parametrize("package", ["ledger", "consensus", "views"])
def test_eager_packages_export_every_public_name_they_import(package):
    module = importlib.import_module(package)
    public = {n for n in vars(module) if not n.startswith("_") and not isinstance(getattr(module, n), type(sys))}
    assert public == set(module.__all__)


@pytest.mark.parametrize("package", ["node", "client"])
def test_lazy_packages_export_what_their_modules_define(package):
    module = importlib.import_module(package)
    for name in module.__all__:
        value = getattr(module, name)
        owner = importlib.import_module(value.__module__)
        assert name in owner.__all__, f"{package}.{name} is not in {value.__module__}.__all__"
    with pytest.raises(AttributeError):
        getattr(module, "no_such_name")


def test_offline_verifier_loads_no_network_or_storage_stack():
    """An auditor's ``import client.verify`` pulls in ledger and pynacl only: no HTTP, no LevelDB, no CLI."""
    code = "import sys, client.verify; print(' '.join(sorted(sys.modules)))"
    loaded = set(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                text=True).stdout.split())
    assert "nacl" in loaded and "ledger" in loaded
    for heavy in ("httpx", "fastapi", "plyvel", "click", "uvicorn", "node", "consensus"):
        assert heavy not in loaded, heavy
