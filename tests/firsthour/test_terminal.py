"""Issue 18, terminal: no native chatter on stderr by default (shown with -v), -q keeps errors, NO_COLOR,
help texts, compile's messages and exit codes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from _pty import run_on_pty

from _paths import IMAGES, MODELS, TESTDATA
from edgesdk.cli import build_parser, main

EDGESDK = Path(sys.executable).with_name("edgesdk")
MOBILENET = MODELS / "mobilenet_v2_1.0_224_quant.tflite"


def cli(*argv, env=None):
    import os

    return subprocess.run([str(EDGESDK), *map(str, argv)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


def test_runtime_commands_print_no_native_chatter():
    p = cli("classify", MOBILENET, IMAGES / "face.jpg", "-k", "1")
    assert p.returncode == 0 and p.stderr == "", p.stderr
    p = cli("-v", "classify", MOBILENET, IMAGES / "face.jpg", "-k", "1")
    assert "XNNPACK delegate" in p.stderr  # still there for whoever asks


def test_truncated_video_decodes_quietly(tmp_path):
    cv2 = pytest.importorskip("cv2")
    clip = TESTDATA / "videos" / "one-by-one-person-detection.mp4"
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[:300_000])
    code = ("import cv2\nc = cv2.VideoCapture(%r)\nn = 0\nwhile c.read()[0]:\n    n += 1\nprint(n)\n" % str(cut))
    import os

    from edgesdk._native import quiet_env

    env = dict(os.environ)
    for k in ("OPENCV_LOG_LEVEL", "OPENCV_FFMPEG_LOGLEVEL"):
        env.pop(k, None)
    loud = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert "h264" in loud.stderr or "partial file" in loud.stderr  # the chatter exists without the settings
    quiet_env()
    quiet = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
    assert quiet.stderr == "" and int(quiet.stdout) > 0
    assert cv2 is not None


def test_native_filter_keeps_real_errors_and_drops_chatter():
    from edgesdk._native import is_noise

    assert is_noise("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.")
    assert is_noise("E0000 00:00:1795894619.751797   27152 cuda_platform.cc:52] failed call to cuInit: INTERNAL")
    assert is_noise("fully_quantize: 0, inference_type: 6, input_inference_type: UINT8, output_inference_type: UINT8")
    assert is_noise("[ WARN:0@0.012] global cap.cpp:215 open VIDEOIO(CV_IMAGES): raised OpenCV exception")
    assert is_noise("[h264 @ 0x55b817de9080] Invalid NAL unit size (21526 > 20204).")
    assert not is_noise("ERROR: Didn't find op for builtin opcode 'CONV_2D' version '9'")
    assert not is_noise("Segmentation fault")


def test_quiet_keeps_only_errors(tmp_path):
    p = cli("-q", "bench", MOBILENET, "--threads", "10000", "--runs", "2", "--warmup", "0", "--no-memory")
    assert p.returncode == 0 and p.stderr == "", p.stderr
    p = cli("bench", MOBILENET, "--threads", "10000", "--runs", "2", "--warmup", "0", "--no-memory")
    assert "capped" in p.stderr
    p = cli("classify", MOBILENET, tmp_path / "nope.jpg", "--quiet")
    assert p.returncode == 1 and "not found" in p.stderr


def test_no_color_on_a_terminal():
    code, text = run_on_pty(["bench", str(MOBILENET), "--runs", "2", "--warmup", "0", "--no-memory"], 200,
                            env={"NO_COLOR": "1"})
    assert code == 0
    assert not re.search(r"\x1b\[(3\d|9\d|38;)", text), "colour escape with NO_COLOR set"


def _help_texts():
    parser = build_parser()
    from edgesdk.cli import _all_parsers

    for p in _all_parsers(parser):
        yield p.prog, p.format_help()


def test_help_texts_show_each_default_once():
    for prog, text in _help_texts():
        flat = " ".join(text.split())
        assert "(default: None)" not in flat, prog
        assert "(default: True)" not in flat and "(default: False)" not in flat, prog
        assert not re.search(r"\(default: [^)]*\) \(default:", flat), prog
        assert "``" not in text and ":func:" not in text, prog


def test_service_examples_are_on_their_own_lines():
    text = dict(_help_texts())["edgesdk service install"]
    examples = [ln for ln in text.splitlines() if "edgesdk service install --bundle" in ln]
    assert len(examples) >= 2 and all(ln.strip().startswith(("sudo edgesdk", "edgesdk")) for ln in examples)


def test_compile_messages_and_exit_codes(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no edgetpu_compiler
    ssd = MODELS / "ssd_mobilenet_v1_coco_quant.tflite"
    assert main(["compile", str(ssd), "-o", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert err.count("apt-get install edgetpu-compiler") == 1 and "{" not in out
    assert "from op #63 TFLite_Detection_PostProcess" in out
    assert main(["compile", str(ssd), "--predict-only"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "63 op(s) on the Edge TPU, 1 on the CPU" in out
    compiled = MODELS / "mobilenet_v1_0.25_128_quant_edgetpu.tflite"
    assert main(["compile", str(compiled)]) == 1
    out, err = capsys.readouterr()
    assert "already compiled for the Edge TPU" in err and "0 ops mapped" not in out
    with pytest.raises(SystemExit) as e:
        main(["compile", str(ssd), "--num-segments", "1000"])
    assert e.value.code == 2


def test_unexpected_errors_name_no_exception_class(capsys, tmp_path):
    from edgesdk.cli import describe_error

    err = OSError(30, "Read-only file system", str(tmp_path / ".x.png.tmp"))
    assert describe_error(err) == f"{tmp_path / 'x.png'}: read-only file system"
    assert "UnicodeDecodeError" not in describe_error(UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"))


def test_doctor_lists_each_backend_once_and_the_face_models(capsys):
    import json

    assert main(["doctor", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    names = d["camera"]["opencv_video_backends"]
    assert len(names) == len(set(names))
    assert set(d["faces"]) == {"face", "face-full"}
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert out.count("FFMPEG") == 1 and "BlazeFace models" in out


def test_output_folder_rule(tmp_path):
    from edgesdk.cli._common import output_folder
    from edgesdk.errors import InputError

    assert output_folder(tmp_path / "a" / "b").is_dir()
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        output_folder(tmp_path / "f")


def test_warning_prints_above_the_bar_not_inside_it():
    code = (
        "import logging, sys, time\n"
        "logging.basicConfig(level=logging.WARNING, format='%(levelname)s %(name)s: %(message)s', stream=sys.stderr)\n"
        "from edgesdk.cli._common import progress\n"
        "with progress('working', 4) as bar:\n"
        "    for i in range(4):\n"
        "        time.sleep(0.15)\n"
        "        if i == 2:\n"
        "            logging.getLogger('edgesdk.x').warning('half way')\n"
        "        bar.advance()\n"
    )
    rc, text = run_on_pty(["-c", code], 100, exe=[sys.executable])
    assert rc == 0
    clean = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    line = next(ln for ln in re.split(r"[\r\n]", clean) if "half way" in ln)
    assert line.startswith("WARNING edgesdk.x: half way"), repr(line)


def test_cli_reads_a_truncated_mp4_without_decoder_chatter(tmp_path):
    clip = TESTDATA / "videos" / "one-by-one-person-detection.mp4"
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[:120_000])
    p = cli("anonymize", cut, "-o", tmp_path / "out.mp4")
    assert p.returncode == 0, p.stderr
    assert not re.search(r"\[(h264|mov,mp4)[^\]]*@ 0x|\[ ?WARN:", p.stderr), p.stderr


def test_native_redirect_is_safe_across_threads():
    code = (
        "import os, sys, threading, time\n"
        "from edgesdk._native import native_stderr\n"
        "def work(i):\n"
        "    with native_stderr():\n"
        "        os.write(2, b'INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n')\n"
        "        time.sleep(0.05 * (i % 3))\n"
        "        os.write(2, b'real problem %d\\n' % i)\n"
        "ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]\n"
        "os.write(2, b'after\\n')\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    lines = p.stderr.splitlines()
    assert sorted(lines) == sorted([f"real problem {i}" for i in range(8)] + ["after"]), p.stderr
