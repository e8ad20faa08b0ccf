"""The `enginebench` command line: run, ops, show, compare, noise, list, models, site."""

import argparse
import json
import math
import secrets
import signal
import sys
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from enginebench.engines import registry
from enginebench.engines.registry import (
    check_precisions,
    parse_engines,
    parse_ops_engines,
    select_precisions,
)
from enginebench.errors import UserError
from enginebench.leftovers import sweep
from enginebench.measure.header import check_machine_label
from enginebench.measure.suite import CellSpec, Suite
from enginebench.measure.workload import Workload, default_threads
from enginebench.models.checkpoint import model_config, preset_dir, resolve_model
from enginebench.models.generate import PRESET_MARKER
from enginebench.models.presets import PRESETS, preset_params
from enginebench.paths import cache_root
from enginebench.profile import load_profile
from enginebench.report.safe import plain, term
from enginebench.report.table import FORMATS, render
from enginebench.results.compare import DEFAULT_SEED, previous_run
from enginebench.results.schema import PRECISION_CLASSES, OpsRun, Run
from enginebench.results.store import list_runs, load_document, load_run

DEFAULT_OUT = Path("data/results")
# `run` options a profile may set; the command line wins over the profile, the profile over
# these
# the default suite is every installed engine at fp32: the cells every engine has and that
# must agree with each other exactly; `--precisions all` (the profiles) runs the full grid
RUN_DEFAULTS = {"engines": None, "precisions": "fp32", "device": "cpu",
                **{k: v for k, v in asdict(Workload()).items() if k != "threads"},
                "threads": default_threads(), "timeout": 600.0, "machine": None,
                "quality": "on", "roofline": "on"}


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="enginebench", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="benchmark engines on one model and workload")
    run.add_argument("--profile", type=Path, help="a runner profile (runners/cpu, "
                     "runners/cuda, ...): its engines, precisions, models, device and "
                     "workload; options given here win over it")
    run.add_argument("--sweep", metavar="NAME", help="run only this sweep of the profile "
                     "(runners/cpu: scaling); without it a profile runs its grid, then its "
                     "sweeps")
    run.add_argument("--engines", help=f"comma list of {', '.join(registry.model_engines())} "
                     "(default: every installed engine)")
    run.add_argument("--precisions", help="engine-native names (int8_dynamic, ...), classes "
                     "(fp32, fp16, bf16, int8, int4) or `all` (every precision each engine "
                     "has); default: fp32")
    run.add_argument("--model", help="preset name or checkpoint directory (default: small, "
                     "or the profile's models one after another)")
    run.add_argument("--device", help=f"one of {', '.join(registry.devices())}, as each "
                     "engine declares (`enginebench list`; default: cpu)")
    run.add_argument("--prompt-tokens", type=int_list, help="prompt length, or a comma "
                     "list to sweep (128,512,2048; default: 128); pp2048 then tg128 is "
                     "llama-bench's tg128 @ d2048")
    run.add_argument("--new-tokens", type=int_list, help="tokens generated per sequence, "
                     "or a comma list (default: 128)")
    run.add_argument("--batch", type=int_list, help="sequences decoded together, each with "
                     "its own prompt, or a comma list (1,4,8; default: 1); prompt lengths, "
                     "new tokens and batch sizes are crossed")
    run.add_argument("--warmups", type=int, help="default: 1")
    run.add_argument("--reps", type=int, help="default: 5")
    run.add_argument("--rounds", type=int, help="run every cell this many times, "
                     "interleaved, in fresh processes (default: 1)")
    run.add_argument("--cell-budget", type=float, dest="budget_s", metavar="S",
                     help="stop a cell's measured reps once it has 3 and they took S seconds, "
                     "with a note (default: every rep; --timeout still stops a hang)")
    run.add_argument("--order-seed", type=int, help="seed of each round's shuffled cell "
                     "order (default: drawn at random and recorded in the run when --rounds "
                     "is above 1)")
    run.add_argument("--threads", type=int, help="default: the physical cores "
                     f"({RUN_DEFAULTS['threads']} here)")
    run.add_argument("--timeout", type=float, help="seconds per cell process (default: 600)")
    run.add_argument("--machine", help="stable machine label (default: from the hardware)")
    run.add_argument("--out", type=Path, default=DEFAULT_OUT,
                     help="results root; the run goes to OUT/<machine>/<run_id>.json")
    run.add_argument("--format", choices=FORMATS, default="table")
    run.add_argument("--quality", choices=("on", "off"),
                     help="compare every cell with PyTorch fp32 (one extra forward pass per "
                     "cell, timed apart; default: on)")
    run.add_argument("--roofline", choices=("on", "off"),
                     help="measure memory bandwidth first and give each decode result its "
                     "bound (about 10 s; default: on)")

    ops = sub.add_parser("ops", help="benchmark single operators at a model's shapes against "
                         "the machine's roofline")
    ops.add_argument("--engines", help=f"comma list of {', '.join(registry.ops_engines())} "
                     "(default: every installed one; `enginebench list` shows them)")
    ops.add_argument("--precisions", help="classes: fp32, fp16, bf16, int8, int4 (default: "
                     "all each engine has at op level)")
    ops.add_argument("--ops", help="comma list of ops (matmul, matvec, rmsnorm, softmax, rope, "
                     "swiglu, sdpa) or cases (matmul.mlp_up, sdpa.decode, ...); default: all")
    ops.add_argument("--model", default="small", help="preset name or checkpoint directory "
                     "whose config.json gives the shapes (default: small)")
    ops.add_argument("--prompt-tokens", type=int, default=128,
                     help="tokens of the prefill cases (default: 128)")
    ops.add_argument("--context", type=int, default=256,
                     help="KV cache length of the decode attention (default: 256)")
    ops.add_argument("--peak-size", type=int, default=1024,
                     help="n of the n x n x n matmul that measures peak FLOP/s (default: 1024)")
    ops.add_argument("--warmups", type=int, default=2)
    ops.add_argument("--reps", type=int, default=10, help="timed samples per case (default: 10)")
    ops.add_argument("--min-sample-ms", type=float, default=20.0,
                     help="calls per sample grow until a sample lasts this long (default: 20)")
    ops.add_argument("--threads", type=int, default=RUN_DEFAULTS["threads"])
    ops.add_argument("--device", default="cpu", choices=("cpu",),
                     help="the ops adapters run on the CPU only so far (default: cpu)")
    ops.add_argument("--timeout", type=float, default=600.0,
                     help="seconds per engine x precision process (default: 600)")
    ops.add_argument("--machine", help="stable machine label (default: from the hardware)")
    ops.add_argument("--out", type=Path, default=DEFAULT_OUT,
                     help="results root; the run goes to OUT/<machine>/ops-<id>.json")
    ops.add_argument("--format", choices=FORMATS, default="table")

    show = sub.add_parser("show", help="print a saved run (suite or ops)")
    show.add_argument("file", type=Path)
    show.add_argument("--format", choices=FORMATS, default="table")

    cmp = sub.add_parser("compare", help="compare two runs cell by cell: ratio of medians, "
                         "bootstrap interval, Mann-Whitney p, verdict")
    cmp.add_argument("files", type=Path, nargs="*", metavar="FILE",
                     help="BASE NEW: two run files (or none, with --machine)")
    cmp.add_argument("--machine", help="compare this machine's last two suite runs in --out")
    cmp.add_argument("--new", type=Path, metavar="DIR", help="compare every run under "
                     "DIR/<machine>/ with the latest earlier run in --out of the same "
                     "machine, model and workload points (the nightly's check)")
    cmp.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results root for "
                     "--machine (default: data/results)")
    cmp.add_argument("--noise-floor", type=float, metavar="PCT",
                     help="a change within PCT percent is `no change` (default: NEW's "
                     "machine's floor measured from its runs in --out, `enginebench noise`)")
    cmp.add_argument("--seed", type=int, default=DEFAULT_SEED,
                     help="the bootstrap's seed, recorded in the output (default: 0)")
    cmp.add_argument("--fail-above", type=float, metavar="PCT", help="exit 1 when a cell "
                     "is `slower` by more than PCT percent (for CI)")
    cmp.add_argument("--format", choices=FORMATS, default="table")

    noise = sub.add_parser("noise", help="each machine's noise floor, measured from its A/A "
                           "data (rounds of a cell, and runs with unchanged engines)")
    noise.add_argument("--machine", help="only this machine")
    noise.add_argument("--out", type=Path, default=DEFAULT_OUT,
                       help="results root (default: data/results)")
    noise.add_argument("--save", type=Path, metavar="DIR", help="also write each machine's "
                       "floor to DIR/<machine>.json (the nightly: data/noise)")

    sub.add_parser("list", help="engines, installed or not, with their precisions for "
                   "`run` and for `ops`")

    models = sub.add_parser("models", help="list model presets, or generate them")
    models.add_argument("--generate", metavar="NAME", nargs="+", choices=list(PRESETS),
                        help="generate these presets into the cache now")
    site = sub.add_parser("site", help="build the static site from the results in data/")
    site.add_argument("--data", type=Path, default=Path("data"),
                      help="folder with results/<machine>/*.json and features.yaml")
    site.add_argument("--out", type=Path, default=Path("build/site"))
    site.add_argument("--serve", action="store_true",
                      help="after building, serve it on http://127.0.0.1:PORT/")
    site.add_argument("--port", type=int, default=8000)
    return ap


def int_list(text: str) -> tuple[int, ...]:
    """`128` or `128,512,2048`: one or more whole numbers."""
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give a whole number or a comma list of them (128,512,2048)"
        ) from None
    return values


def workload_of(args: argparse.Namespace) -> Workload:
    """The run's workload; with more than one round and no --order-seed, a seed drawn now
    (the run file records it, so the order can be replayed)."""
    seed = args.order_seed
    if seed is None and args.rounds > 1:
        seed = secrets.randbelow(2**31)
    return Workload(args.prompt_tokens, args.new_tokens, args.warmups, args.reps,
                    args.threads, args.rounds, args.batch, seed, args.budget_s)


def run_plan(args: argparse.Namespace) -> list[tuple[argparse.Namespace, str]]:
    """Each run the command makes, as (its options, its model): a model, or a profile's
    models in turn, then its sweeps'. Options given on the command line win, then the
    sweep's, then the profile's, then the defaults. Every part is checked before any
    runs."""
    if args.sweep and not args.profile:
        raise UserError("--sweep names a sweep of a profile: give --profile too")
    profile = load_profile(args.profile) if args.profile else None
    parts = profile.parts(args.sweep) if profile else [({}, ["small"])]
    plan = []
    for options, models in parts:
        ns = argparse.Namespace(**vars(args))
        for key, default in RUN_DEFAULTS.items():
            if getattr(args, key) is None:
                setattr(ns, key, options.get(key, default))
        models = [args.model] if args.model else models
        check_run_options(ns, models)
        plan += [(ns, model) for model in models]
    return plan


def command_plan(argv: list[str]) -> list[tuple[argparse.Namespace, str]]:
    """`run_plan` of the command line `enginebench run ...argv` (the asv suite measures
    what that command would, through the same code)."""
    return run_plan(_parser().parse_args(["run", *argv]))


def check_timeout(timeout: float) -> None:
    if not (math.isfinite(timeout) and timeout > 0):
        raise UserError(f"--timeout {timeout:g}: give the seconds a cell process may take, "
                        "a number above 0")


def check_run_options(args: argparse.Namespace, models: list[str]) -> None:
    """Refuse, before anything runs, the options that cannot give the run asked for."""
    if args.machine is not None:
        check_machine_label(args.machine)
    if args.device not in registry.devices():
        raise UserError(f"--device {args.device!r}: no engine runs on it; devices: "
                        f"{', '.join(registry.devices())}")
    check_timeout(args.timeout)
    workload = workload_of(args)
    workload.validate()
    longest_p, longest_n = max(workload.prompt_tokens), max(workload.new_tokens)
    for model in models:
        context = model_config(model).max_position_embeddings  # an unknown model fails here
        if longest_p + longest_n > context:
            raise UserError(f"--prompt-tokens {longest_p} + --new-tokens {longest_n} = "
                            f"{longest_p + longest_n} tokens exceed model {model}'s context "
                            f"of {context} tokens (max_position_embeddings); the longest "
                            f"prompt it takes with {longest_n} new tokens is "
                            f"{context - longest_n}")


def progress_console(fmt: str) -> Console:
    """Where progress goes: stderr, lines never wrapped (a path stays whole), silent when
    stdout carries md, csv or json."""
    return Console(stderr=True, quiet=fmt != "table", soft_wrap=True)


def sweep_leftovers(err: Console) -> None:
    """Remove what runs killed outright left in the temp folder and the cache."""
    removed = sweep(cache_root())
    if removed:
        err.print(term(f"removed {len(removed)} temp folders of runs that were killed "
                       f"(e.g. {removed[0]})"))


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    from enginebench.measure.environment import default_machine_label

    plan = run_plan(args)
    machine = args.machine or default_machine_label()
    sweep_leftovers(progress_console(args.format))
    bandwidth = None  # measured once, for every run of the command
    for options, model in plan:
        options.machine = options.machine or machine
        _, bandwidth = run_model(options, model, console, bandwidth)
    return 0


def run_model(args: argparse.Namespace, model: str, console: Console,
              bandwidth: dict | None, command: str | None = None) -> tuple[Run, dict | None]:
    """Run the suite on one model (`command`: what the run document says ran it, else
    this process's command line); returns the run and the memory bandwidth it measured or
    was given."""
    classes = parse_engines(args.engines)
    check_precisions(classes, args.precisions)
    specs = [CellSpec(cls, p, args.device) for cls in classes
             for p in select_precisions(cls, args.precisions)]
    if not specs:
        raise UserError(f"no engine among {', '.join(c.name for c in classes)} has precision "
                        f"{args.precisions!r}; see `enginebench list`, or give "
                        "--precisions all")
    workload = workload_of(args)
    err = progress_console(args.format)
    with err.status(term(f"preparing model {model}")):
        ckpt = resolve_model(model)
    if args.roofline == "on" and bandwidth is None:
        bandwidth = _bandwidth(workload.threads, err)
    suite = Suite(ckpt, specs, workload, args.machine, args.out, timeout_s=args.timeout,
                  command=command, quality=args.quality == "on", bandwidth=bandwidth)
    cells = len(suite.specs)
    sweep = f" ({len(specs)} x {len(suite.points)} points)" if len(suite.points) > 1 else ""
    err.print(term(f"{cells} cells{sweep} x {workload.rounds} rounds -> {suite.path}"))

    total = cells * workload.rounds
    with err.status("") as status:
        done = 0

        def progress(spec: CellSpec, round_no: int, state: str) -> None:
            nonlocal done
            if state == "running":
                status.update(f"[{done + 1}/{total}] round {round_no + 1}: {spec.label}")
            else:
                done += 1
                err.print(term(f"  {spec.label} (round {round_no + 1}): {state}"))

        run = suite.run(progress)
    text = render(run, args.format, console)
    if text is not None:
        sys.stdout.write(text)
    err.print(term(f"saved {suite.path}"))
    return run, bandwidth


def cmd_ops(args: argparse.Namespace, console: Console) -> int:
    from enginebench.measure.environment import default_machine_label
    from enginebench.measure.ops_suite import BANDWIDTH_SIZES_MB, OpsSpec, run_ops
    from enginebench.ops.cases import OPS, model_cases
    from enginebench.ops.timing import TimingPlan
    from enginebench.report.ops_table import render_ops

    if args.machine is None:
        args.machine = default_machine_label()
    check_machine_label(args.machine)
    check_timeout(args.timeout)
    precisions = _split(args.precisions, PRECISION_CLASSES, "--precisions", "precision")
    ops = _split(args.ops, None, "--ops", "op")
    for name, value in (("--prompt-tokens", args.prompt_tokens), ("--context", args.context),
                        ("--peak-size", args.peak_size), ("--reps", args.reps),
                        ("--threads", args.threads)):
        if value < 1:
            raise UserError(f"{name} must be at least 1, not {value}")
    spec = OpsSpec(parse_ops_engines(args.engines), precisions, args.model,
                   model_config(args.model), args.prompt_tokens, args.context, args.peak_size,
                   ops, TimingPlan(args.warmups, args.reps, args.min_sample_ms / 1e3),
                   args.threads, args.device, args.timeout)
    cases = model_cases(spec.config, 1, 1)
    known = list(OPS) + [c.name for c in cases]
    _split(args.ops, tuple(known), "--ops", "op or case")
    if not spec.cells():
        raise UserError(f"no engine among {', '.join(c.name for c in spec.engines)} has "
                        f"precision {args.precisions!r} at op level; see `enginebench ops "
                        "--list`")
    err = progress_console(args.format)
    sweep_leftovers(err)
    bandwidth = _bandwidth(args.threads, err, BANDWIDTH_SIZES_MB)
    with err.status("") as status:
        def progress(state: str, text: str) -> None:
            if state == "running":
                status.update(text)
            else:
                err.print(term(f"  {text}"))

        run, path = run_ops(spec, args.machine, args.out, progress,
                            bandwidth)
    text = render_ops(run, args.format, console)
    if text is not None:
        sys.stdout.write(text)
    err.print(term(f"saved {path}"))
    return 0


def _split(text: str | None, allowed: tuple[str, ...] | None, option: str, what: str
           ) -> list[str] | None:
    """A comma list from the command line, each item checked against `allowed`."""
    if text is None:
        return None
    items = registry.split_list(text, option, allowed or ("a name",))
    bad = [x for x in items if allowed is not None and x not in allowed]
    if bad:
        raise UserError(f"unknown {what} {bad[0]!r}; choose from: {', '.join(allowed)}")
    return items


def _bandwidth(threads: int, err: Console, sizes_mb: tuple[int, ...] | None = None) -> dict:
    """Memory bandwidth for the rooflines, or why there is none (said on `err`)."""
    from enginebench.measure.bandwidth import SIZES_MB, bandwidth_or_reason

    with err.status(f"measuring memory bandwidth ({threads} threads)"):
        bandwidth = bandwidth_or_reason(threads, sizes_mb or SIZES_MB)
    if "error" in bandwidth:
        err.print(term(f"no memory roofline: {bandwidth['error']}"))
    return bandwidth


def cmd_show(args: argparse.Namespace, console: Console) -> int:
    doc = load_document(args.file)
    if isinstance(doc, OpsRun):
        from enginebench.report.ops_table import render_ops

        text = render_ops(doc, args.format, console)
    else:
        text = render(doc, args.format, console)
    if text is not None:
        sys.stdout.write(text)
    return 0


def machine_runs(out: Path, machine: str) -> list[Run]:
    """The machine's suite runs under `out`, oldest first; a file that cannot be read is
    skipped with one line on stderr, never the whole listing."""
    check_machine_label(machine)
    runs = []
    for path in list_runs(out):
        if path.parent.name != machine:
            continue
        try:
            doc = load_document(path)
        except UserError as e:
            print(f"skipped: {plain(e)}", file=sys.stderr)
            continue
        if isinstance(doc, Run):
            runs.append(doc)
    return sorted(runs, key=lambda r: (r.created_at, r.run_id))


def _compared_runs(args: argparse.Namespace) -> tuple[Run, Run]:
    """BASE and NEW from two files, or the machine's last two suite runs."""
    if args.machine:
        if args.files:
            raise UserError("compare: give two run files or --machine, not both")
        runs = machine_runs(args.out, args.machine)
        if len(runs) < 2:
            raise UserError(f"compare --machine {args.machine}: {len(runs)} suite run(s) in "
                            f"{args.out / args.machine}; two are needed")
        return runs[-2], runs[-1]
    if len(args.files) != 2:
        raise UserError(f"compare takes two run files (BASE NEW), got {len(args.files)}; "
                        "or --machine M for its last two runs")
    return load_run(args.files[0]), load_run(args.files[1])


def _new_pairs(args: argparse.Namespace) -> list[tuple[Run | None, Run]]:
    """Each suite run under --new DIR with the run it follows in --out (None: none)."""
    if args.files or args.machine:
        raise UserError("compare --new DIR compares every run in DIR with its predecessor "
                        "in --out; give no run files and no --machine with it")
    if not args.new.is_dir():
        raise UserError(f"compare --new {args.new}: not a folder of results")
    machines = sorted({p.parent.name for p in list_runs(args.new)})
    if not machines:
        raise UserError(f"compare --new {args.new}: no results files in <machine>/ folders")
    pairs: list[tuple[Run | None, Run]] = []
    for label in machines:
        history = machine_runs(args.out, label)
        pairs += [(previous_run(run, history), run)
                  for run in machine_runs(args.new, label)]
    return pairs


def cmd_compare(args: argparse.Namespace, console: Console) -> int:
    from enginebench.report.compare_table import render_comparison
    from enginebench.results.compare import Comparison, compare
    from enginebench.results.noise import noise_floor

    if args.noise_floor is not None and not 0 <= args.noise_floor < 100:
        raise UserError(f"--noise-floor {args.noise_floor:g}: a percentage from 0 to 100")
    if args.fail_above is not None and args.fail_above < 0:
        raise UserError(f"--fail-above {args.fail_above:g}: a percentage of 0 or more")
    pairs = _new_pairs(args) if args.new else [_compared_runs(args)]

    def against(base: Run, new: Run) -> Comparison:
        if args.noise_floor is not None:
            return compare(base, new, args.noise_floor, args.seed, noise_source="--noise-floor")
        label = new.machine.label
        floor = noise_floor(label, machine_runs(args.out, label))
        return compare(base, new, floor.pct, args.seed,
                       noise_source=f"measured on {label}: {floor.text}")

    slow = []
    for base, new in pairs:
        if base is None:
            print(f"{new.run_id} ({new.machine.label}, {new.model.get('name')}): no earlier "
                  f"run of this model and workload in {args.out}; nothing to compare",
                  file=sys.stderr)
            continue
        result = against(base, new)
        if not result.rows:
            if not args.new:
                raise UserError(f"{base.run_id} and {new.run_id} have no cell in common "
                                "(cells match on engine, precision, device, model and "
                                "workload point)")
            print(f"{new.run_id}: no cell in common with {base.run_id}", file=sys.stderr)
            continue
        text = render_comparison(result, args.format, console)
        if text is not None:
            sys.stdout.write(text)
        if args.fail_above is not None:
            slow += result.slowdowns_above(args.fail_above)
    for r in slow:
        print(f"slower by more than {args.fail_above:g}%: {r.engine} {r.precision} "
              f"{r.device} {r.point} {r.metric} x{r.ratio:.3f}", file=sys.stderr)
    return 1 if slow else 0


def cmd_noise(args: argparse.Namespace, console: Console) -> int:
    from enginebench.results.noise import RULE, noise_floor, save_noise_floor

    machines = [args.machine] if args.machine else \
        sorted({p.parent.name for p in list_runs(args.out)})
    table = Table(title=f"noise floor per machine: {RULE}", title_justify="left")
    for col in ("machine", "floor %", "round pairs", "run pairs", "Q3 %", "IQR %"):
        table.add_column(col, justify="left" if col == "machine" else "right")
    for machine in machines:
        runs = machine_runs(args.out, machine)
        f = noise_floor(machine, runs)
        if args.save:
            save_noise_floor(f, runs, args.save / f"{machine}.json")
        table.add_row(Text(machine), f"{f.pct:.1f}", str(f.within_run), str(f.across_runs),
                      "" if f.q3 is None else f"{f.q3:.1f}",
                      "" if f.iqr is None else f"{f.iqr:.1f}")
    console.print(table)
    return 0


def cmd_list(console: Console) -> int:
    """Every registered engine: its model face's precisions and devices, its op face's
    precision classes (or why it has none), and how to install it."""
    table = Table(title="engines")
    for col in ("engine", "installed", "version", "run precisions", "devices",
                "ops precisions", "install"):
        table.add_column(col, overflow="fold")
    no_ops = registry.no_op_api()
    for name, row in registry.ENGINES.items():
        model = registry.engine_class(name) if row.model else None
        ops = registry.ops_class(name) if row.ops else None
        face = model or ops
        assert face is not None
        ok = face.available()
        run_precisions = ", ".join(f"{p} ({c})" if p != c else p
                                   for p, c in model.precisions.items()) if model else \
            "(no model face)"
        ops_precisions = ", ".join(ops.precisions) if ops else \
            Text(f"no op-level API: {no_ops[name]}")
        table.add_row(name, "yes" if ok else "no", face.version() or "", run_precisions,
                      ", ".join(model.devices) if model else "cpu", ops_precisions,
                      "" if ok else Text(face.install))
    console.print(table)
    return 0


def _verified(ckpt_path: Path) -> str:
    """What a trained preset's build checked (models/trained.py), as one line."""
    try:
        checks = json.loads((ckpt_path / PRESET_MARKER).read_text()).get("verified") or {}
    except (OSError, ValueError, AttributeError):
        return ""
    if not isinstance(checks, dict) or "perplexity" not in checks:
        return ""
    return (f"; perplexity {checks['perplexity']} over {checks.get('perplexity_tokens')} "
            f"tokens of the evaluation passages; {checks.get('prompt')!r} -> "
            f"{checks.get('continuation')!r}")


def cmd_models(args: argparse.Namespace, console: Console) -> int:
    for name in args.generate or []:
        verb = "building" if PRESETS[name].trained else "generating"
        with console.status(f"{verb} {name}"):
            ckpt = resolve_model(name)
        console.print(term(f"{name}: {ckpt.path} ({ckpt.params / 1e6:.1f}M params)"
                           f"{_verified(ckpt.path)}"))
    if args.generate:
        return 0
    table = Table(title="model presets (built into the cache on first use)")
    for col in ("name", "params", "layers", "hidden", "heads/kv", "vocab", "dtype",
                "weights", "cached", "description"):
        table.add_column(col, no_wrap=col != "description")
    for p in PRESETS.values():
        params = preset_params(p)
        size = f"{params / 1e9:.2f}B" if params >= 1e9 else f"{params / 1e6:.1f}M"
        weights = f"trained ({p.weights.requirement})" if p.weights else "random"
        table.add_row(p.name, size, str(p.num_layers),
                      str(p.hidden_size), f"{p.num_heads}/{p.num_kv_heads}",
                      str(p.vocab_size), p.dtype, weights,
                      "yes" if (preset_dir(p) / "config.json").is_file() else "no",
                      p.description)
    console.print(table)
    console.print("Any local Llama/Mistral Hugging Face checkpoint directory also works: "
                  "--model PATH")
    return 0


def cmd_site(args: argparse.Namespace, console: Console) -> int:
    try:
        import material  # noqa: F401  (mkdocs-material, which mkdocs runs)
        import vl_convert  # noqa: F401

        from enginebench.site.build import build_site, serve
    except ModuleNotFoundError as e:
        raise UserError(f"enginebench site needs {e.name}, which is not installed: "
                        "pip install -e '.[site]' (make setup installs it)") from e

    with console.status("building the site"):
        report = build_site(Path.cwd(), args.data, args.out)
    for skipped in report.results.skipped:
        console.print(term(f"skipped {skipped.reason}"), style="yellow")
    console.print(term(f"{len(report.results.runs)} runs, {report.pages} pages: rendered in "
                       f"{report.render_s:.1f} s, mkdocs build {report.mkdocs_s:.1f} s -> "
                       f"{args.out}"))
    if args.serve:
        serve(args.out, args.port)
    return 0


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the harness is so that it ends like Ctrl-C: the
    running cell's process group is killed and finished cells stay saved."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _terminate(signum: int, frame: object) -> None:
    raise Terminated(signum)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # a signal the caller ignores (`nohup` ignores SIGHUP) stays ignored
    handlers = {s: signal.signal(s, _terminate) for s in (signal.SIGTERM, signal.SIGHUP)
                if signal.getsignal(s) is not signal.SIG_IGN}
    try:
        return _dispatch(args)
    finally:
        for s, handler in handlers.items():
            signal.signal(s, handler)


def _dispatch(args: argparse.Namespace) -> int:
    # piped output is not cut to 80 columns
    console = Console(width=None if sys.stdout.isatty() else 200)
    try:
        if args.command == "run":
            return cmd_run(args, console)
        if args.command == "ops":
            return cmd_ops(args, console)
        if args.command == "show":
            return cmd_show(args, console)
        if args.command == "compare":
            return cmd_compare(args, console)
        if args.command == "noise":
            return cmd_noise(args, console)
        if args.command == "list":
            return cmd_list(console)
        if args.command == "site":
            return cmd_site(args, console)
        return cmd_models(args, console)
    except UserError as e:
        print(f"error: {plain(e)}", file=sys.stderr)  # one line, never wrapped
        return 2
    except KeyboardInterrupt as e:
        if isinstance(e, Terminated):
            name = signal.Signals(e.signum).name
            print(f"stopped by {name}; finished cells are saved", file=sys.stderr)
            return 128 + e.signum
        print("interrupted; finished cells are saved", file=sys.stderr)
        return 130
