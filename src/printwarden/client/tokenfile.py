"""Where the client keeps its server URL and token: ``client.json`` in the per-user
configuration directory, readable by its owner only (created 0600, never loosened)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

CONFIG_DIR_ENV = "PRINTWARDEN_CLIENT_CONFIG_DIR"
FILE_NAME = "client.json"


@dataclass(frozen=True, slots=True)
class Saved:
    """A logged-in client: the server's URL, the user and the client token."""

    server: str
    username: str
    token: str


def config_dir(
    env: Mapping[str, str] | None = None, platform: str = sys.platform, home: Path | None = None
) -> Path:
    """The directory of ``client.json``: ``$PRINTWARDEN_CLIENT_CONFIG_DIR``, else
    ``%APPDATA%\\printwarden`` (Windows), ``~/Library/Application Support/printwarden``
    (macOS) or ``$XDG_CONFIG_HOME/printwarden`` (``~/.config/printwarden``)."""
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    if env.get(CONFIG_DIR_ENV):
        return Path(env[CONFIG_DIR_ENV])
    if platform == "win32":
        appdata = env.get("APPDATA")
        return (Path(appdata) if appdata else home / "AppData" / "Roaming") / "printwarden"
    if platform == "darwin":
        return home / "Library" / "Application Support" / "printwarden"
    xdg = env.get("XDG_CONFIG_HOME")
    return (Path(xdg) if xdg else home / ".config") / "printwarden"


def token_path(directory: Path) -> Path:
    """The token file in ``directory``."""
    return directory / FILE_NAME


def save(saved: Saved, directory: Path) -> Path:
    """Write ``saved`` (replacing the old file at once); returns the file's path.

    The file is created with mode 0600 by ``open`` itself, never readable by others even for
    a moment; its directory, when created, is 0700."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    final = token_path(directory)
    temporary = directory / f".{FILE_NAME}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(temporary, flags, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(asdict(saved), handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    return final


def load(directory: Path) -> Saved | None:
    """The saved login, or None when there is none (or the file is not one)."""
    try:
        data = json.loads(token_path(directory).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    server, username, token = (data.get(name) for name in ("server", "username", "token"))
    if not (isinstance(server, str) and server and isinstance(token, str) and token):
        return None
    return Saved(server, username if isinstance(username, str) else "", token)


def delete(directory: Path) -> bool:
    """Remove the token file; whether there was one."""
    try:
        token_path(directory).unlink()
    except FileNotFoundError:
        return False
    return True
