"""The workspace root every MCP tool path is confined to."""

from __future__ import annotations

from pathlib import Path, PurePath

from backforge.errors import BackforgeError


class OutsideWorkspace(BackforgeError):
    """A path that is not inside the workspace root (or leaves it through `..` or a symlink)."""

    exit_code = 2


class Workspace:
    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise OutsideWorkspace(f"workspace root {self.root} is not a directory")

    def path(self, given: str, *, what: str = "path") -> Path:
        """The absolute path for `given` (relative to the root, or absolute inside it).

        Refuses `..` components outright and any path that, once symlinks are resolved, is not
        under the root: a symlink inside the workspace that points out of it is refused too.
        """
        if not given or not given.strip():
            raise OutsideWorkspace(f"{what} is empty")
        if "\x00" in given:
            raise OutsideWorkspace(f"{what} {given!r} contains a NUL byte")
        pure = PurePath(given)
        if ".." in pure.parts:
            raise OutsideWorkspace(
                f"{what} {given!r} contains `..`; give a path inside the workspace {self.root}"
            )
        candidate = pure if pure.is_absolute() else self.root / pure
        resolved = Path(candidate).resolve()
        if resolved != self.root and not resolved.is_relative_to(self.root):
            reason = (
                "is outside"
                if not Path(candidate).absolute().is_relative_to(self.root)
                else "leaves through a symlink"
            )
            raise OutsideWorkspace(
                f"{what} {given!r} {reason} the workspace {self.root}; only paths inside it "
                "are allowed"
            )
        return resolved

    def relative(self, path: Path) -> str:
        """`path` as the agent should write it: relative to the root."""
        try:
            return Path(path).resolve().relative_to(self.root).as_posix() or "."
        except ValueError:
            return str(path)
