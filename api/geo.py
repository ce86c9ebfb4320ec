"""Where the page draws devices and districts: the registry's coordinates, and an approximate
outline of each district drawn around its devices (no map tiles, nothing from the internet).

A district's outline is the convex hull of its devices, widened by a margin so that a district
of one or two devices is still an area. It is approximate, and the page says so: the registry
knows where devices stand, not where a district's border runs. A device without coordinates is
placed in its district's sector of a circle around the city centre and marked approximate.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from devices import Registry

__all__ = ["CityMap", "PlacedDevice", "city_map", "convex_hull"]

_MARGIN_DEG = 0.004  # about 400 m around a district's outermost devices
_SECTOR_RADIUS_DEG = 0.03


@dataclass(frozen=True, slots=True)
class PlacedDevice:
    """A device on the map; ``approximate`` when the registry has no coordinates for it."""

    id: str
    kind: str
    district: str
    latitude: float
    longitude: float
    approximate: bool


@dataclass(frozen=True, slots=True)
class CityMap:
    """The city's centre, its devices and each district's outline as GeoJSON."""

    name: str
    latitude: float
    longitude: float
    devices: tuple[PlacedDevice, ...]
    districts: dict[str, object]


def convex_hull(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The convex hull (Andrew's monotone chain), counter-clockwise, first point not repeated."""
    unique = sorted(set(points))
    if len(unique) <= 2:
        return unique

    def cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[tuple[float, float]] = []
    for point in unique:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], point) <= 0:
            lower.pop()
        lower.append(point)
    upper: list[tuple[float, float]] = []
    for point in reversed(unique):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], point) <= 0:
            upper.pop()
        upper.append(point)
    return lower[:-1] + upper[:-1]


def _outline(points: list[tuple[float, float]]) -> list[list[float]]:
    """A closed GeoJSON ring ([lon, lat]) around ``points``: each point widened to a small
    octagon, then the hull of them all."""
    widened = [
        (x + _MARGIN_DEG * math.cos(k * math.pi / 4), y + _MARGIN_DEG * math.sin(k * math.pi / 4))
        for x, y in points
        for k in range(8)
    ]
    hull = convex_hull(widened)
    ring = [[round(x, 6), round(y, 6)] for x, y in hull]
    return [*ring, ring[0]]


def city_map(registry: Registry) -> CityMap:
    """Devices placed, districts outlined."""
    city = registry.city
    districts = sorted({device.district for device in registry.values()})
    sector = {name: index for index, name in enumerate(districts)}
    unplaced: dict[str, int] = defaultdict(int)
    placed: list[PlacedDevice] = []
    for device in registry.values():
        if device.latitude is not None and device.longitude is not None:
            latitude, longitude, approximate = device.latitude, device.longitude, False
        else:
            # spread in the district's own sector, so districts do not overlap
            count = unplaced[device.district]
            unplaced[device.district] += 1
            width = 2 * math.pi / max(len(districts), 1)
            angle = width * (sector[device.district] + 0.15 + 0.7 * ((count * 0.618) % 1))
            radius = _SECTOR_RADIUS_DEG * (0.3 + 0.7 * ((count * 0.382) % 1))
            latitude = city.latitude + radius * math.sin(angle)
            longitude = city.longitude + radius * math.cos(angle)
            approximate = True
        placed.append(
            PlacedDevice(
                device.id, device.kind.value, device.district, latitude, longitude, approximate
            )
        )
    features = []
    for name in districts:
        points = [(d.longitude, d.latitude) for d in placed if d.district == name]
        features.append(
            {
                "type": "Feature",
                "properties": {"district": name, "devices": len(points), "approximate": True},
                "geometry": {"type": "Polygon", "coordinates": [_outline(points)]},
            }
        )
    return CityMap(
        name=city.name,
        latitude=city.latitude,
        longitude=city.longitude,
        devices=tuple(placed),
        districts={"type": "FeatureCollection", "features": features},
    )
