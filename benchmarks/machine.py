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


def _onednn_state():
    """Whether TensorFlow runs its graph-mode matmuls through oneDNN (fused bias + GELU), and why.

    TensorFlow reads `TF_ENABLE_ONEDNN_OPTS` once, when it is imported. Left unset, it turns oneDNN on
    only on CPUs with AVX512-VNNI, AVX512-BF16 or AMX; elsewhere graph mode runs Eigen matmuls and
    does not fuse GELU into them (measured on an AVX2 AMD EPYC, 2026-12-02: BERT-base graph
    0.86x PyTorch unset, 1.05x with `TF_ENABLE_ONEDNN_OPTS=1`; packed tokens 1.09x -> 1.38x).
    """
    try:
        from tensorflow.python.util import _pywrap_util_port

        enabled = _pywrap_util_port.IsMklEnabled()
    except (ImportError, AttributeError):
        return "unknown"
    setting = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    why = f"TF_ENABLE_ONEDNN_OPTS={setting}" if setting is not None else "TF_ENABLE_ONEDNN_OPTS unset: TF's CPU default"
    return f"{'on' if enabled else 'off'} ({why})"


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
        f"oneDNN in TensorFlow's graph ops: {_onednn_state()}",
        f"versions: tensorflow {tf.__version__}, torch {torch.__version__}, transformers {transformers.__version__}, "
        f"tfmodels {tfmodels.__version__}; TF_XLA_FLAGS={os.environ.get('TF_XLA_FLAGS', '')!r}",
    ]
