"""``python -m dynapse2.doctor`` (or ``dynapse2-doctor``): what a board user runs first.

Reports in a few lines, without hanging and without downloading anything (a bootstrapper
samna is never imported): Python and JAX, the samna build and its generation, the devices
samna lists, the FPGA bitfile, the udev rules on Linux; and for each problem the one thing to
do. Exits with status 1 when ``to_hardware`` on a board would fail, 0 otherwise.

    python -m dynapse2.doctor [--bitfile PATH]
"""

from __future__ import annotations

import argparse
import glob
import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["Report", "diagnose", "main"]

UDEV_RULES: tuple[str, ...] = ("/etc/udev/rules.d/*synsense*", "/lib/udev/rules.d/*synsense*")
"""Where samna's udev rules (``60-synsense.rules``) are looked for on Linux."""


@dataclass
class Report:
    """The doctor's findings: ``lines`` (label, finding) and ``problems`` (what to do)."""

    lines: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Deploying to a board can work."""
        return not self.problems

    def __str__(self) -> str:
        width = max(len(k) for k, _ in self.lines)
        out = [f"{k:<{width}}  {v}" for k, v in self.lines]
        if self.problems:
            out.append("")
            out += [f"to do: {p}" for p in self.problems]
        else:
            out += ["", "ready: to_hardware(net) can open the board"]
        return "\n".join(out)


def _jax() -> str:
    try:
        import jax  # noqa: PLC0415
    except ImportError as e:  # pragma: no cover - jax is a dependency
        return f"not importable ({e})"
    return f"{jax.__version__} ({', '.join(sorted({d.platform for d in jax.devices()}))})"


def diagnose(bitfile: str | None = None) -> Report:
    """Check the set-up for a Stack board (see the module docstring)."""
    from dynapse2.hardware import samna_backend as sb  # noqa: PLC0415
    from dynapse2.hardware import samna_current as cur  # noqa: PLC0415

    r = Report()
    r.lines.append(("python", f"{platform.python_version()} ({sys.executable})"))
    r.lines.append(("jax", _jax()))
    st = sb.samna_status()
    need = ".".join(map(str, cur.MIN_VERSION))
    install = f"install the vendor's samna >= {need} from its package index"
    current = False
    if st.kind == "missing":
        r.lines.append(("samna", "not installed"))
        r.problems.append(f"{install} (a PyPI samna is a bootstrapper that downloads it)")
    elif st.kind == "bootstrapper":
        r.lines.append(("samna", f"{st.version}: a bootstrapper, not imported ({st.detail})"))
        r.problems.append(
            f"import samna once where its index is reachable (it installs samna {st.version}), "
            f"or {install}"
        )
    elif st.version is not None and sb._version_tuple(st.version) < cur.MIN_VERSION:
        r.lines.append(("samna", f"{st.version}: a real build, conversion only (to_samna)"))
        r.problems.append(f"samna {st.version} cannot drive a board: {install}")
    else:
        current = True
        r.lines.append(("samna", f"{st.version}: a real build that drives boards (>= {need})"))
    if current:
        _devices(r)
    path = bitfile if bitfile is not None else os.environ.get(cur.BITFILE_ENV)
    if not path:
        r.lines.append(("bitfile", f"none (--bitfile or ${cur.BITFILE_ENV})"))
        r.problems.append(
            f"set {cur.BITFILE_ENV} (or pass to_hardware(net, bitfile=...)) to the "
            "Dynapse2Stack.bit that ships with the vendor's software; the FPGA needs it after "
            "every power-up"
        )
    elif not os.path.isfile(path):
        r.lines.append(("bitfile", f"{path}: does not exist"))
        r.problems.append(f"the bitfile {path} does not exist: point {cur.BITFILE_ENV} at it")
    else:
        r.lines.append(("bitfile", f"{path} ({os.path.getsize(path)} bytes)"))
    if sys.platform.startswith("linux"):
        rules = sorted(f for pattern in UDEV_RULES for f in glob.glob(pattern))
        if rules:
            r.lines.append(("udev rules", ", ".join(rules)))
        else:
            r.lines.append(("udev rules", "none found (samna's 60-synsense.rules)"))
            r.problems.append(
                "install samna's udev rules (60-synsense.rules, shipped with samna) into "
                "/etc/udev/rules.d and re-plug the board, or the board cannot be opened "
                "without root"
            )
    return r


def _devices(r: Report) -> None:
    from dynapse2.hardware import samna_current as cur  # noqa: PLC0415
    from dynapse2.hardware.samna_backend import _require_samna  # noqa: PLC0415

    samna = _require_samna()
    try:
        infos = list(samna.device.get_all_devices())
    except Exception as e:  # noqa: BLE001  (any failure of the vendor's listing is reported)
        r.lines.append(("devices", f"listing failed: {e}"))
        r.problems.append("samna could not list devices: re-plug the board (USB 3) and retry")
        return
    names = [str(i.device_type_name) for i in infos]
    r.lines.append(("devices", ", ".join(names) if names else "none"))
    stacks = names.count(cur.STACK_NAME)
    if stacks == 0:
        r.problems.append(
            f"no {cur.STACK_NAME} listed: connect it by USB 3 (USB-C), power it, check the "
            "udev rules"
        )
    elif stacks > 1:
        r.problems.append(f"{stacks} Stack boards: pass device= to to_hardware to choose one")


def main(argv: Sequence[str] | None = None) -> int:
    """Print the report; return 0 when deploying can work, 1 otherwise."""
    ap = argparse.ArgumentParser(
        prog="dynapse2.doctor", description=(__doc__ or "").partition("\n")[0]
    )
    ap.add_argument("--bitfile", help="the FPGA bitfile (default: $DYNAPSE2_BITFILE)")
    args = ap.parse_args(argv)
    report = diagnose(args.bitfile)
    print(report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
