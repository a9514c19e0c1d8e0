"""Build the Teams app package (the zip an admin uploads): manifest with placeholders filled, icons.

Usage: MicrosoftAppId=<GUID> python manifest/teams/package.py [--out build/teams/supportbot-teams.zip]

Placeholders and where their values come from:
  <<MICROSOFT_APP_ID>>  MicrosoftAppId (required; the Azure bot registration's app id, a GUID)
  <<WEBSITE_URL>>       TEAMS_WEBSITE_URL (default https://www.oo.dk)
  <<PRIVACY_URL>>       TEAMS_PRIVACY_URL (default: the website)
  <<TERMS_URL>>         TEAMS_TERMS_URL   (default: the website)
TEAMS_APP_VERSION overrides the manifest's version (raise it for every upload of a changed package).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path

from icons import draw_color, draw_outline

HERE = Path(__file__).parent
DEFAULT_OUT = Path("build/teams/supportbot-teams.zip")
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
VERSION = re.compile(r"^\d+\.\d+\.\d+$")
PLACEHOLDER = re.compile(r"<<[A-Z_]+>>")
# A fixed timestamp keeps the zip byte-for-byte the same for the same input.
ZIP_TIME = (2026, 1, 1, 0, 0, 0)


class PackageError(Exception):
    """The package cannot be built; the message says which variable to set."""


def filled_manifest(template: str, environ: Mapping[str, str]) -> dict[str, object]:
    """The manifest with every placeholder replaced, checked for leftovers."""
    app_id = environ.get("MicrosoftAppId", "").strip()
    if not GUID.match(app_id):
        raise PackageError("set MicrosoftAppId to the bot registration's app id (a GUID like 00000000-0000-...)")
    website = environ.get("TEAMS_WEBSITE_URL", "https://www.oo.dk").strip()
    values = {
        "<<MICROSOFT_APP_ID>>": app_id,
        "<<WEBSITE_URL>>": website,
        "<<PRIVACY_URL>>": environ.get("TEAMS_PRIVACY_URL", "").strip() or website,
        "<<TERMS_URL>>": environ.get("TEAMS_TERMS_URL", "").strip() or website,
    }
    for name, value in values.items():
        if not value.startswith("https://") and name != "<<MICROSOFT_APP_ID>>":
            raise PackageError(f"the URL for {name} must start with https://, not {value!r}")
        template = template.replace(name, value)
    left = sorted(set(PLACEHOLDER.findall(template)))
    if left:
        raise PackageError(f"manifest.json has placeholders nobody fills: {', '.join(left)}")
    manifest = json.loads(template)
    version = environ.get("TEAMS_APP_VERSION", "").strip()
    if version:
        if not VERSION.match(version):
            raise PackageError(f"TEAMS_APP_VERSION must look like 1.2.3, not {version!r}")
        manifest["version"] = version
    return manifest


def build_package(out: Path, environ: Mapping[str, str]) -> Path:
    manifest = filled_manifest((HERE / "manifest.json").read_text(encoding="utf-8"), environ)
    files = {
        "manifest.json": json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8"),
        "color.png": _png(draw_color()),
        "outline.png": _png(draw_outline()),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=ZIP_TIME), data, compress_type=zipfile.ZIP_DEFLATED)
    return out


def _png(image: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)  # type: ignore[attr-defined]
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Teams app package to upload.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"zip to write (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    try:
        path = build_package(args.out, os.environ)
    except PackageError as exc:
        sys.stderr.write(f"teams-package: {exc}\n")
        return 2
    sys.stdout.write(f"wrote {path}: upload it in Teams (Apps > Manage your apps > Upload an app)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
