"""``edgesdk bench MODEL...``: latency percentiles, throughput, memory, size and accuracy, side by side."""

from __future__ import annotations

import argparse
import shlex
import sys

from ._bench_args import _Formatter, add_bench_args, check_bench_args

ORDER = 70

EPILOG = """\
examples:
  edgesdk bench a.tflite b.tflite --threads 1,2 --runs 200
  edgesdk bench model.tflite --pipeline --image photo.jpg -o bench.md -o bench.png
  edgesdk bench bundle/ --data imagenet-val/ --limit 500          # adds top-1 / top-5
  edgesdk bench a.tflite --remote pi@kitchen --remote pi@garage   # on the devices, one table
  edgesdk bench a.tflite --json > new.json; edgesdk bench a.tflite --compare old.json --threshold 10

Models run interleaved (A B A B ...) so machine noise hits them alike; the table shows each p50 as a ratio to
the first. Latency is the raw interpreter invoke with inputs set once; --pipeline adds what an application sees.
Exit status: 0 all ran, 1 a model or host failed (one line each on stderr; the others still run and the table
marks the failures) or --compare found a regression, 2 bad usage.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "bench", help="latency, throughput, memory and accuracy of models, side by side, here or on a device",
        description=__doc__, epilog=EPILOG, formatter_class=_Formatter,
    )
    add_bench_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edgesdk.benchmarks import benchmark, compare, error_lines, print_table, read_document, write_outputs

    from ._common import progress

    image = check_bench_args(args)  # every argument and output path checked before measuring
    old = read_document(args.compare) if args.compare else None
    ssh = None
    if args.remote:
        from ._deploy_args import ssh_options

        ssh = ssh_options(args)
    command = "edgesdk bench " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if sys.argv[1:2] == ["bench"] else ""
    with progress("benchmarking", args.runs or (100 if args.seconds is None else None),
                  seconds=args.seconds * len(args.models) * len(args.threads or [1]) if args.seconds else None) as bar:
        doc = benchmark(
            args.models, device=args.device, threads=args.threads, runs=args.runs, seconds=args.seconds,
            warmup=args.warmup, pipeline=args.pipeline, image=image, data=args.data, limit=args.limit,
            wnids=args.wnids, remotes=args.remote, local=True if args.local else None,
            remote_python=args.remote_python, ssh=ssh, memory=not args.no_memory, command=command,
            on_round=lambda n: bar.advance(1),
        )
    for line in error_lines(doc):
        print(f"edgesdk bench: error: {line}", file=sys.stderr)
    if args.json:
        sys.stdout.write(doc.to_json())
    else:
        print_table(doc, sys.stdout)
    for note in write_outputs(doc, save=args.save, markdown=args.markdown, plot_file=args.plot):
        print(f"edgesdk bench: {note}", file=sys.stderr)
    regressed = False
    if old is not None:
        metric = "p50"
        changes = compare(old, doc, threshold=args.threshold / 100.0, metric=metric)
        stream = sys.stderr if args.json else sys.stdout
        print(f"compared with {args.compare} ({metric}, threshold {args.threshold:g} %):", file=stream)
        for c in changes:
            print("  " + c.line(metric), file=stream)
        bad = [c for c in changes if c.regression]
        if bad:
            regressed = True
            print(f"edgesdk bench: error: {len(bad)} regression(s) beyond {args.threshold:g} % against {args.compare}",
                  file=sys.stderr)
    return 1 if doc.errors or regressed else 0
