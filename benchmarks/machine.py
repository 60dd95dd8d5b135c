"""What a benchmark ran on: CPU model, SIMD flags, threads, library versions (printed in every header)."""

import os
import platform

SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "avx512_vnni", "amx_bf16",
              "amx_tile")


def cpu_flags():
    """The CPU's flags from /proc/cpuinfo (empty where there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def machine_description():
    """CPU model, SIMD flags, cores and thread counts, library versions (one line each)."""
    import tensorflow as tf
    import torch
    import transformers

    import tfmodels

    model, flags = None, cpu_flags()
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None)
    except OSError:
        pass
    model = model or platform.processor() or "unknown CPU"
    threading = tf.config.threading
    simd = [flag for flag in SIMD_FLAGS if flag in flags] or ["(unknown: no /proc/cpuinfo)"]
    return [
        f"CPU: {model}; {os.cpu_count()} logical cores",
        f"CPU flags: {' '.join(simd)}",
        f"threads: torch {torch.get_num_threads()}, TF intra-op {threading.get_intra_op_parallelism_threads()} / "
        f"inter-op {threading.get_inter_op_parallelism_threads()} (0 = TF's default: all cores)",
        f"versions: tensorflow {tf.__version__}, torch {torch.__version__}, transformers {transformers.__version__}, "
        f"tfmodels {tfmodels.__version__}; TF_XLA_FLAGS={os.environ.get('TF_XLA_FLAGS', '')!r}",
    ]
