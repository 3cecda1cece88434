"""Deterministic generator of a Zhangye-scale city for the governance mesh.

In-process use::

    import citygen
    city = citygen.generate("small", seed=1)
    citygen.write(city, "/tmp/city")          # the data files, see README.md
    for row in citygen.iter_elements(city, 100): ...
"""

from citygen.elements import iter_elements, write_elements
from citygen.generate import SCALES, GenerationError, generate
from citygen.model import (
    ELEMENT_CATEGORIES,
    UNITS_PER_DEGREE,
    WINDOWS,
    AdminUnit,
    Box,
    Centre,
    Channel,
    City,
    Grid,
    Mediator,
    Officer,
    PoliceRoom,
    Scale,
    Studio,
    Worker,
)
from citygen.writer import FILES, write

__all__ = [
    "ELEMENT_CATEGORIES",
    "FILES",
    "SCALES",
    "UNITS_PER_DEGREE",
    "WINDOWS",
    "AdminUnit",
    "Box",
    "Centre",
    "Channel",
    "City",
    "GenerationError",
    "Grid",
    "Mediator",
    "Officer",
    "PoliceRoom",
    "Scale",
    "Studio",
    "Worker",
    "generate",
    "iter_elements",
    "write",
    "write_elements",
]
