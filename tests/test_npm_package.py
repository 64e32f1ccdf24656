"""`tessera.js` as the npm package `tessera-auth`: its `package.json`, `tessera.d.ts` and
`CHANGELOG.md` sit beside the served files in `tessera/web/static/`, so the package ships the very
files the server serves. Packed with `npm pack` and installed into a scratch TypeScript project,
a sample using every public name type-checks under `strict`, and each misuse fails to."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from importlib.resources import files
from pathlib import Path

import httpx
import pytest

from tessera.web import client_modules
from tests.npm import npm_package, unavailable

STATIC = Path(str(files("tessera.web").joinpath("static")))
TS = Path(__file__).with_name("ts")
TYPESCRIPT = "typescript@5.9.3"
AXIOS = "axios@1.21.1"  # the sample types an instance with axios's own declarations
NPM_TIMEOUT = 120


def package_json() -> dict[str, object]:
    loaded: dict[str, object] = json.loads((STATIC / "package.json").read_text())
    return loaded


def shipped() -> set[str]:
    """What the tarball must hold: the served client, its declarations and changelog."""
    modules = {f"tessera/{name}" for name in client_modules()}
    return {"package.json", "CHANGELOG.md", "tessera.d.ts", "tessera.js"} | modules


def block(source: str, opening: str) -> str:
    """The text of the declaration that starts with `opening`, up to its closing line."""
    start = source.index(opening)
    end = source.index("\n}" if opening.endswith("{") else ";\n", start)
    return source[start:end]


def test_package_json_describes_the_served_files() -> None:
    package = package_json()
    assert package["name"] == "tessera-auth"
    assert re.fullmatch(r"\d+\.\d+\.\d+", str(package["version"]))
    assert package["type"] == "module"
    assert package["exports"] == {
        ".": {"types": "./tessera.d.ts", "default": "./tessera.js"},
        "./package.json": "./package.json",
    }
    assert (package["main"], package["types"]) == ("./tessera.js", "./tessera.d.ts")
    assert package["files"] == ["tessera.js", "tessera/*.js", "tessera.d.ts", "CHANGELOG.md"]
    for field in ("dependencies", "optionalDependencies", "devDependencies"):
        assert field not in package, f"tessera.js has no {field}"
    # axios: the caller's instance, typed structurally; a version the adapter was tested with.
    assert package["peerDependencies"] == {"axios": ">=1.0.0"}
    assert package["peerDependenciesMeta"] == {"axios": {"optional": True}}
    changelog = (STATIC / "CHANGELOG.md").read_text()
    newest = re.search(r"^## (\S+)$", changelog, re.M)
    assert newest is not None and newest.group(1) == package["version"]


def test_the_declarations_name_what_tessera_js_emits() -> None:
    """Event names, trace types and logout reasons in `tessera.d.ts` are those in the code."""
    code = (STATIC / "tessera.js").read_text()
    declared = (STATIC / "tessera.d.ts").read_text()
    events = set(re.findall(r"^  (\w+): ", block(declared, "export interface AuthEvents {"), re.M))
    assert events == set(re.findall(r'\bemit\("(\w+)"', code))
    traces = set(re.findall(r'type: "([\w-]+)"', block(declared, "export type TraceEvent =")))
    assert traces == set(re.findall(r'emit\("trace", \{ type: "([\w-]+)"', code))
    reasons = set(re.findall(r'"(\w+)"', block(declared, "export type LogoutReason =")))
    assert reasons == set(re.findall(r'\bend\("(\w+)"', code))
    assert 'reason: message.reason ?? "logout"' in (STATIC / "tessera" / "tabs.js").read_text()


@pytest.mark.anyio
async def test_the_server_serves_the_client_but_not_the_package_files(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/auth/tessera.js")
    assert response.content == (STATIC / "tessera.js").read_bytes()
    assert all(name.endswith(".js") for name in client_modules())
    for path in (
        "/auth/package.json",
        "/auth/tessera.d.ts",
        "/auth/CHANGELOG.md",
        "/auth/tessera/package.json",
        "/auth/tessera/..%2Fpackage.json",
        "/auth/tessera/..%2Ftessera.d.ts",
    ):
        assert (await client.get(path)).status_code == 404, path


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=NPM_TIMEOUT, check=False
    )


def record_keys(source: str, name: str) -> set[str]:
    """The keys of `export const NAME: Record<…, true> = { … };` in the sample."""
    return set(re.findall(r"^  (\w+): true,$", block(source, f"export const {name}:"), re.M))


@pytest.mark.slow
def test_the_packed_package_type_checks_and_misuse_does_not(tmp_path: Path) -> None:
    typescript = npm_package(TYPESCRIPT)
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node is not None and npm is not None  # else npm_package skipped (or failed in CI)
    tsc = typescript / "node_modules" / "typescript" / "bin" / "tsc"

    packed = run([npm, "pack", "--json", "--pack-destination", str(tmp_path)], STATIC)
    assert packed.returncode == 0, packed.stderr[-2000:]
    (tarball,) = json.loads(packed.stdout)
    assert {entry["path"] for entry in tarball["files"]} == shipped()
    for entry in tarball["files"]:  # byte for byte the served files
        assert entry["size"] == (STATIC / entry["path"]).stat().st_size, entry["path"]

    project = tmp_path / "project"
    project.mkdir()
    (project / "package.json").write_text('{"private": true, "type": "module"}\n')
    for source in TS.iterdir():
        shutil.copy(source, project / source.name)
    installed = run(
        [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", "--prefer-offline",
         str(tmp_path / tarball["filename"]), AXIOS],
        project,
    )  # fmt: skip
    if installed.returncode != 0:
        unavailable(f"npm install of the packed tarball failed: {installed.stderr[-500:]}")

    checked = run([node, str(tsc), "-p", str(project)], project)
    errors = set(re.findall(r"^(\S+\.ts)\((\d+),\d+\): error (TS\d+):", checked.stdout, re.M))
    expected = {
        (path.name, str(number), code)
        for path in sorted(project.glob("misuse-*.ts"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        for code in re.findall(r"// error (TS\d+)$", line)
    }
    assert len(expected) == len(list(project.glob("misuse-*.ts"))) >= 10
    assert checked.returncode != 0
    # The sample type-checks; each misuse fails exactly where marked, with the error marked.
    assert errors == expected, checked.stdout[-4000:]

    # What the declarations list is what the installed package really has.
    ran = run([node, "runtime.mjs"], project)
    assert ran.returncode == 0, ran.stderr[-2000:]
    real = json.loads(ran.stdout)
    sample = (project / "sample.ts").read_text()
    assert set(real["exported"]) == record_keys(sample, "exported")
    assert set(real["members"]) == record_keys(sample, "members")
