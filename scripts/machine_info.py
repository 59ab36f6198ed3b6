"""What a benchmark script prints about the machine it ran on: system, CPUs and their model, and
the load average at the moment of asking (on a shared machine, part of the result)."""
import os, platform


def describe():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
    except OSError:
        pass
    load = os.getloadavg()
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs ({model}), load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
