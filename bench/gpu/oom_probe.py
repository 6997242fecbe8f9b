"""Real CUDA out-of-memory through Clara's trainer: exit code 4 and an ``out_of_memory`` event.

The unit tests raise ``torch.cuda.OutOfMemoryError`` by hand; this probe makes the GPU run out
for real. It reuses the work folder of a finished ``trainer-gpu-check.sh --work-dir DIR`` run
(its model and data), asks for a batch far larger than the GPU holds, and checks what the
worker relies on: the process exits 4, it emits an ``error`` event with code
``out_of_memory``, and no checkpoint was written.

    python bench/gpu/oom_probe.py --work-dir DIR [--batch-size 4096]

Exit 0 when the outcome is as described, 1 otherwise (the events and stderr tail are printed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TRAINER_DIR = REPO_ROOT / "apps" / "trainer"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", required=True, help="work folder of trainer-gpu-check.sh --work-dir")
    parser.add_argument("--batch-size", type=int, default=4096)
    args = parser.parse_args()

    work_dir = Path(args.work_dir).resolve()
    template = work_dir / "clara-lora" / "job.json"
    if not template.is_file():
        print(f"[oom-probe] no {template}: run trainer-gpu-check.sh --work-dir {work_dir} first", file=sys.stderr)
        return 1
    run_dir = work_dir / "oom-probe"
    run_dir.mkdir(exist_ok=True)
    job = json.loads(template.read_text(encoding="utf-8"))
    job["job_id"] = "gpu-oom-probe"
    job["output_dir"] = str(run_dir / "output")
    job["hyperparameters"].update({"batch_size": args.batch_size, "max_steps": 2, "save_steps": 1})
    job_path = run_dir / "job.json"
    job_path.write_text(json.dumps(job, indent=2) + "\n", encoding="utf-8")

    env = dict(os.environ)
    env["PYTHONPATH"] = str(TRAINER_DIR) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"})
    proc = subprocess.run(
        [sys.executable, "-m", "clara_trainer", "--config", str(job_path)],
        cwd=run_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    events = []
    for line in proc.stdout.splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    error = next((e for e in events if e.get("type") == "error"), {})
    output = run_dir / "output"
    checkpoints = sorted(p.name for p in output.rglob("checkpoint-*")) if output.exists() else []
    ok = proc.returncode == 4 and error.get("code") == "out_of_memory" and not checkpoints
    print(f"[oom-probe] batch {args.batch_size}: exit {proc.returncode}, error event {json.dumps(error)}")
    print(f"[oom-probe] checkpoints written: {checkpoints or 'none'}")
    if not ok:
        print("[oom-probe] UNEXPECTED outcome; events:\n" + proc.stdout[-4000:])
        print("[oom-probe] stderr tail:\n" + "\n".join(proc.stderr.splitlines()[-30:]))
    print(f"[oom-probe] {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
