"""The double's ``samna.device``: listing, opening and closing devices."""

from __future__ import annotations

from ._world import WORLD, DeviceInfo


def get_all_devices() -> list[DeviceInfo]:
    return [h.info for h in WORLD.plugged]


def open_device(info: DeviceInfo):
    return WORLD.open(info)


def close_device(device) -> None:
    WORLD.close(device)
