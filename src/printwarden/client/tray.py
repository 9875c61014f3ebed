"""An optional tray icon (``pystray``, when it is installed and the desktop shows tray
icons). Nothing here may stop the client: without a tray the window stays the way in."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

ICON_SIZE = 64
ICON_COLOUR = (40, 110, 180)


def tray_possible(env: dict[str, str] | None = None, platform: str = sys.platform) -> bool:
    """Whether to try a tray icon: on Windows, or on X11 (GNOME on Wayland shows none)."""
    env = dict(os.environ) if env is None else env
    if platform == "win32":
        return True
    return platform.startswith("linux") and bool(env.get("DISPLAY"))


def start_tray(on_show: Callable[[], None], on_quit: Callable[[], None]) -> Any | None:
    """A running tray icon with "Show" and "Quit" (their callbacks run in the icon's own
    thread), or None when there can be none."""
    if not tray_possible():
        return None
    try:
        pystray = importlib.import_module("pystray")
        image = importlib.import_module("PIL.Image")
        picture = image.new("RGB", (ICON_SIZE, ICON_SIZE), ICON_COLOUR)
        menu = pystray.Menu(
            pystray.MenuItem("Show", lambda *_: on_show(), default=True),
            pystray.MenuItem("Quit", lambda *_: on_quit()),
        )
        icon = pystray.Icon("printwarden", picture, "printwarden", menu)
        icon.run_detached()
    except Exception:  # any failure (no module, no tray, no D-Bus) means no tray
        return None
    return icon


def stop_tray(icon: Any | None) -> None:
    """Remove the tray icon, if there is one."""
    if icon is None:
        return
    try:
        icon.stop()
    except Exception:  # stopping it must never stop the client
        return
