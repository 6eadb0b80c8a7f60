#!/usr/bin/env python3
"""Vendor the web pages' third-party files into ``web/vendor/NAME-VERSION/``.

The node serves its pages with nothing loaded from the internet, and the
repository has no build step, so the few libraries the pages use are copied
in once, at a pinned version, with their licence. This script is how: for
each package below it runs ``npm pack NAME@VERSION`` in a temporary
directory (the npm registry is the only network it needs), checks the
tarball's SHA-512 against the one pinned here, and copies the listed files.
Run it again after changing a version; the old folder is removed by hand
(``git rm -r web/vendor/NAME-OLD``) and the README's "Dependencies and why"
and ``web/vendor/README.md`` are updated in the same commit.

Fonts: fontsource packages ship one ``@font-face`` per subset and weight in
``WEIGHT.css``; only the latin, latin-ext and vietnamese subsets are kept,
their ``unicode-range`` unchanged (so a page downloads the Vietnamese file
only when it shows a Vietnamese letter), woff2 only (every browser the pages
support reads it).

    python3 scripts/vendor_web.py          # (re)writes web/vendor/
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENDOR = REPO / "web" / "vendor"
FONT_SUBSETS = ("latin", "latin-ext", "vietnamese")


@dataclass(frozen=True)
class Package:
    name: str  # npm name
    version: str
    folder: str  # web/vendor/<folder>-<version>
    integrity: str  # npm's "sha512-…" of the tarball
    files: tuple[str, ...] = ()  # paths inside the package to copy as they are
    font_family: str | None = None  # a fontsource package: family name
    font_weights: tuple[int, ...] = ()


PACKAGES = (
    Package("chart.js", "4.6.1", "chart.js",
            "sha512-hJyniucsFmq//EvXYvJ6c6mahPoI3kaxdjVH8awTaJ/fDNWeSqqqArixMJWkWNN6fcYvPU3HneSANFNYtRi61g==",
            files=("dist/chart.umd.min.js", "LICENSE.md")),
    Package("swagger-ui-dist", "5.35.0", "swagger-ui-dist",
            "sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==",
            files=("swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE")),
    Package("@fontsource/noto-sans", "5.3.0", "noto-sans",
            "sha512-fBCog2PY7DiVVTEEqtI/Qdinx/knobHYfoGpjFXdfBX5RoJaBp1Prw2G75p0OIsdlMZg3cLo0c+YbIUYOxnQJw==",
            files=("LICENSE",), font_family="Noto Sans", font_weights=(400, 700)),
    Package("@fontsource/noto-sans-mono", "5.3.0", "noto-sans-mono",
            "sha512-DPZ+/Ng9HP5UKiALCKtoeGfA7zJzEjHFB/18OU/c3+4I9zZ3eMVAuFZb0SqzT89Yj7KNhJFYnYjyDaVKhdRuUg==",
            files=("LICENSE",), font_family="Noto Sans Mono", font_weights=(400,)),
)


def _pack(package: Package, work: Path) -> Path:
    """`npm pack` the package into `work`; returns the unpacked ``package/`` folder."""
    out = subprocess.run(["npm", "pack", "--json", f"{package.name}@{package.version}"], cwd=work,
                         check=True, capture_output=True, text=True).stdout
    info = json.loads(out)[0]
    tarball = work / info["filename"]
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if package.integrity and digest != package.integrity:
        sys.exit(f"{package.name}@{package.version}: tarball {digest} is not the pinned {package.integrity}")
    if not package.integrity:
        print(f"{package.name}@{package.version}: pin integrity {digest}")
    target = work / package.folder
    with tarfile.open(tarball) as tar:
        tar.extractall(target, filter="data")
    return target / "package"


_FACE = re.compile(r"/\* (?P<name>[a-z0-9-]+) \*/\s*@font-face \{(?P<body>[^}]*)\}", re.S)


def _fonts(package: Package, source: Path, dest: Path) -> list[str]:
    """Keep the wanted subsets' @font-face rules (woff2 only) and their files."""
    slug = package.folder
    faces, files = [], []
    for weight in package.font_weights:
        css = (source / f"{weight}.css").read_text(encoding="utf-8")
        for match in _FACE.finditer(css):
            subset = match["name"].removeprefix(f"{slug}-").removesuffix(f"-{weight}-normal")
            if subset not in FONT_SUBSETS:
                continue
            body = re.sub(r", url\(\./files/[^)]*\.woff\) format\('woff'\)", "", match["body"])
            woff2 = f"{match['name']}.woff2"
            faces.append(f"/* {match['name']} */\n@font-face {{{body}}}\n")
            (dest / "files").mkdir(exist_ok=True)
            shutil.copyfile(source / "files" / woff2, dest / "files" / woff2)
            files.append(f"files/{woff2}")
    missing = {(s, w) for s in FONT_SUBSETS for w in package.font_weights} - {
        (f.split("/")[1].removeprefix(f"{slug}-").rsplit("-", 2)[0], int(f.rsplit("-", 2)[1])) for f in files}
    if missing:
        sys.exit(f"{package.name}: no @font-face for {sorted(missing)}")
    (dest / f"{slug}.css").write_text(
        f"/* {package.font_family}: {package.name}@{package.version} (SIL OFL 1.1, see LICENSE), subsets "
        f"{', '.join(FONT_SUBSETS)}, woff2; written by scripts/vendor_web.py */\n" + "\n".join(faces),
        encoding="utf-8")
    return files + [f"{slug}.css"]


def main() -> None:
    VENDOR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for package in PACKAGES:
            source = _pack(package, Path(tmp))
            dest = VENDOR / f"{package.folder}-{package.version}"
            if dest.exists():
                shutil.rmtree(dest)
            dest.mkdir(parents=True)
            kept = []
            for name in package.files:
                shutil.copyfile(source / name, dest / Path(name).name)
                kept.append(Path(name).name)
            if package.font_family:
                kept += _fonts(package, source, dest)
            print(f"{dest.relative_to(REPO)}: {', '.join(sorted(kept))}")


if __name__ == "__main__":
    main()
