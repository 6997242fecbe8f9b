"""GPU trainer check: Clara's trainer (LoRA bf16, QLoRA nf4) against a plain TRL + PEFT anchor.

Run through ``bash bench/gpu/trainer-gpu-check.sh`` (see bench/gpu/README.md). In one run, on
one GPU, it

1. checks the Python packages and CUDA, and says precisely what is missing;
2. builds a ~246M-parameter Llama model (random weights), a BPE tokenizer and a synthetic
   chat data set locally (``make_assets.py``; nothing is downloaded);
3. runs, each in its own process and with the same hyperparameters:
   Clara LoRA bf16, Clara QLoRA nf4 (``python -m clara_trainer --config job.json``),
   TRL LoRA bf16 and TRL QLoRA nf4 (``anchor_sft.py``);
4. prints a table (tokens/s, peak GPU memory, loss, Clara/anchor ratios) and writes it, with
   the raw numbers and the run logs, under ``$OUT`` if set, else ``bench/results/``.

``--cpu-smoke`` runs the same code on the CPU with a tiny model and 3 steps (QLoRA skipped).

Exit codes: 0 every planned run done; 1 a run failed; 2 nothing could run (a core package or
CUDA missing, bad arguments); 3 the table is incomplete because runs were skipped for a
missing package (bitsandbytes, trl).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parents[1]
TRAINER_DIR = REPO_ROOT / "apps" / "trainer"

EXIT_OK, EXIT_RUN_FAILED, EXIT_CANNOT_RUN, EXIT_INCOMPLETE = 0, 1, 2, 3

LLAMA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

HOW_MEASURED = (
    "Tokens are the non-padding tokens of the optimizer steps: the Trainer's `num_input_tokens_seen` "
    'with `include_num_input_tokens_seen="non_padding"` (the attention-mask sum of every batch), the '
    "setting Clara's trainer uses and the anchor is given; both trainers see the same batches (same "
    "records, sampler seed and tokenization: the token totals must match). Times are wall-clock "
    "times of the per-step loss logs (after the step's `.item()` synchronisation): Clara's `metric` "
    "events, the anchor's `on_log`. `tokens/s, steps K+1-N` = (tokens[N] - tokens[K]) / (time[N] - "
    "time[K]), leaving out the first K steps (CUDA/cuBLAS warm-up, Triton JIT of TRL's fused LM head); "
    "Clara's per-step token counts come from the anchor run with the same total. `tokens/s, whole "
    "loop` = tokens of all steps / time from the `trainer.train()` call (Clara: its `status "
    "training` event) to the last step's log. Model loading and tokenization come before both and "
    "are not counted. Peak GPU memory = `torch.cuda.max_memory_allocated()` at the last step's log, "
    "reset just before `trainer.train()` (so it includes the model weights). Loss = the per-step "
    "training loss on the assistant tokens (the same tokens in both): step 1, and the mean of the "
    "last steps. Ratios Clara/anchor use the K+1-N figure."
)


def log(message: str) -> None:
    print(f"[gpu-check] {message}", flush=True)


# --- settings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    smoke: bool
    preset: str
    records: int
    steps: int
    batch_size: int
    seq_len: int
    learning_rate: float
    warmup_steps: int
    measure_from_step: int  # steady-state tokens/s leaves out steps 1..measure_from_step
    min_items: int  # words/numbers per synthetic record
    max_items: int
    run_timeout_s: int

    def hyperparameters(self, precision: str) -> dict[str, Any]:
        """Clara's job.json ``hyperparameters``; the anchor gets the same values."""
        return {
            "max_steps": self.steps,
            "batch_size": self.batch_size,
            "gradient_accumulation_steps": 1,
            "max_seq_length": self.seq_len,
            "learning_rate": self.learning_rate,
            "lr_scheduler": "cosine",
            "warmup_steps": self.warmup_steps,
            "weight_decay": 0.0,
            "seed": 42,
            "lora_r": 16,
            "lora_alpha": 32,
            "lora_dropout": 0.05,
            "target_modules": LLAMA_TARGETS,
            "quantization_bits": 4,
            "quantization_type": "nf4",
            "logging_steps": 1,
            "save_steps": self.steps,  # one checkpoint, after the last step (outside the timing)
            "gradient_checkpointing": False,
            "precision": precision,
        }


def settings_from_args(args: argparse.Namespace) -> Settings:
    if args.cpu_smoke:
        defaults = {"preset": "tiny", "records": 64, "steps": 3, "batch_size": 2, "seq_len": 256, "warmup": 1}
        timeout = 600
    else:
        defaults = {"preset": "bench", "records": 4000, "steps": 100, "batch_size": 8, "seq_len": 512, "warmup": 5}
        timeout = 1200
    preset = args.preset or defaults["preset"]
    items = (3, 30) if preset == "tiny" else (8, 200)  # words / numbers per synthetic record
    steps = args.steps or defaults["steps"]
    skip = args.skip_steps if args.skip_steps is not None else (1 if args.cpu_smoke else 10)
    return Settings(
        smoke=args.cpu_smoke,
        preset=preset,
        records=args.records or defaults["records"],
        steps=args.steps or defaults["steps"],
        batch_size=args.batch_size or defaults["batch_size"],
        seq_len=args.seq_len or defaults["seq_len"],
        learning_rate=args.learning_rate,
        warmup_steps=min(defaults["warmup"], max(steps - 1, 0)),
        measure_from_step=min(skip, steps - 1),
        min_items=items[0],
        max_items=items[1],
        run_timeout_s=args.run_timeout or timeout,
    )


# --- environment check -----------------------------------------------------------------------------


def _pins(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    if not path.is_file():
        return pins
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\s*([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if match:
            pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


@dataclass(frozen=True)
class Package:
    name: str  # distribution name
    module: str
    needed_for: str
    install_hint: str


PACKAGES = (
    Package(
        "torch", "torch", "everything", "bash test/setup/python-venv.sh (CLARA_TRAINER_TORCH=gpu on a GPU machine)"
    ),
    Package("transformers", "transformers", "everything", "apps/trainer/requirements.txt"),
    Package("peft", "peft", "everything", "apps/trainer/requirements.txt"),
    Package("accelerate", "accelerate", "everything", "apps/trainer/requirements.txt"),
    Package("tokenizers", "tokenizers", "everything", "apps/trainer/requirements.txt"),
    Package("safetensors", "safetensors", "everything", "apps/trainer/requirements.txt"),
    Package("bitsandbytes", "bitsandbytes", "QLoRA runs (Clara and anchor)", "apps/trainer/requirements-gpu.txt"),
    Package("trl", "trl", "anchor runs (TRL LoRA and QLoRA)", "bench/gpu/requirements-anchor.txt"),
    Package("datasets", "datasets", "anchor runs (TRL LoRA and QLoRA)", "bench/gpu/requirements-anchor.txt"),
)
CORE = {p.name for p in PACKAGES if p.needed_for == "everything"}


@dataclass
class Environment:
    versions: dict[str, str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)  # package -> why
    notes: list[str] = field(default_factory=list)
    cuda: bool = False
    gpu_name: str | None = None
    bf16: bool = False
    cuda_visible_devices: str | None = None

    def has(self, *names: str) -> bool:
        return all(name not in self.missing for name in names)


def check_environment(smoke: bool) -> Environment:
    env = Environment()
    pins = _pins(TRAINER_DIR / "constraints.txt") | _pins(BENCH_DIR / "requirements-anchor.txt")
    log(f"python {platform.python_version()} at {sys.executable}")
    for package in PACKAGES:
        if importlib.util.find_spec(package.module) is None:
            pin = pins.get(package.name)
            wanted = f"{package.name}=={pin}" if pin else package.name
            env.missing[package.name] = (
                f"not installed (needed for {package.needed_for}; {wanted} from {package.install_hint})"
            )
            log(f"MISSING {package.name}: {env.missing[package.name]}")
            continue
        try:
            version = importlib.metadata.version(package.name)
        except importlib.metadata.PackageNotFoundError:
            version = "?"
        if package.name in ("bitsandbytes", "trl", "datasets") or package.name in CORE:
            try:
                importlib.import_module(package.module)
            except Exception as exc:  # noqa: BLE001 - a broken install (e.g. missing CUDA libraries)
                reason = f"installed ({version}) but `import {package.module}` fails: {type(exc).__name__}: {exc}"
                env.missing[package.name] = f"{reason} (needed for {package.needed_for})"
                log(f"BROKEN {package.name}: {env.missing[package.name]}")
                continue
        env.versions[package.name] = version
        pin = pins.get(package.name)
        drift = "" if pin is None or version.split("+")[0] == pin else f" (pinned {pin}: numbers may differ)"
        log(f"ok {package.name} {version}{drift}")

    if "torch" not in env.missing:
        import torch

        cuda_build = torch.version.cuda
        if smoke:
            env.notes.append("--cpu-smoke: CUDA hidden from the runs (CUDA_VISIBLE_DEVICES=''); QLoRA runs skipped")
            env.cuda_visible_devices = ""
        else:
            env.cuda = torch.cuda.is_available()
            if not env.cuda:
                visible = os.environ.get("CUDA_VISIBLE_DEVICES")
                why = "torch is a CPU-only build" if cuda_build is None else f"torch built for CUDA {cuda_build}"
                env.missing["cuda"] = (
                    f"torch.cuda.is_available() is False ({why}; CUDA_VISIBLE_DEVICES={visible!r}; "
                    f"nvidia-smi: {_nvidia_smi()}); use --cpu-smoke to check the logic without a GPU"
                )
                log(f"MISSING cuda: {env.missing['cuda']}")
            else:
                count = torch.cuda.device_count()
                env.gpu_name = torch.cuda.get_device_name(0)
                env.bf16 = torch.cuda.is_bf16_supported()
                visible = os.environ.get("CUDA_VISIBLE_DEVICES")
                first = visible.split(",")[0].strip() if visible else "0"
                env.cuda_visible_devices = first
                if count > 1 or not visible:
                    env.notes.append(f"{count} GPU(s) visible; every run uses one: CUDA_VISIBLE_DEVICES={first}")
                log(f"ok cuda {cuda_build}: {env.gpu_name} (bf16 {'yes' if env.bf16 else 'no'}, {count} visible)")
                if "trl" not in env.missing and importlib.util.find_spec("triton") is not None:
                    if not any(shutil.which(c) for c in ("cc", "gcc", "clang")):
                        env.notes.append(
                            "no C compiler (cc/gcc/clang) on PATH: Triton, which TRL's fused LM head uses on CUDA, "
                            "compiles a small launcher with one at first use, so the anchor runs may fail"
                        )
                        log(f"warning: {env.notes[-1]}")
    return env


def _nvidia_smi() -> str:
    if shutil.which("nvidia-smi") is None:
        return "not found"
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"failed ({exc})"
    text = (out.stdout or out.stderr).strip().replace("\n", "; ")
    return text or f"exit {out.returncode}"


# --- runs ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSpec:
    key: str
    trainer: str  # "clara" | "anchor"
    method: str  # "lora" | "qlora"
    label: str
    needs: tuple[str, ...]


# Run (and table) order: each Clara run next to its anchor.
RUNS = (
    RunSpec("clara-lora", "clara", "lora", "Clara LoRA bf16", ()),
    RunSpec("anchor-lora", "anchor", "lora", "TRL LoRA bf16", ("trl", "datasets")),
    RunSpec("clara-qlora", "clara", "qlora", "Clara QLoRA nf4", ("bitsandbytes", "cuda")),
    RunSpec("anchor-qlora", "anchor", "qlora", "TRL QLoRA nf4", ("trl", "datasets", "bitsandbytes", "cuda")),
)


@dataclass
class RunResult:
    spec: RunSpec
    status: str  # "ok" | "failed" | "skipped"
    reason: str = ""
    train_started: float | None = None  # epoch seconds, just before trainer.train()
    # One per logged step: {"step", "loss", "time" (epoch s), "tokens" (running count; None for Clara)}
    points: list[dict[str, Any]] = field(default_factory=list)
    tokens: int | None = None  # non-padding tokens of all steps
    peak_bytes: int | None = None
    steps: int | None = None
    wall_s: float | None = None  # whole process, imports and model load included
    steady_tps: float | None = None  # filled in by steady_state()
    steady_note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float | None:
        if self.points and self.train_started is not None:
            return self.points[-1]["time"] - self.train_started
        return None

    @property
    def tokens_per_second(self) -> float | None:
        seconds = self.seconds
        return self.tokens / seconds if self.tokens and seconds and seconds > 0 else None

    @property
    def losses(self) -> list[float]:
        return [p["loss"] for p in self.points]

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.spec.key,
            "label": self.spec.label,
            "status": self.status,
            "reason": self.reason,
            "train_tokens": self.tokens,
            "train_loop_seconds": self.seconds,
            "tokens_per_second": self.tokens_per_second,
            "steady_tokens_per_second": self.steady_tps,
            "steady_note": self.steady_note,
            "peak_gpu_memory_bytes": self.peak_bytes,
            "global_step": self.steps,
            "process_wall_seconds": self.wall_s,
            "train_started": self.train_started,
            "points": self.points,
            **self.extra,
        }


def steady_state(results: list[RunResult], skip: int) -> None:
    """tokens/s over steps ``skip+1..N``: (tokens[N] - tokens[skip]) / (time[N] - time[skip]).

    The anchor logs its running token count at every step. Clara's events do not carry it, so
    Clara's runs use an anchor's counts; both trainers see the same batches (same records,
    sampler seed and tokenization), which the check verifies by comparing the token totals.
    """
    anchors = [r for r in results if r.status == "ok" and r.spec.trainer == "anchor"]
    for result in results:
        if result.status != "ok" or skip < 1:
            continue
        times = {p["step"]: p["time"] for p in result.points}
        last = result.points[-1]["step"]
        if skip not in times or last <= skip:
            result.steady_note = f"no log at step {skip} or too few steps"
            continue
        if result.spec.trainer == "anchor":
            counts = {p["step"]: p["tokens"] for p in result.points}
        else:
            same = sorted(
                (r for r in anchors if r.tokens == result.tokens), key=lambda r: r.spec.method != result.spec.method
            )
            if not same:
                result.steady_note = (
                    "needs an anchor run with the same token total (per-step token counts come from it)"
                    if not anchors
                    else f"token total {result.tokens} differs from the anchor's "
                    f"({', '.join(str(r.tokens) for r in anchors)}): batches differ"
                )
                continue
            counts = {p["step"]: p["tokens"] for p in same[0].points}
            result.steady_note = f"per-step token counts from {same[0].spec.label} (same total)"
        if skip not in counts or last not in counts:
            result.steady_note = "per-step token counts missing"
            continue
        seconds = times[last] - times[skip]
        if seconds > 0:
            result.steady_tps = (counts[last] - counts[skip]) / seconds


def _subprocess_env(env: Environment, work_dir: Path) -> dict[str, str]:
    out = dict(os.environ)
    out.update(
        {
            "PYTHONPATH": str(TRAINER_DIR) + (os.pathsep + out["PYTHONPATH"] if out.get("PYTHONPATH") else ""),
            "HF_HOME": str(work_dir / "hf-home"),
            "HF_HUB_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if env.cuda_visible_devices is not None:
        out["CUDA_VISIBLE_DEVICES"] = env.cuda_visible_devices
    return out


def _run_process(
    argv: list[str], cwd: Path, env: dict[str, str], log_path: Path, timeout_s: int
) -> tuple[int, str, float]:
    """Run ``argv``; stderr to ``log_path``; returns (exit code, stdout, seconds). 124 on timeout."""
    started = time.monotonic()
    with log_path.open("w", encoding="utf-8") as err:
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=err, text=True, start_new_session=True
        )
        try:
            stdout, _ = proc.communicate(timeout=timeout_s)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                stdout, _ = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                stdout, _ = proc.communicate()
            code = 124
    return code, stdout or "", time.monotonic() - started


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def _iso_to_epoch(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def clara_job(
    spec: RunSpec, settings: Settings, precision: str, model_dir: Path, train_file: Path, run_dir: Path
) -> Path:
    job = {
        "job_id": f"gpu-check-{spec.key}",
        "base_model": str(model_dir),
        "method": spec.method,
        "record_format": "chat",
        "train_file": str(train_file),
        "output_dir": str(run_dir / "output"),
        "hyperparameters": settings.hyperparameters(precision),
    }
    path = run_dir / "job.json"
    path.write_text(json.dumps(job, indent=2) + "\n", encoding="utf-8")
    return path


def run_clara(
    spec: RunSpec, job_path: Path, run_dir: Path, logs_dir: Path, env: dict[str, str], timeout_s: int
) -> RunResult:
    argv = [sys.executable, "-m", "clara_trainer", "--config", str(job_path)]
    log_path = logs_dir / f"{spec.key}.stderr.log"
    code, stdout, wall = _run_process(argv, run_dir, env, log_path, timeout_s)
    (logs_dir / f"{spec.key}.events.jsonl").write_text(stdout, encoding="utf-8")
    events = []
    for line in stdout.splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    errors = [e for e in events if e.get("type") == "error"]
    if code != 0:
        why = f"exit {code}" + (" (timeout)" if code == 124 else "")
        if errors:
            why += f": {errors[-1].get('code')}: {errors[-1].get('message')}"
        return RunResult(spec, "failed", why + f"\n{_log_tail(log_path)}", wall_s=wall)
    start = next(
        (_iso_to_epoch(e["time"]) for e in events if e.get("type") == "status" and e.get("phase") == "training"), None
    )
    metrics = [e for e in events if e.get("type") == "metric" and "loss" in e]
    completed = next((e for e in events if e.get("type") == "status" and e.get("phase") == "completed"), {})
    data = next((e["data"] for e in events if e.get("type") == "status" and "data" in e), {})
    final = completed.get("final_metrics", {})
    if start is None or not metrics:
        return RunResult(spec, "failed", "no `status training` or no `metric` event with a loss", wall_s=wall)
    reported = [m["tokens_per_second"] for m in metrics[1:] if "tokens_per_second" in m]
    return RunResult(
        spec,
        "ok",
        train_started=start,
        points=[
            {"step": m["step"], "loss": m["loss"], "time": _iso_to_epoch(m["time"]), "tokens": None} for m in metrics
        ],
        tokens=final.get("train_tokens"),
        peak_bytes=metrics[-1].get("peak_gpu_memory_bytes"),
        steps=completed.get("global_step"),
        wall_s=wall,
        extra={
            "clara_reported_tokens_per_second_median": statistics.median(reported) if reported else None,
            "data": data,
            "final_metrics": final,
        },
    )


def run_anchor(
    spec: RunSpec, settings: Settings, precision: str, model_dir: Path, train_file: Path, run_dir: Path,
    logs_dir: Path, env: dict[str, str], timeout_s: int,
) -> RunResult:  # fmt: skip
    params = {
        "method": spec.method,
        "model_dir": str(model_dir),
        "train_file": str(train_file),
        "output_dir": str(run_dir / "output"),
        "hyperparameters": settings.hyperparameters(precision),
    }
    params_path = run_dir / "params.json"
    params_path.write_text(json.dumps(params, indent=2) + "\n", encoding="utf-8")
    result_path = run_dir / "result.json"
    argv = [
        sys.executable,
        str(BENCH_DIR / "anchor_sft.py"),
        "--params",
        str(params_path),
        "--result",
        str(result_path),
    ]
    log_path = logs_dir / f"{spec.key}.stderr.log"
    code, stdout, wall = _run_process(argv, run_dir, env, log_path, timeout_s)
    if stdout.strip():
        with log_path.open("a", encoding="utf-8") as handle:
            handle.write("\n--- stdout ---\n" + stdout)
    if code != 0 or not result_path.is_file():
        why = f"exit {code}" + (" (timeout)" if code == 124 else "")
        return RunResult(spec, "failed", f"{why}\n{_log_tail(log_path)}", wall_s=wall)
    result = json.loads(result_path.read_text(encoding="utf-8"))
    if not result.get("points"):
        return RunResult(spec, "failed", "the anchor logged no loss", wall_s=wall)
    return RunResult(
        spec,
        "ok",
        train_started=result["train_started"],
        points=result["points"],
        tokens=result["train_tokens"],
        peak_bytes=result.get("peak_gpu_memory_bytes"),
        steps=result.get("global_step"),
        wall_s=wall,
        extra={"train_examples": result.get("train_examples"), "versions": result.get("versions")},
    )


# --- report ------------------------------------------------------------------------------------------


def _gib(value: int | None) -> str:
    return "n/a (CPU)" if value is None else f"{value / 2**30:.2f} GiB"


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a and b else "—"


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def final_window(steps: int) -> int:
    return max(1, min(10, steps // 4))


def _loss_cell(result: RunResult, window: int) -> str:
    losses = result.losses
    if not losses:
        return "—"
    tail = losses[-window:]
    return f"{losses[0]:.3f} → {sum(tail) / len(tail):.3f}"


def _short_skip(result: RunResult) -> str:
    lacking = result.extra.get("lacking") or []
    return "skipped: needs " + ", ".join("CUDA" if n == "cuda" else n for n in lacking) if lacking else "skipped"


def render_report(
    settings: Settings, env: Environment, assets: Any, precision: str, results: list[RunResult], started_at: str
) -> str:
    window = final_window(settings.steps)
    k = settings.measure_from_step
    by_key = {r.spec.key: r for r in results}
    preset = assets.preset
    lines = [
        f"# Clara trainer GPU check{' (--cpu-smoke)' if settings.smoke else ''}",
        "",
        f"- started {started_at}; device: {env.gpu_name or 'CPU (no CUDA)'}; precision {precision}",
        f"- model: Llama, {assets.parameters / 1e6:.1f}M parameters, random weights (preset `{settings.preset}`: "
        f"{preset.num_hidden_layers} layers x {preset.hidden_size}, {preset.num_attention_heads} heads / "
        f"{preset.num_key_value_heads} KV heads, MLP {preset.intermediate_size}, {assets.vocab_size} vocabulary rows; "
        f"byte-level BPE tokenizer of {assets.tokenizer_vocab_size} tokens trained locally)",
        f"- data: {assets.records} synthetic single-turn chat records; {settings.steps} steps x batch "
        f"{settings.batch_size}, max_seq_length {settings.seq_len}, lr {settings.learning_rate:g} cosine with "
        f"{settings.warmup_steps} warm-up step{'s' if settings.warmup_steps != 1 else ''}, "
        f"LoRA r 16 / alpha 32 / dropout 0.05 on {', '.join(LLAMA_TARGETS)}",
        "- versions: " + ", ".join(f"{name} {version}" for name, version in sorted(env.versions.items())),
    ]
    lines += [f"- note: {note}" for note in env.notes]
    lines += [
        "",
        f"| run | tokens/s, steps {k + 1}-{settings.steps} | tokens/s, whole loop | peak GPU memory "
        f"| loss: step 1 → mean of last {window} | train tokens | loop s | Clara/anchor tokens/s "
        "| Clara/anchor memory |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        if result.status != "ok":
            what = _short_skip(result) if result.status == "skipped" else "FAILED (see below)"
            lines.append(f"| {result.spec.label} | {what} | | | | | | | |")
            continue
        ratio_tps = ratio_mem = "—"
        if result.spec.trainer == "clara":
            anchor = by_key.get(f"anchor-{result.spec.method}")
            if anchor is not None and anchor.status == "ok":
                ratio_tps = _ratio(result.steady_tps, anchor.steady_tps)
                ratio_mem = _ratio(result.peak_bytes, anchor.peak_bytes)
        seconds = result.seconds
        lines.append(
            f"| {result.spec.label} | {_rate(result.steady_tps)} | {_rate(result.tokens_per_second)} "
            f"| {_gib(result.peak_bytes)} | {_loss_cell(result, window)} "
            f"| {'—' if result.tokens is None else f'{result.tokens:,}'} "
            f"| {'—' if seconds is None else f'{seconds:.1f}'} | {ratio_tps} | {ratio_mem} |"
        )
    lines += ["", f"How measured: {HOW_MEASURED}", ""]
    for result in results:
        if result.status == "skipped":
            lines.append(f"- {result.spec.label} skipped: {result.reason}")
        if result.status != "ok":
            continue
        if result.steady_note:
            lines.append(f"- {result.spec.label}: steps {k + 1}-{settings.steps}: {result.steady_note}.")
        reported = result.extra.get("clara_reported_tokens_per_second_median")
        if reported:
            lines.append(
                f"- {result.spec.label}: Clara's own `metric` events say a median {reported:,.0f} tokens/s "
                "(steps 2-N; each step timed from its begin to its end callback, so batch loading and the "
                "per-step loss log fall outside it)."
            )
        data = result.extra.get("data") or {}
        if data:
            lengths = data.get("token_length", {})
            lines.append(
                f"- {result.spec.label}: {data.get('train_records')} records kept, {data.get('truncated_records')} "
                f"truncated at {data.get('max_seq_length')} tokens; record length p50 {lengths.get('p50')}, "
                f"p95 {lengths.get('p95')}, max {lengths.get('max')} tokens."
            )
        examples = result.extra.get("train_examples")
        if examples is not None:
            lines.append(f"- {result.spec.label}: {examples} records kept after TRL's preparation.")
        lines.append(
            f"- {result.spec.label}: {result.steps} steps; process wall time {result.wall_s:.1f} s "
            "(imports, data preparation and model load included)."
        )
    for result in results:
        if result.status == "failed":
            lines += ["", f"{result.spec.label} failed:", "```", result.reason.strip(), "```"]
    return "\n".join(lines) + "\n"


# --- main --------------------------------------------------------------------------------------------


def _results_dir() -> Path:
    out = os.environ.get("OUT")
    return Path(out) if out else REPO_ROOT / "bench" / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bash bench/gpu/trainer-gpu-check.sh",
        description="Clara's trainer (LoRA bf16, QLoRA nf4) against a plain TRL + PEFT anchor on one GPU.",
    )
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny model, 3 steps, on the CPU (QLoRA skipped)")
    parser.add_argument("--steps", type=int, help="optimizer steps per run (default 100; smoke 3)")
    parser.add_argument(
        "--skip-steps", type=int, help="warm-up steps left out of the steady tokens/s (default 10; smoke 1)"
    )
    parser.add_argument("--batch-size", type=int, help="per-device batch size (default 8; smoke 2)")
    parser.add_argument("--seq-len", type=int, help="max_seq_length (default 512; smoke 256)")
    parser.add_argument(
        "--preset", choices=("bench", "tiny"), help="model size: bench (~246M, the default) or tiny (smoke default)"
    )
    parser.add_argument("--records", type=int, help="synthetic records (default 4000; smoke 64)")
    parser.add_argument("--learning-rate", type=float, default=2e-4, help="default 2e-4 (Clara's default)")
    parser.add_argument("--runs", help="comma-separated subset of " + ",".join(r.key for r in RUNS))
    parser.add_argument(
        "--run-timeout", type=int, help="seconds per run before it is stopped (default 1200; smoke 600)"
    )
    parser.add_argument("--work-dir", help="where model, data and checkpoints go (default: a new temporary folder)")
    parser.add_argument("--keep-work-dir", action="store_true", help="do not delete the work folder at the end")
    args = parser.parse_args(argv)
    for name in ("steps", "batch_size", "seq_len", "records", "run_timeout"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.steps is not None and args.steps < 2:
        parser.error("--steps must be >= 2")
    if args.skip_steps is not None and args.skip_steps < 0:
        parser.error("--skip-steps must be >= 0")
    if args.runs:
        unknown = set(args.runs.split(",")) - {r.key for r in RUNS}
        if unknown:
            parser.error(f"unknown --runs {sorted(unknown)}")
    return args


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as exc:
        return EXIT_OK if exc.code in (0, None) else EXIT_CANNOT_RUN
    settings = settings_from_args(args)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    started_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    log(f"{'CPU smoke' if settings.smoke else 'GPU'} check, repo {REPO_ROOT}")

    env = check_environment(settings.smoke)
    missing_core = sorted(CORE & set(env.missing))
    if missing_core or (not settings.smoke and "cuda" in env.missing):
        what = missing_core + (["cuda"] if "cuda" in env.missing and not settings.smoke else [])
        log(f"cannot run: missing {', '.join(what)} (details above); nothing was run")
        return EXIT_CANNOT_RUN
    if settings.smoke:
        env.missing.setdefault("cuda", "no CUDA in --cpu-smoke")
    precision = "bf16" if (settings.smoke or env.bf16) else "fp16"
    if precision != "bf16":
        env.notes.append(f"{env.gpu_name} has no bf16: all runs use fp16")

    wanted = set(args.runs.split(",")) if args.runs else {r.key for r in RUNS}
    plan: list[tuple[RunSpec, list[str]]] = []
    for spec in RUNS:
        if spec.key in wanted:
            plan.append((spec, [n for n in spec.needs if n in env.missing]))
    for spec, lacking in plan:
        if lacking:
            log(f"will skip {spec.label}: " + "; ".join(f"{n}: {env.missing[n]}" for n in lacking))

    work_dir = Path(args.work_dir).resolve() if args.work_dir else Path(tempfile.mkdtemp(prefix="clara-gpu-check-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    results_dir = _results_dir()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    stem = f"trainer-gpu-check{'-cpu-smoke' if settings.smoke else ''}-{stamp}"
    logs_dir = results_dir / f"{stem}-logs"
    logs_dir.mkdir(parents=True, exist_ok=True)
    try:
        from make_assets import PRESETS, build_assets

        log(f"building model, tokenizer and {settings.records} records in {work_dir}")
        t0 = time.monotonic()
        assets = build_assets(
            work_dir / "assets",
            PRESETS[settings.preset],
            settings.records,
            min_items=settings.min_items,
            max_items=settings.max_items,
        )
        log(
            f"assets ready in {time.monotonic() - t0:.1f} s: {assets.parameters / 1e6:.1f}M parameters, "
            f"vocabulary {assets.vocab_size} (tokenizer {assets.tokenizer_vocab_size})"
        )

        # Every job.json goes through Clara's own validation first (also the QLoRA ones that are skipped).
        from clara_trainer.config import load_job_config

        jobs: dict[str, Path] = {}
        for spec in RUNS:
            if spec.trainer == "clara" and spec.key in wanted:
                run_dir = work_dir / spec.key
                run_dir.mkdir(parents=True, exist_ok=True)
                jobs[spec.key] = clara_job(spec, settings, precision, assets.model_dir, assets.train_file, run_dir)
                load_job_config(jobs[spec.key])
        log(f"job.json valid for {', '.join(jobs) or 'no Clara run'}")

        sub_env = _subprocess_env(env, work_dir)
        results: list[RunResult] = []
        runnable = [spec for spec, lacking in plan if not lacking]
        for spec, lacking in plan:
            if lacking:
                reason = "; ".join(f"{n}: {env.missing[n]}" for n in lacking)
                results.append(RunResult(spec, "skipped", reason, extra={"lacking": lacking}))
                continue
            index = runnable.index(spec) + 1
            log(f"[{index}/{len(runnable)}] {spec.label} ...")
            run_dir = work_dir / spec.key
            run_dir.mkdir(parents=True, exist_ok=True)
            if spec.trainer == "clara":
                result = run_clara(spec, jobs[spec.key], run_dir, logs_dir, sub_env, settings.run_timeout_s)
            else:
                result = run_anchor(
                    spec, settings, precision, assets.model_dir, assets.train_file, run_dir, logs_dir, sub_env,
                    settings.run_timeout_s,
                )  # fmt: skip
            if result.status == "ok":
                tps = result.tokens_per_second
                log(
                    f"[{index}/{len(runnable)}] {spec.label}: {result.steps} steps, {result.tokens} tokens in "
                    f"{result.seconds:.1f} s = {tps or 0:,.0f} tokens/s, peak {_gib(result.peak_bytes)}, "
                    f"process {result.wall_s:.1f} s"
                )
            else:
                log(f"[{index}/{len(runnable)}] {spec.label} FAILED: {result.reason}")
            results.append(result)

        steady_state(results, settings.measure_from_step)
        report = render_report(settings, env, assets, precision, results, started_at)
        print()
        print(report, flush=True)
        (results_dir / f"{stem}.md").write_text(report, encoding="utf-8")
        raw = {
            "started_at": started_at,
            "settings": settings.__dict__,
            "precision": precision,
            "environment": {
                "versions": env.versions,
                "missing": env.missing,
                "gpu": env.gpu_name,
                "notes": env.notes,
                "python": platform.python_version(),
            },
            "assets": assets.to_dict(),
            "how_measured": HOW_MEASURED,
            "runs": [r.to_dict() for r in results],
        }
        (results_dir / f"{stem}.json").write_text(json.dumps(raw, indent=2, default=str) + "\n", encoding="utf-8")
        log(f"written {results_dir / (stem + '.md')} (+ .json, logs in {logs_dir.name}/)")
    finally:
        if args.keep_work_dir or args.work_dir:
            log(f"work folder kept: {work_dir}")
        else:
            shutil.rmtree(work_dir, ignore_errors=True)

    if any(r.status == "failed" for r in results):
        return EXIT_RUN_FAILED
    expected_skips = {"clara-qlora", "anchor-qlora"} if settings.smoke else set()
    if any(r.status == "skipped" and r.spec.key not in expected_skips for r in results):
        log("incomplete: runs were skipped for a missing package (see above)")
        return EXIT_INCOMPLETE
    return EXIT_OK


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH_DIR))
    sys.path.insert(0, str(TRAINER_DIR))
    sys.exit(main())
