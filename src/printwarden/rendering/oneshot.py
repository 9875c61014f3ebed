"""The fallback: one ``soffice --headless --convert-to pdf`` in a fresh profile.

Used once after a warm worker crashed on a document or could not convert it: a fresh
LibreOffice, sandboxed like the workers, in a private directory that holds a copy of the
document (never the caller's file) and the new profile (``-env:UserInstallation=``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from printwarden.rendering import sandbox as sandboxes
from printwarden.rendering.formats import OfficeType
from printwarden.rendering.sandbox import Sandbox

log = logging.getLogger(__name__)


class OneShotFailed(Exception):
    """The one-shot conversion gave no PDF."""


class OneShotTimedOut(OneShotFailed):
    """... because it did not finish in time."""


async def convert_one_shot(
    sandbox: Sandbox, data: bytes, office: OfficeType, timeout: float
) -> bytes:
    """The PDF of ``data`` from a one-shot LibreOffice; raises :class:`OneShotFailed`."""
    home = await asyncio.to_thread(sandbox.private_dir, "oneshot-")
    try:
        source, out = await asyncio.to_thread(_stage, sandbox, home, data, office)
        command = sandbox.command(
            home,
            "exec",
            "--",
            sandbox.settings.soffice,
            "--headless",
            "--invisible",
            "--nocrashreport",
            "--nodefault",
            "--nologo",
            "--nofirststartwizard",
            "--nolockcheck",
            "--norestore",
            f"-env:UserInstallation={(home / 'profile').as_uri()}",
            f"--infilter={office.import_filter}",
            "--convert-to",
            "pdf",
            "--outdir",
            str(out),
            str(source),
        )
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            cwd="/",
        )
        try:
            async with asyncio.timeout(timeout):
                output, _ = await process.communicate()
        except TimeoutError:
            raise OneShotTimedOut(f"soffice --convert-to took longer than {timeout:g} s") from None
        finally:
            sandboxes.kill_group(process.pid)  # soffice may leave children behind
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    await process.wait()
        log.debug("one-shot soffice: %s", output.decode(errors="replace").strip())
        pdf = out / (source.stem + ".pdf")
        try:
            result = await asyncio.to_thread(pdf.read_bytes)
        except OSError:
            raise OneShotFailed(
                f"soffice --convert-to gave no PDF (exit status {process.returncode})"
            ) from None
        if not result.startswith(b"%PDF-"):
            raise OneShotFailed("soffice --convert-to did not write a PDF")
        return result
    finally:
        await asyncio.to_thread(sandboxes.remove_tree, home)


def _stage(sandbox: Sandbox, home: Path, data: bytes, office: OfficeType) -> tuple[Path, Path]:
    """A copy of the document, and the output directory, both the sandbox user's."""
    inbox = home / "in"
    out = home / "out"
    for directory in (inbox, out):
        directory.mkdir(mode=0o700)
        sandbox.give(directory)
    source = inbox / f"document.{office.name}"
    source.write_bytes(data)
    source.chmod(0o600)
    sandbox.give(source)
    return source, out
