"""Clara's fine-tuning program: LoRA / QLoRA on a causal language model.

Run as ``python -m clara_trainer --config <run>/job.json``; see ``apps/trainer/README.md``
for the job schema, the stdout event protocol and the exit codes.
"""

__version__ = "0.1.0"
