"""The README's examples run: every `edgesdk ...` line of its ```sh / ```bash blocks and of its indented code
blocks, and its ```python blocks, in a scratch folder holding small stand-ins for the files they name.

Commands that need a device, a camera or the network are skipped with a reason (SKIPS); a command naming an
input file the scratch folder does not have is skipped too, and listed, so new examples are covered after a
merge as long as their inputs are among SAMPLES."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from _paths import IMAGES, MODELS, REPO, TESTDATA

EDGESDK = Path(sys.executable).with_name("edgesdk")
README = REPO / "README.md"

# names used in the README -> the shared test file standing in for them (linked into the scratch folder)
SAMPLES = {
    "mobilenet_v2_1.0_224_quant.tflite": MODELS / "mobilenet_v2_1.0_224_quant.tflite",
    "model.tflite": MODELS / "mobilenet_v1_0.25_128_quant.tflite",
    "a.tflite": MODELS / "mobilenet_v1_0.25_128_quant.tflite",
    "b.tflite": MODELS / "mobilenet_v2_1.0_224_quant.tflite",
    "ssd.tflite": MODELS / "ssd_mobilenet_v1_coco_quant.tflite",
    "grace_hopper.bmp": IMAGES / "grace_hopper.bmp",
    "street.jpg": IMAGES / "kite_and_cold.jpg",
    "photo.jpg": IMAGES / "face.jpg",
    "image.jpg": IMAGES / "face.jpg",
    "video.mp4": TESTDATA / "videos" / "one-by-one-person-detection.mp4",
    "imagenet-val": TESTDATA / "imagenet-500",
    "imagenet_labels.txt": MODELS / "imagenet_labels.txt",
    "imagenet_wnids.txt": MODELS / "imagenet_wnids.txt",  # found next to the model, as bench and eval do
    "labels.txt": MODELS / "imagenet_labels.txt",
    "deeplab.tflite": MODELS / "deeplabv3_mnv2_dm05_pascal_quant.tflite",
    "deeplabv3_mnv2_pascal_quant.tflite": MODELS / "deeplabv3_mnv2_dm05_pascal_quant.tflite",
    "portrait.jpg": IMAGES / "face.jpg",
    "call.jpg": IMAGES / "grace_hopper.bmp",
    "beach.jpg": IMAGES / "kite_and_cold.jpg",
}
# (pattern on the command line, reason): what cannot run here
SKIPS = [
    (r"\b(deploy|rollback|releases)\b", "needs a device over SSH"),
    (r"--remote\b|\s[\w.-]+@[\w.-]+", "needs a device over SSH"),
    (r"--inventory\b", "needs an Ansible inventory of devices"),
    (r"--serve\b|--show\b", "serves or shows a live stream until stopped"),
    (r"--device (edgetpu|usb|pci)", "needs an Edge TPU"),
    (r"picamera|/dev/video|rtsp://|https?://", "needs a camera or the network"),
    (r"--recipe\b|\bconvert\b.*--qat", "trains for minutes (covered by tests/recipes)"),
]
OUTPUT_OPTIONS = {"-o", "--out", "--output", "--markdown", "--plot", "--save", "--annotate", "--events",
                  "--unit-file"}
FILE_LIKE = re.compile(r"\.(tflite|tar\.gz|tgz|h5|keras|jpe?g|png|bmp|mp4|mkv|avi|json|jsonl|ini|toml|txt)$|/$")
SMALL_FRAMES = "5"


def _blocks(text: str) -> tuple[list[str], list[str]]:
    """(shell lines, python blocks) of the README: fenced sh/bash/shell/console and indented code blocks."""
    shell, python = [], []
    for lang, body in re.findall(r"^```(\w*)\n(.*?)^```", text, re.M | re.S):
        if lang in ("sh", "bash", "shell", "console"):
            shell += body.splitlines()
        elif lang == "python":
            python.append(body)
    fenced = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    prev_blank = True
    in_block = False
    for line in fenced.splitlines():
        if line.startswith("    ") and (in_block or prev_blank) and not line.lstrip().startswith(("|", "-", "*")):
            shell.append(line.strip())
            in_block = True
        elif line.strip():
            in_block = False
        prev_blank = not line.strip()
    return shell, python


def readme_commands(text: str) -> list[list[str]]:
    """Every `edgesdk ...` invocation (sudo and .venv/bin/ dropped; && and ; chains split; comments cut)."""
    shell, _ = _blocks(text)
    out = []
    for line in shell:
        line = line.lstrip("$ ").strip()
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue
        part: list[str] = []
        for w in words + ["&&"]:
            if w in ("&&", ";", "||"):
                if part and part[0] == "sudo":
                    part = part[1:]
                if part and Path(part[0]).name == "edgesdk":
                    out.append(["edgesdk", *part[1:]])
                part = []
            else:
                part.append(w)
    return out


def _skip_reason(argv: list[str], cwd: Path) -> str | None:
    line = " ".join(argv)
    for pattern, reason in SKIPS:
        if re.search(pattern, line):
            return reason
    for prev, word in zip([""] + argv, argv):
        if prev in OUTPUT_OPTIONS or prev.startswith("--") and prev.endswith("out"):
            continue
        if FILE_LIKE.search(word) and not word.startswith("-") and not (cwd / word).exists():
            return f"needs the input {word}, which has no stand-in in SAMPLES"
    return None


def _adapt(argv: list[str], tmp: Path, bundle: Path) -> list[str]:
    """Small inputs and outputs inside the scratch folder: --max-frames SMALL, device paths moved to tmp."""
    argv = [a.replace("/opt/edgesdk/current", str(bundle)).replace("/var/lib/edgesdk", str(tmp / "var"))
            .replace("~/.ssh/id_ed25519", str(tmp / "key")) for a in argv]
    i = next((k for k, a in enumerate(argv) if k and not a.startswith("-")), 1)  # the command, after -q / -v
    if "--max-frames" in argv:
        argv[argv.index("--max-frames") + 1] = SMALL_FRAMES
    elif argv[i] == "anonymize":
        argv[i + 1:i + 1] = ["--max-frames", SMALL_FRAMES]
    if argv[i:i + 2] == ["service", "install"]:
        argv[i + 2:i + 2] = ["--unit-file", str(tmp / "unit.service"), "--systemctl", "true"]
    if argv[i] == "bench" and "--runs" not in argv and "--seconds" not in argv:
        argv[i + 1:i + 1] = ["--runs", "3", "--warmup", "1", "--no-memory"]
    return argv


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    d = tmp_path_factory.mktemp("readme")
    for name, src in SAMPLES.items():
        if src.exists():
            (d / name).symlink_to(src)
    from edgesdk.bundle import make_bundle

    make_bundle(MODELS / "mobilenet_v2_1.0_224_quant.tflite", d / "model.tar.gz",
                labels=MODELS / "imagenet_labels.txt")
    bundle = make_bundle(MODELS / "mobilenet_v2_1.0_224_quant.tflite", d / "current")
    (d / "var").mkdir()
    if shutil.which("ssh-keygen"):  # the signing examples: signed.tar.gz, allowed_signers trusting the key
        from edgesdk.bundle import sign_bundle

        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "readme", "-f", str(d / "key")], check=True)
        shutil.copy(d / "model.tar.gz", d / "signed.tar.gz")
        sign_bundle(d / "signed.tar.gz", d / "key")
        (d / "allowed_signers").write_text("readme@example " + (d / "key.pub").read_text())
    return d, bundle.root


RAN: list[str] = []
SKIPPED: list[tuple[str, str]] = []


@pytest.mark.parametrize("argv", readme_commands(README.read_text()), ids=lambda a: " ".join(a)[:60])
def test_readme_command_runs(argv, scratch):
    cwd, bundle = scratch
    reason = _skip_reason(argv, cwd)
    if reason:
        SKIPPED.append((" ".join(argv), reason))
        pytest.skip(reason)
    cmd = _adapt(argv, cwd, bundle)
    env = {**os.environ, "EDGESDK_MODEL_PATH": str(MODELS)}  # where the README's default models are looked up
    p = subprocess.run([str(EDGESDK), *cmd[1:]], cwd=cwd, capture_output=True, text=True, timeout=600, env=env)
    RAN.append(" ".join(cmd))
    assert p.returncode == 0, f"{' '.join(cmd)}\n{p.stderr}"


@pytest.mark.parametrize("index", range(len(_blocks(README.read_text())[1])))
def test_readme_python_block_runs(index, scratch):
    cwd, _ = scratch
    code = _blocks(README.read_text())[1][index]
    needs = [ln.split(":", 1)[1].strip() for ln in code.splitlines() if ln.startswith("# needs:")]
    if needs:  # an example that needs a service or inputs the README cannot provide says so in its first lines
        pytest.skip("needs " + needs[0])
    p = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr


def test_readme_parser_finds_the_examples():
    cmds = readme_commands(README.read_text())
    verbs = {next((w for w in a[1:] if not w.startswith("-")), "") for a in cmds}
    assert {"anonymize", "deploy", "service"} <= verbs, verbs
    assert all(_skip_reason(a, Path("/nonexistent")) for a in cmds if a[1] in ("deploy", "rollback", "releases"))
