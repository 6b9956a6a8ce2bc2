"""Writing, packing, unpacking and verifying bundles."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import platform
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .._version import __version__
from ..errors import BundleError
from ._manifest import MANIFEST_NAME, Manifest

log = logging.getLogger(__name__)
_CHUNK = 1 << 20


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class Bundle:
    """A verified bundle folder. ``root`` is the folder; the manifest's names are relative to it."""

    root: Path
    manifest: Manifest

    @property
    def model_path(self) -> Path:
        return self.root / self.manifest.model

    @property
    def edgetpu_model_path(self) -> Path | None:
        return self.root / self.manifest.edgetpu_model if self.manifest.edgetpu_model else None

    @property
    def labels(self) -> list[str]:
        if not self.manifest.labels:
            return []
        return read_labels(self.root / self.manifest.labels)

    @property
    def digest(self) -> str:
        """sha256 of the manifest's file table: identifies the release (same files -> same digest)."""
        h = hashlib.sha256()
        for name in sorted(self.manifest.files):
            h.update(f"{name}\0{self.manifest.files[name]['sha256']}\n".encode())
        return h.hexdigest()


def read_labels(path: str | os.PathLike) -> list[str]:
    """One label per line; also accepts Coral's 'index label' / 'index: label' lines. BundleError for a file
    that is not UTF-8 text (OSError for one that cannot be read)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise BundleError(f"labels file {path} is not UTF-8 text (one label per line)") from None
    pairs = [ln.strip().split(maxsplit=1) for ln in lines if ln.strip()]
    if pairs and all(len(p) == 2 and p[0].rstrip(":").isdigit() for p in pairs):
        table = {int(p[0].rstrip(":")): p[1].strip() for p in pairs}
        return [table.get(i, str(i)) for i in range(max(table) + 1)]
    return [ln.strip() for ln in lines if ln.strip()]


def is_bundle(path: str | os.PathLike) -> bool:
    p = Path(path)
    return (p.is_dir() and (p / MANIFEST_NAME).is_file()) or p.name.endswith((".tar.gz", ".tgz", ".tar"))


def verify(root: Path, manifest: Manifest) -> None:
    """Check every file of the manifest exists with its sha256 and size; raise BundleError otherwise."""
    required = [manifest.model] + [n for n in (manifest.edgetpu_model, manifest.labels) if n]
    for name in required:
        if name not in manifest.files:
            raise BundleError(f"bundle {root}: manifest lists {name} without a checksum")
    for name, meta in manifest.files.items():
        path = root / name
        if not path.is_file():
            raise BundleError(f"bundle {root}: missing file {name}")
        if "size" in meta and path.stat().st_size != meta["size"]:
            raise BundleError(f"bundle {root}: {name} is {path.stat().st_size} bytes, manifest says {meta['size']}")
        digest = sha256_file(path)
        if digest != meta.get("sha256"):
            raise BundleError(f"bundle {root}: checksum mismatch for {name} (sha256 {digest[:12]}..., manifest {str(meta.get('sha256'))[:12]}...)")


def load_bundle(path: str | os.PathLike, *, extract_to: str | os.PathLike | None = None, check: bool = True) -> Bundle:
    """Open a bundle folder or .tar.gz, verify checksums and return it.

    A tarball is extracted (safely: no absolute paths, no '..', no links) into ``extract_to`` or a temporary
    folder that lives until the process exits.
    """
    p = Path(path)
    if not p.exists():
        raise BundleError(f"bundle not found: {p}")
    if p.is_file():
        dest = Path(extract_to) if extract_to else Path(tempfile.mkdtemp(prefix="edgesdk-bundle-"))
        if extract_to is None:
            import atexit

            atexit.register(shutil.rmtree, dest, True)
        safe_extract(p, dest)
        inner = [c for c in dest.iterdir()]
        root = inner[0] if len(inner) == 1 and inner[0].is_dir() and not (dest / MANIFEST_NAME).exists() else dest
    else:
        root = p
    mpath = root / MANIFEST_NAME
    if not mpath.is_file():
        raise BundleError(f"{p} is not a bundle: no {MANIFEST_NAME}")
    manifest = Manifest.from_json(mpath.read_text(encoding="utf-8"))
    if check:
        verify(root, manifest)
    return Bundle(root=root, manifest=manifest)


def _checked_members(tar: tarfile.TarFile, dest: Path) -> Iterable[tarfile.TarInfo]:
    dest = dest.resolve()
    for m in tar.getmembers():
        name = m.name
        if m.issym() or m.islnk():
            raise BundleError(f"bundle archive member {name!r} is a link: refused")
        if not (m.isfile() or m.isdir()):
            raise BundleError(f"bundle archive member {name!r} is not a regular file: refused")
        if name.startswith("/") or os.path.isabs(name):
            raise BundleError(f"bundle archive member {name!r} has an absolute path: refused")
        target = (dest / name).resolve()
        if target != dest and dest not in target.parents:
            raise BundleError(f"bundle archive member {name!r} would extract outside its folder: refused")
        yield m


def safe_extract(archive: str | os.PathLike, dest: str | os.PathLike) -> None:
    """Extract a bundle tarball into ``dest`` after checking every member (traversal, absolute, links)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = list(_checked_members(tar, dest))
            tar.extractall(dest, members=members, filter="data")
    except tarfile.TarError as exc:
        raise BundleError(f"{archive} is not a readable tar archive: {exc}") from None


def write_bundle(
    out_dir: str | os.PathLike,
    manifest: Manifest,
    files: dict[str, str | os.PathLike | bytes],
    *,
    overwrite: bool = False,
) -> Bundle:
    """Write a bundle folder atomically: files into a temporary sibling folder, checksums into the manifest,
    then one rename. ``files`` maps names in the bundle to source paths or bytes.
    Nothing is left half-written in ``out_dir`` if anything fails."""
    out = Path(out_dir)
    if out.exists() and not overwrite:
        if out.is_dir() and any(out.iterdir()):
            raise BundleError(f"{out} exists and is not empty (use an empty or new folder)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it 0700; a bundle is read by services running as other users
    try:
        table = {}
        for name, src in files.items():
            dst = tmp / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(src, (bytes, bytearray)):
                dst.write_bytes(src)
            else:
                if not Path(src).is_file():
                    raise BundleError(f"cannot add {name} to the bundle: {src} does not exist")
                shutil.copyfile(src, dst)
            table[name] = {"sha256": sha256_file(dst), "size": dst.stat().st_size}
        versions = {"edgesdk": __version__, "python": platform.python_version(), **manifest.versions}
        manifest = manifest.replace(files=table, versions=versions)
        (tmp / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
        verify(tmp, manifest)
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Bundle(root=out, manifest=manifest)


def pack(bundle_dir: str | os.PathLike, out_file: str | os.PathLike) -> Path:
    """Verify a bundle folder and write it as a .tar.gz (flat members, deterministic order), atomically."""
    b = load_bundle(bundle_dir)
    out = Path(out_file)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        with tarfile.open(tmp, "w:gz") as tar:
            signed = ["manifest.json.sig"] if (b.root / "manifest.json.sig").is_file() else []  # see _sign.py
            for name in [MANIFEST_NAME, *sorted(b.manifest.files), *signed]:
                data = (b.root / name).read_bytes()
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o644
                info.mtime = 0
                tar.addfile(info, io.BytesIO(data))
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out
