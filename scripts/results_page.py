"""docs/results.md from the outputs of scripts/reproduce.py (issue 17): for each of the paper's
claims a verdict computed from paired intervals, the tables and plots behind it, how long each
part took and on which machine. The evaluation JSONs are copied beside the page
(docs/results/reproduce/) so the numbers stay checkable.

    python3 scripts/results_page.py [ROOT] [PAGE]   (defaults: runs/reproduce docs/results.md)

Verdicts: A "helps" when its best-of-K PSNR is higher with a paired 95% interval above zero
and its frame FID is lower; "hurts" when both say the opposite; otherwise "unclear" (the
interval includes zero, or PSNR and FID disagree).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

from canvasmar.evaluation.compare import compare

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))  # results_plots

METRIC = "psnr_best_of_k"


def _load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def _steps(record: dict) -> list[int]:
    return sorted(int(k.rsplit("_", 1)[1]) for k in record["results"] if k.startswith("model_"))


def paired(a: Path, b: Path, step_a: int, step_b: int) -> dict:
    """A - B at the given MAR steps: the PSNR difference with its interval, both FIDs."""
    result = compare(a, b, f"model_steps_{step_a}", f"model_steps_{step_b}")
    d = result["paired"][METRIC]["a_minus_b"]
    fid = result["unpaired"].get("fid", {})
    return {"psnr_diff": d["mean"], "low": d["ci95_low"], "high": d["ci95_high"],
            "fid_a": fid.get("a"), "fid_b": fid.get("b")}


def unguided(d: Path) -> Path:
    """CanvasMAR at 4 steps without guidance: the motion sweep's record (reproduce.py scores it
    there, with the seed, clips and batches of the guided runs), or an older run's own file."""
    own = d / "guidance-none.json"
    return own if own.exists() else d / "sweep-motion.json"


def judge(p: dict) -> str:
    better_fid = p["fid_a"] is not None and p["fid_a"] < p["fid_b"]
    worse_fid = p["fid_a"] is not None and p["fid_a"] > p["fid_b"]
    if p["low"] > 0 and better_fid:
        return "helps"
    if p["high"] < 0 and worse_fid:
        return "hurts"
    return "unclear"


def describe(p: dict) -> str:
    fid = "" if p["fid_a"] is None else f", FID {p['fid_a']:.2f} vs {p['fid_b']:.2f}"
    return f"PSNR {p['psnr_diff']:+.3f} dB [{p['low']:+.3f}, {p['high']:+.3f}]{fid}"


def dataset_claims(d: Path) -> list[tuple[str, str, str]]:
    """(claim, verdict, evidence) rows for one dataset's outputs."""
    motion, random, nocanvas = (d / f"sweep-{n}.json" for n in ("motion", "random", "nocanvas"))
    rows = []
    sweep = _load(motion)
    steps = _steps(sweep) if sweep else []
    if sweep:
        # the context of every other row: comparisons between models that both lose to
        # copying the last frame mean little (issue 17)
        record = sweep["results"]
        step = 4 if 4 in steps else steps[-1]
        model, copy = record[f"model_steps_{step}"], record["copy_last"]
        beats = model[METRIC] > copy[METRIC] and model.get("fid", 0) <= copy.get("fid", 0)
        fid = (f", FID {model['fid']:.2f} vs {copy['fid']:.2f}" if "fid" in model else "")
        rows.append((f"(context) CanvasMAR at {step} steps beats copying the last frame",
                     "yes" if beats else "no", f"best-of-K PSNR {model[METRIC]:.2f} vs "
                     f"{copy[METRIC]:.2f} dB{fid}"))
    if sweep and nocanvas.exists():
        per_step = {s: paired(motion, nocanvas, s, s) for s in steps}
        verdicts = {s: judge(p) for s, p in per_step.items()}
        ok = all(v == "helps" for v in verdicts.values())
        rows.append(("The canvas helps at every step count",
                     "agrees" if ok else "does not agree",
                     "; ".join(f"N_AR={s}: {verdicts[s]} ({describe(p)})"
                               for s, p in per_step.items())))
        first, last = per_step[steps[0]], per_step[steps[-1]]
        # by both metrics, as "helps" is: a larger PSNR gain and a larger FID gain (fid_b -
        # fid_a) at the fewest steps than at the most
        fid_gain = {k: None if p["fid_a"] is None else p["fid_b"] - p["fid_a"]
                    for k, p in (("first", first), ("last", last))}
        most = first["psnr_diff"] > last["psnr_diff"] and (
            fid_gain["first"] is None or fid_gain["first"] > fid_gain["last"])
        fid_text = ("" if fid_gain["first"] is None else
                    f"; FID gain {fid_gain['first']:+.2f} at N_AR={steps[0]}, "
                    f"{fid_gain['last']:+.2f} at N_AR={steps[-1]}")
        rows.append(("... and most at few steps", "agrees" if most else "does not agree",
                     f"PSNR gain {first['psnr_diff']:+.3f} dB at N_AR={steps[0]}, "
                     f"{last['psnr_diff']:+.3f} dB at N_AR={steps[-1]}{fid_text}"))
        if 4 in steps:
            p = paired(motion, nocanvas, 4, steps[-1])
            as_good = p["high"] >= 0 and (p["fid_a"] is None or p["fid_a"] <= p["fid_b"])
            rows.append((f"CanvasMAR at 4 steps is at least as good as no-canvas at "
                         f"{steps[-1]} (compass goal)",
                         "agrees" if as_good else "does not agree", describe(p)))
    if sweep and random.exists():
        per_step = {s: paired(motion, random, s, s) for s in steps[:2]}
        ok = all(judge(p) == "helps" for p in per_step.values())
        rows.append(("The motion-aware order helps at few steps",
                     "agrees" if ok else "does not agree",
                     "; ".join(f"N_AR={s}: {judge(p)} ({describe(p)})"
                               for s, p in per_step.items())))
    none = unguided(d)
    choice = _load(d / "guidance-choice.json")
    for branch in ("canvas", "temporal"):
        path = d / f"guidance-{branch}.json"
        if path.exists() and none.exists():
            p = paired(path, none, 4, 4)
            chosen = choice["chosen"] if choice else {}
            scale = chosen.get("cfg_canvas" if branch == "canvas" else "cfg_temporal")
            off = float(scale) == 1.0  # val chose no guidance on this branch
            rows.append((f"The {branch} guidance branch helps (scale {scale} chosen on val)",
                         "agrees" if judge(p) == "helps" and not off else "does not agree",
                         "val chose scale 1 (no guidance on this branch)" if off
                         else describe(p)))
    return rows


def next_group_claims(d: Path) -> list[tuple[str, str, str]]:
    rows = []
    # next-1 at 4 steps without guidance is the guidance study's "none" (the same clips)
    next2, next1 = d / "next2-steps4.json", unguided(d)
    if next2.exists() and next1.exists():
        p = paired(next2, next1, 4, 4)
        a = _load(next2)["results"]["model_steps_4"]
        b = _load(next1)["results"]["model_steps_4"]
        close_psnr = abs(a[METRIC] - b[METRIC]) <= 0.1 * b[METRIC]
        close_fid = "fid" not in a or a["fid"] <= 1.1 * b["fid"]
        rows.append(("Next-2 is close to next-1 in quality (within 10% on FID and best-of-K "
                     "PSNR)", "agrees" if close_psnr and close_fid else "does not agree",
                     describe(p)))
    latency = _load(d / "latency.json")
    if latency:
        total = {(r["model"], r["guidance"]): r["total_ms"] for r in latency["rows"]
                 if r["batch"] == 1}
        if total:
            speed = total[("next-1", "none")] / total[("next-2", "none")]
            rows.append(("Next-2 is at least 1.8x faster than next-1 at batch 1",
                         "agrees" if speed >= 1.8 else "does not agree",
                         f"{speed:.2f}x (16 frames, 4 steps, no guidance; "
                         f"{total[('next-1', 'none')]:.0f} vs {total[('next-2', 'none')]:.0f} "
                         f"ms)"))
    return rows


def sweep_table(d: Path) -> list[str]:
    records = {n: _load(d / f"sweep-{n}.json") for n in ("motion", "random", "nocanvas")}
    if not records["motion"]:
        return []
    lines = ["| variant | N_AR | FID | KID | best-of-K PSNR | best-of-K SSIM |",
             "|---|---:|---:|---:|---:|---:|"]
    labels = {"motion": "CanvasMAR, motion order", "random": "CanvasMAR, random order",
              "nocanvas": "no canvas"}
    for name, record in records.items():
        if record is None:
            continue
        for step in _steps(record):
            lines.append(_row(f"{labels[name]}", step, record["results"][f"model_steps_{step}"]))
    base = records["motion"]["results"]
    for name in ("copy_last", "canvas_only"):
        if name in base:
            lines.append(_row(name.replace("_", "-"), "", base[name]))
    return lines


def _row(label: str, step, r: dict) -> str:
    def f(key: str, fmt: str) -> str:
        return format(r[key], fmt) if key in r else "-"
    return (f"| {label} | {step} | {f('fid', '.2f')} | {f('kid', '.4g')} | "
            f"{f('psnr_best_of_k', '.2f')} | {f('ssim_best_of_k', '.3f')} |")


def guidance_table(d: Path) -> list[str]:
    choice = _load(d / "guidance-choice.json")
    if choice is None:
        return []
    c = choice["chosen"]
    lines = [f"Chosen on val by frame FID: w_s = {c['cfg_canvas']}, w_t = {c['cfg_temporal']} "
             f"(`canvasmar choose`, 4 steps). The grid on val:", "",
             "| w_s (canvas) | w_t (temporal) | FID | best-of-K PSNR |", "|---:|---:|---:|---:|"]
    lines += [f"| {p['cfg_canvas']} | {p['cfg_temporal']} | {p['fid']:.2f} | "
              f"{p['psnr_best_of_k']:.2f} |" for p in choice.get("points", [])]
    lines += ["", "| guidance on test (4 steps) | FID | KID | best-of-K PSNR | best-of-K SSIM |",
              "|---|---:|---:|---:|---:|"]
    for branch in ("both", "canvas", "temporal", "none"):
        record = _load(unguided(d) if branch == "none" else d / f"guidance-{branch}.json")
        if record:
            off = branch != "none" and branch_is_off(c, branch)
            label = f"{branch} (= none: val chose scale 1)" if off else branch
            row = _row(label, "", record["results"]["model_steps_4"])
            lines.append(row.replace(" |  |", " |", 1))
    return lines


def branch_is_off(chosen: dict, branch: str) -> bool:
    """Whether val left this guidance branch at scale 1 (its run is the unguided one)."""
    from reproduce_steps import branch_scales

    return branch_scales(chosen, branch) == (1.0, 1.0)


def latency_table(d: Path) -> list[str]:
    latency = _load(d / "latency.json")
    if not latency:
        return []
    lines = ["| model | batch | guidance | first frame (ms) | 16 frames (ms) |",
             "|---|---:|---|---:|---:|"]
    for r in latency["rows"]:
        lines.append(f"| {r['model']} | {r['batch']} | {r['guidance']} | "
                     f"{r['first_frame_ms']:.0f} | {r['total_ms']:.0f} |")
    return lines


def _kept(root: Path, raw: Path) -> tuple[dict, dict[str, dict]]:
    """Stage times and, per dataset, the machine that ran it: those of earlier runs kept beside
    the raw JSONs, updated with this root's, and kept again (one session may run the builtin
    half, a later one on another machine the Pong half: the page still shows both, each with
    its machine). An older flat machine.json was the builtin half's."""
    raw.mkdir(parents=True, exist_ok=True)
    times = {**(_load(raw / "times.json") or {}), **(_load(root / "times.json") or {})}
    machines = _load(raw / "machine.json") or {}
    if machines and not all(isinstance(m, dict) for m in machines.values()):
        machines = {"builtin": machines}
    this = _load(root / "machine.json")
    if this:
        machines |= {dataset: this for dataset in ("builtin", "pong")
                     if (root / dataset).exists()}
    (raw / "times.json").write_text(json.dumps(times, indent=2) + "\n")
    if machines:
        (raw / "machine.json").write_text(json.dumps(machines, indent=1) + "\n")
    return times, machines


def _outputs(root: Path, raw: Path, dataset: str) -> Path:
    """Where a dataset's outputs are: this root's, copied beside the page, or, if this root
    has none (it ran the other dataset), the copies an earlier run left there."""
    d, kept = root / dataset, raw / dataset
    if not d.exists():
        return kept
    kept.mkdir(parents=True, exist_ok=True)
    for path in sorted(d.glob("*.json")):
        shutil.copyfile(path, kept / path.name)
    return d


def write_page(root: Path, page: Path, scale: str = "cpu") -> None:
    from results_plots import plot_latency, plot_sweep

    raw, img = page.parent / "results" / "reproduce", page.parent / "img"
    img.mkdir(parents=True, exist_ok=True)
    times, machines = _kept(root, raw)
    sources = {dataset: _outputs(root, raw, dataset) for dataset in ("builtin", "pong")}
    lines = ["# The paper's claims at our scale", "",
             f"Written by `scripts/results_page.py` from `make reproduce` "
             f"(scripts/reproduce.py, {scale} scale) on {datetime.now(UTC):%Y-%m-%d}. Raw "
             f"evaluation JSONs: `{raw.relative_to(page.parent)}/`.", "",
             "| claim | dataset | verdict | evidence (A - B, paired 95% interval) |",
             "|---|---|---|---|"]
    for dataset, d in sources.items():
        claims = dataset_claims(d) + (next_group_claims(d) if dataset == "builtin" else [])
        lines += [f"| {c} | {dataset} | **{v}** | {e} |" for c, v, e in claims]
    for dataset, d in sources.items():
        if not d.exists():
            continue
        lines += ["", f"## {dataset}", "", *sweep_table(d), ""]
        if plot_sweep(d, img / f"results-{dataset}-sweep.png"):
            lines += [f"![{dataset}: FID and best-of-K PSNR against N_AR]"
                      f"(img/results-{dataset}-sweep.png)", ""]
        lines += guidance_table(d)
        if dataset == "builtin":
            lines += ["", *latency_table(d)]
            if plot_latency(d, img / "results-latency.png"):
                lines += ["", "![latency against batch](img/results-latency.png)"]
    lines += ["", "## How long each part took", "", "| stage | minutes |", "|---|---:|"]
    lines += [f"| {name} | {seconds / 60:.1f} |" for name, seconds in times.items()]
    for dataset, machine in machines.items():
        lines += ["", f"Machine ({dataset}): `{json.dumps(machine)}`."]
    notes = raw / "notes.md"  # written by hand after a full run: why results disagree
    if notes.exists():
        lines += ["", "## Notes", "", notes.read_text().strip()]
    page.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="docs/results.md from a `make reproduce` root "
                                                 "(merged with the committed raw JSONs)")
    parser.add_argument("root", nargs="?", default=str(REPO / "runs" / "reproduce"),
                        help="the reproduce root (default runs/reproduce)")
    parser.add_argument("page", nargs="?", default=str(REPO / "docs" / "results.md"),
                        help="the page to write (default docs/results.md)")
    args = parser.parse_args(argv)
    if not Path(args.root).is_dir():
        print(f"error: {args.root} is not a folder: give the root `make reproduce` wrote "
              f"(runs/reproduce unless --root was given)", file=sys.stderr)
        return 2
    write_page(Path(args.root), Path(args.page))
    print(f"wrote {args.page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
