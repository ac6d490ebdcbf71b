"""The CPU a benchmark ran on, for its printed header: the model name and the vector extensions
that decide which kernels run."""
import platform


def _cpuinfo_field(name):
    """The value of the first /proc/cpuinfo line starting with name, or None."""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith(name):
                return line.split(":", 1)[1]
    except OSError:
        pass
    return None


def cpu_model():
    model = _cpuinfo_field("model name")
    return model.strip() if model is not None else (platform.processor() or "unknown CPU")


def cpu_flags():
    flags = set((_cpuinfo_field("flags") or "").split())
    return " ".join(f for f in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile") if f in flags)
