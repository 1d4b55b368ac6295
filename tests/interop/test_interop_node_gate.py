"""The TypeScript SDK test's gate: without node/npm it skips with the reason, except
under ``CI=true`` where it fails (CI must never lose the check silently)."""

from __future__ import annotations

import pytest
from interophelpers import node_tools, require_node


def _no_node(monkeypatch: pytest.MonkeyPatch, ci: str | None) -> None:
    monkeypatch.setattr("interophelpers.shutil.which", lambda name: None)
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)


@pytest.mark.parametrize("ci", [None, "false", ""])
def test_skips_without_node_outside_ci(monkeypatch: pytest.MonkeyPatch, ci: str | None) -> None:
    _no_node(monkeypatch, ci)
    assert node_tools() is None
    with pytest.raises(pytest.skip.Exception, match="node and npm are not installed"):
        require_node()


@pytest.mark.parametrize("ci", ["true", "TRUE"])
def test_fails_without_node_under_ci(monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    _no_node(monkeypatch, ci)
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require_node()


def test_needs_both_node_and_npm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "interophelpers.shutil.which", lambda name: "/usr/bin/node" if name == "node" else None
    )
    monkeypatch.delenv("CI", raising=False)
    assert node_tools() is None
    with pytest.raises(pytest.skip.Exception):
        require_node()
    monkeypatch.setattr("interophelpers.shutil.which", lambda name: f"/opt/bin/{name}")
    assert require_node() == ("/opt/bin/node", "/opt/bin/npm")
