"""Deterministic mutations of valid seeds: the suite's ≥ 2,000 malformed files per run.

Every mutation is a pure function of ``(seed bytes, random.Random(number))``, so the same
run number always gives the same file and a failure can be replayed from its case name
(``mutated-<family>-<seed>-<number>-<mutator>``). The mutators are the classic fuzzing
moves (bit flips, byte runs, truncation, chunk duplication and splicing) plus two aimed at
parsers' trust in their headers: integer fields inflated to huge or negative values, and
numbers in text formats replaced with huge, negative, NaN and infinite ones.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Iterator, Sequence

from tests.hostile.model import Case
from tests.hostile.seeds import Seed

Mutator = Callable[[bytes, random.Random, Sequence[bytes]], bytes]

HUGE_INTEGERS = (
    b"\xff\xff\xff\xff",
    b"\x7f\xff\xff\xff",
    b"\x80\x00\x00\x00",
    b"\x00\x01\x00\x00",
    b"\xff\xff\x00\x00",
    b"\x00\x00\xff\xff",
)
HOSTILE_NUMBERS = (
    b"4294967295",
    b"-1",
    b"0",
    b"2147483648",
    b"99999999999999999999",
    b"nan",
    b"inf",
    b"-inf",
    b"1e308",
    b"-0",
)
_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def bit_flips(data: bytes, rng: random.Random, _: Sequence[bytes]) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        position = rng.randrange(len(out))
        out[position] ^= 1 << rng.randrange(8)
    return bytes(out)


def byte_run(data: bytes, rng: random.Random, _: Sequence[bytes]) -> bytes:
    out = bytearray(data)
    start = rng.randrange(len(out))
    length = min(len(out) - start, rng.choice((1, 2, 4, 8, 16, 64, 256)))
    fill = rng.choice((b"\x00", b"\xff", b"\x7f", b"\x80"))
    if rng.random() < 0.3:
        out[start : start + length] = rng.randbytes(length)
    else:
        out[start : start + length] = fill * length
    return bytes(out)


def truncate(data: bytes, rng: random.Random, _: Sequence[bytes]) -> bytes:
    # Often near the start (headers), sometimes anywhere.
    cut = rng.randrange(1, max(2, len(data) // 8)) if rng.random() < 0.4 else None
    return data[: cut or rng.randrange(1, len(data))]


def inflate_header(data: bytes, rng: random.Random, _: Sequence[bytes]) -> bytes:
    """Overwrite a 2- or 4-byte field in the first 256 bytes with a huge or odd value —
    where width, height, counts, chunk and box lengths live."""
    out = bytearray(data)
    window = min(len(out) - 4, 256)
    if window <= 0:
        return bytes(out[:-1])
    position = rng.randrange(window)
    value = rng.choice(HUGE_INTEGERS)
    width = rng.choice((2, 4))
    out[position : position + width] = value[:width]
    return bytes(out)


def inflate_numbers(data: bytes, rng: random.Random, _: Sequence[bytes]) -> bytes:
    """In a text format (OBJ, PLY and STL headers, glTF JSON): replace a few numbers with
    hostile ones (counts of 4294967295, indices of -1, NaN and infinite coordinates)."""
    matches = list(_NUMBER.finditer(data[:65536]))
    if not matches:
        return inflate_header(data, rng, ())
    out = data
    for match in sorted(rng.sample(matches, min(len(matches), rng.randint(1, 4))),
                        key=lambda m: -m.start()):  # fmt: skip
        out = out[: match.start()] + rng.choice(HOSTILE_NUMBERS) + out[match.end() :]
    return out


def duplicate_chunk(data: bytes, rng: random.Random, _: Sequence[bytes]) -> bytes:
    start = rng.randrange(len(data))
    chunk = data[start : start + rng.randint(1, max(1, len(data) // 4))]
    where = rng.randrange(len(data) + 1)
    return data[:where] + chunk * rng.randint(1, 16) + data[where:]


def splice(data: bytes, rng: random.Random, others: Sequence[bytes]) -> bytes:
    """The head of this file on the tail of another (or of itself)."""
    other = rng.choice(others) if others else data
    cut_here = rng.randrange(1, len(data))
    cut_there = rng.randrange(len(other))
    return data[:cut_here] + other[cut_there:]


MUTATORS: dict[str, Mutator] = {
    "bitflip": bit_flips,
    "byterun": byte_run,
    "truncate": truncate,
    "inflate": inflate_header,
    "numbers": inflate_numbers,
    "duplicate": duplicate_chunk,
    "splice": splice,
}
TEXT_FAMILIES = {"obj", "gltf"}


def mutate(seed: Seed, number: int, others: Sequence[bytes]) -> tuple[str, bytes]:
    """The ``number``-th mutation of ``seed``: (mutator name, bytes). Never the seed itself."""
    rng = random.Random(f"{seed.filename}:{number}")
    names = list(MUTATORS)
    if seed.family in TEXT_FAMILIES or seed.filename.endswith(("-ascii.ply", "-ascii.stl")):
        names += ["numbers", "numbers"]  # text parsers trust their numbers most
    name = rng.choice(names)
    data = MUTATORS[name](seed.data, rng, others)
    if data == seed.data or not data:
        data = bit_flips(seed.data, rng, others)
    return name, data


def mutated_cases(seeds: Sequence[Seed], count: int) -> list[Case]:
    """``count`` distinct mutated files spread evenly over ``seeds`` (expect "any": the
    museum may process or refuse each; it must survive all)."""
    pool = [seed.data for seed in seeds]
    cases: list[Case] = []
    seen = {hashlib.sha256(seed.data).digest() for seed in seeds}
    for seed, number in _rounds(seeds, count):
        name, data = mutate(seed, number, pool)
        digest = hashlib.sha256(data).digest()
        if digest in seen:  # a truncation or flip met an earlier one: skip the twin
            continue
        seen.add(digest)
        cases.append(
            Case(
                row=0,
                name=f"mutated-{seed.family}-{seed.filename}-{number}-{name}",
                filename=seed.filename,
                build=lambda _traps, data=data: data,
                expect="any",
                kind=seed.kind,
                note=seed.family,
            )
        )
        if len(cases) == count:
            break
    return cases


def _rounds(seeds: Sequence[Seed], count: int) -> Iterator[tuple[Seed, int]]:
    number = 0
    while number < count * 4:  # far more tries than needed, even with many twins
        for seed in seeds:
            yield seed, number
        number += 1
