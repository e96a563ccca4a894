"""Reading records from files other tools wrote, with one-line ``file:line: what is wrong`` errors.

Every check raises ValueError naming the file and the line (JSONL), record (JSON list) or row (Parquet), so an
import fails before it writes anything, with a message that says where to look. Nothing here writes anywhere.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Record:
    """One object of a file and where it came from (``where`` prefixes every error about it)."""

    where: str
    row: dict

    def fail(self, what: str) -> ValueError:
        return ValueError(f"{self.where}: {what}")

    def get(self, key: str, kind: str, *, required: bool = True, default: Any = None) -> Any:
        """``row[key]`` checked to be of ``kind`` (see :func:`check`); missing or null: error when required."""
        value = self.row.get(key)
        if value is None:
            if required:
                raise self.fail(f"missing column {key!r}" if key not in self.row else f"{key!r} is null")
            return default
        return check(value, kind, key, self.fail)


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    name = {str: "a string", int: "an integer", float: "a number", list: "a list", dict: "an object"}
    shown = json.dumps(value)[:40] if isinstance(value, (str, int, float)) else ""
    return name.get(type(value), type(value).__name__) + (f" ({shown})" if shown else "")


def check(value: Any, kind: str, name: str, fail) -> Any:
    """Check one value. kinds: str, text (str, may be empty), int, count (int >= 0), num (finite, not bool), bool,
    obj (dict), list0 (a list), list (non-empty), str-list, num-list, num-lists (non-empty list of non-empty num
    lists)."""
    def bad(expected: str) -> ValueError:
        return fail(f"{name!r} must be {expected}, not {_describe(value)}")

    if kind in ("str", "text"):
        if not isinstance(value, str):
            raise bad("a string")
        if kind == "str" and not value.strip():
            raise fail(f"{name!r} is empty")
    elif kind in ("int", "count"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
        if kind == "count" and value < 0:
            raise bad("a non-negative integer")
    elif kind == "num":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise bad("a finite number")
    elif kind == "bool":
        if not isinstance(value, bool):
            raise bad("true or false")
    elif kind == "obj":
        if not isinstance(value, dict):
            raise bad("an object")
    elif kind in ("list0", "list", "str-list", "num-list", "num-lists"):
        if not isinstance(value, list):
            raise bad("a list")
        if not value and kind != "list0":
            raise fail(f"{name!r} is an empty list")
        inner = {"str-list": "text", "num-list": "num", "num-lists": "num-list"}.get(kind)
        if inner:
            for i, v in enumerate(value):
                check(v, inner, f"{name}[{i}]", fail)
    else:  # pragma: no cover - a programming error, not bad input
        raise AssertionError(kind)
    return value


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def decode_utf8(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")  # a byte-order mark some editors write is not part of the first record
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ValueError(f"{path}:{line}: not UTF-8 text (byte 0x{data[e.start]:02x}); save the file as "
                         "UTF-8") from None


def read_json_records(path: str | Path) -> list[Record]:
    """A JSONL file, or one JSON list of objects, as records. Errors (file:line): not UTF-8, invalid JSON, NaN or
    Infinity, a line that is not an object, no records at all."""
    path = Path(path)
    try:
        text = decode_utf8(path, path.read_bytes())
    except IsADirectoryError:
        raise ValueError(f"{path} is a folder, not a file") from None
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    if text.lstrip().startswith("["):
        try:
            rows = json.loads(text, parse_constant=_reject_constant)
        except ValueError as e:  # JSONDecodeError is a ValueError, so is a NaN
            raise ValueError(f"{path}: invalid JSON list ({e})") from None
        records = [Record(f"{path}: record {i}", r) for i, r in enumerate(rows, 1)]
    else:
        records = []
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line, parse_constant=_reject_constant)
            except ValueError as e:
                raise ValueError(f"{path}:{lineno}: invalid JSON line ({e})") from None
            records.append(Record(f"{path}:{lineno}", row))
    if not records:
        raise ValueError(f"{path}: no records in it (empty file)")
    for r in records:
        if not isinstance(r.row, dict):
            raise r.fail(f"each record must be a JSON object, not {_describe(r.row)}")
    return records


def first_record(path: str | Path) -> Any:
    """The first JSON value of a JSONL file or JSON list (for format detection); ValueError naming the file."""
    path = Path(path)
    with open(path, "rb") as f:
        line = f.readline()
        while line and not line.strip():
            line = f.readline()
    if not line:
        raise ValueError(f"{path}: empty file")
    text = decode_utf8(path, line)
    if text.lstrip().startswith("["):  # a JSON list (possibly pretty-printed): parse it whole
        rows = [r.row for r in read_json_records(path)]
        return rows[0]
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        raise ValueError(f"{path}:1: neither a JSON list nor JSONL") from None
