"""The Teams app package: manifest against the official schema, the drawn icons, the zip."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
MANIFEST_DIR = ROOT / "manifest" / "teams"
APP_ID = "11111111-2222-3333-4444-555555555555"
# The npm package that bundles the Teams manifest JSON schemas; kept outside the repository, in the venv.
APP_MANIFEST_PACKAGE = "@microsoft/app-manifest@1.1.2"
# It requires fs-extra at run time but declares it only as a development dependency.
NPM_PACKAGES = (APP_MANIFEST_PACKAGE, "fs-extra@11")
NPM_PREFIX = Path(sys.prefix) / "npm"

VALIDATE = """
const [moduleDir, manifestPath] = process.argv.slice(2);
const { AppManifestUtils } = require(moduleDir);
const fs = require("fs");
const path = require("path");
const manifest = JSON.parse(fs.readFileSync(manifestPath, "utf8"));
const version = "v" + manifest.manifestVersion;
const local = path.join(moduleDir, "build", "json-schemas", "teams", version, "MicrosoftTeams.schema.json");
if (!fs.existsSync(local)) {
  console.log(JSON.stringify(["no bundled schema for " + version]));
  process.exit(0);
}
const schema = JSON.parse(fs.readFileSync(local, "utf8"));
AppManifestUtils.validateAgainstSchema(manifest, schema).then((errors) => console.log(JSON.stringify(errors)));
"""


def load_script(name: str) -> ModuleType:
    sys.path.insert(0, str(MANIFEST_DIR))  # the scripts import each other as they do when run
    try:
        spec = importlib.util.spec_from_file_location(f"teams_{name}", MANIFEST_DIR / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(MANIFEST_DIR))


@pytest.fixture(scope="session")
def app_manifest_module() -> Path:
    """@microsoft/app-manifest, installed once with npm into the venv (validates offline from bundled schemas)."""
    module = NPM_PREFIX / "node_modules" / "@microsoft" / "app-manifest"
    if not (module.is_dir() and (NPM_PREFIX / "node_modules" / "fs-extra").is_dir()):
        if shutil.which("npm") is None or shutil.which("node") is None:
            pytest.skip("node and npm are needed to validate the Teams manifest against the official schema")
        install = ["npm", "install", "--prefix", str(NPM_PREFIX), "--no-audit", "--no-fund", "--silent"]
        result = subprocess.run(
            [*install, *NPM_PACKAGES],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0 or not module.is_dir():
            pytest.skip(f"npm install {APP_MANIFEST_PACKAGE} failed: {result.stderr.strip()[:300]}")
    return module


def filled(tmp_path: Path) -> Path:
    template = (MANIFEST_DIR / "manifest.json").read_text(encoding="utf-8")
    manifest = load_script("package").filled_manifest(template, {"MicrosoftAppId": APP_ID})
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return path


def schema_errors(module: Path, manifest: Path) -> list[str]:
    script = manifest.with_name("validate.js")
    script.write_text(VALIDATE, encoding="utf-8")
    command = ["node", str(script), str(module), str(manifest)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return json.loads(result.stdout)


def test_the_manifest_passes_the_official_schema(app_manifest_module: Path, tmp_path: Path) -> None:
    assert schema_errors(app_manifest_module, filled(tmp_path)) == []


def test_the_validator_does_catch_a_broken_manifest(app_manifest_module: Path, tmp_path: Path) -> None:
    path = filled(tmp_path)
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["bots"][0]["scopes"] = ["everywhere"]
    path.write_text(json.dumps(manifest), encoding="utf-8")
    assert schema_errors(app_manifest_module, path) != []


def test_the_manifest_template() -> None:
    raw = (MANIFEST_DIR / "manifest.json").read_text(encoding="utf-8")
    manifest = json.loads(raw)
    assert float(manifest["manifestVersion"]) >= 1.19
    assert manifest["$schema"].endswith(f"/v{manifest['manifestVersion']}/MicrosoftTeams.schema.json")
    assert manifest["id"] == "<<MICROSOFT_APP_ID>>" and manifest["bots"][0]["botId"] == "<<MICROSOFT_APP_ID>>"
    bot = manifest["bots"][0]
    assert set(bot["scopes"]) == {"personal", "team", "groupChat"}
    commands = {c["title"] for lst in bot["commandLists"] for c in lst["commands"]}
    assert {"hjælp", "status", "annuller"} <= commands
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}


def test_the_icons_have_the_sizes_and_transparency_teams_asks_for(tmp_path: Path) -> None:
    color_path, outline_path = load_script("icons").write_icons(tmp_path)
    with Image.open(color_path) as color:
        assert color.size == (192, 192)
        assert color.convert("RGBA").getpixel((2, 2))[3] == 255, "the colour icon has a full background"
    with Image.open(outline_path) as outline:
        assert outline.size == (32, 32) and outline.mode == "RGBA"
        pixels = [outline.getpixel((x, y)) for y in range(32) for x in range(32)]
    assert pixels[0][3] == 0, "the background is transparent"
    assert {p[:3] for p in pixels if p[3] > 0} == {(255, 255, 255)}, "white only"
    assert sum(p[3] == 0 for p in pixels) > len(pixels) / 3
    assert any(p[3] == 255 for p in pixels), "the symbol is there"


def test_the_package_zip(tmp_path: Path) -> None:
    out = tmp_path / "out" / "app.zip"
    result = subprocess.run(
        [sys.executable, str(MANIFEST_DIR / "package.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        env={"MicrosoftAppId": APP_ID, "TEAMS_APP_VERSION": "1.0.3"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["id"] == APP_ID and manifest["bots"][0]["botId"] == APP_ID and manifest["version"] == "1.0.3"
    assert "<<" not in json.dumps(manifest)


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({}, "MicrosoftAppId"),
        ({"MicrosoftAppId": "not-a-guid"}, "MicrosoftAppId"),
        ({"MicrosoftAppId": APP_ID, "TEAMS_WEBSITE_URL": "http://insecure.example"}, "https://"),
        ({"MicrosoftAppId": APP_ID, "TEAMS_APP_VERSION": "v2"}, "TEAMS_APP_VERSION"),
    ],
)
def test_the_package_script_says_what_is_missing(tmp_path: Path, env: dict[str, str], problem: str) -> None:
    out = tmp_path / "app.zip"
    result = subprocess.run(
        [sys.executable, str(MANIFEST_DIR / "package.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 2 and problem in result.stderr
    assert not out.exists()
