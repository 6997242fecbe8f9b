/** Variables a child process (the trainer) may inherit: toolchain and ML caches, never Clara's secrets. */
const INHERITED =
  /^(PATH|HOME|USER|LANG|LC_[A-Z]+|TZ|TMPDIR|HF_[A-Z_]+|HUGGINGFACE_[A-Z_]+|TRANSFORMERS_[A-Z_]+|TORCH_[A-Z_]+|PYTORCH_[A-Z_]+|NCCL_[A-Z_]+|OMP_NUM_THREADS|MKL_NUM_THREADS|OPENBLAS_[A-Z_]+|CUDA_HOME|CUDA_PATH|LD_LIBRARY_PATH|VIRTUAL_ENV|PYTHONHOME|BNB_[A-Z_]+)$/;

/**
 * The part of this process's environment that a spawned trainer should see. Everything
 * else (database URLs, JWT secrets, API keys) stays in the Clara process.
 */
export function inheritableEnvironment(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && INHERITED.test(name)) out[name] = value;
  }
  return out;
}
