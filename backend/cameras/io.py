"""CSV and GeoJSON of the camera registry: what export writes and what import reads.

Columns (CSV header, GeoJSON properties; GeoJSON puts the position in a Point geometry instead
of latitude/longitude): code, name, kind, zone_code, place, place_category, group, latitude,
longitude, heading_deg, stream_kind, sample_fps, min_face_px, enabled. Export never writes the
stream URL (it may hold credentials); import may set it with a `stream_url` column.

Import rules: code, name, zone_code, latitude and longitude are required. A column the file does
not have leaves that field as it is (or at its default, for a new camera); an empty cell sets the
field's empty value (no heading, no place) or its default (kind fixed, 1 fps, enabled). CSV: the
header is row 1, the first camera row 2, and an unknown column is refused (a typo must not pass
silently); GeoJSON: rows are numbered by feature from 1 and other properties are ignored (the
map's own FeatureCollection imports as it is). Text that would start a spreadsheet formula is
written with a leading apostrophe, which import removes again."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import Any

from django.db.models import QuerySet

from backend.core.csv_export import FORMULA_PREFIXES
from backend.core.errors import ApplicationError

from .models import Camera
from .services import ImportRow

COLUMNS = (
    "code",
    "name",
    "kind",
    "zone_code",
    "place",
    "place_category",
    "group",
    "latitude",
    "longitude",
    "heading_deg",
    "stream_kind",
    "sample_fps",
    "min_face_px",
    "enabled",
)
IMPORT_COLUMNS = (*COLUMNS, "stream_url")
REQUIRED_COLUMNS = ("code", "name", "zone_code", "latitude", "longitude")
FLOAT_COLUMNS = {"latitude", "longitude", "heading_deg", "sample_fps"}
INT_COLUMNS = {"min_face_px"}
BOOL_COLUMNS = {"enabled"}
POSITION_COLUMNS = ("latitude", "longitude")
TRUE_WORDS, FALSE_WORDS = {"true", "1", "yes", "y", "t"}, {"false", "0", "no", "n", "f"}
MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 20_000
MAX_CELL_CHARS = 1000


class ExportFormat(StrEnum):
    CSV = "csv"
    GEOJSON = "geojson"


CONTENT_TYPES = {ExportFormat.CSV: "text/csv; charset=utf-8", ExportFormat.GEOJSON: "application/geo+json"}


# --- export --------------------------------------------------------------------------------
def export_rows(cameras: QuerySet[Camera]) -> Iterator[dict[str, Any]]:
    """The cameras as dicts keyed by COLUMNS, ordered by code (one query, no model instances)."""
    lookups = ["zone__code" if column == "zone_code" else column for column in COLUMNS]
    for values in cameras.order_by("code").values_list(*lookups).iterator(chunk_size=2000):
        yield dict(zip(COLUMNS, values, strict=True))


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_write(rows: Iterable[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_csv_cell(row[column]) for column in COLUMNS])
    return buffer.getvalue()


def geojson_write(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [row["longitude"], row["latitude"]]},
                "properties": {column: row[column] for column in COLUMNS if column not in POSITION_COLUMNS},
            }
            for row in rows
        ],
    }


# --- import --------------------------------------------------------------------------------
def rows_read(data: bytes) -> tuple[ExportFormat, list[ImportRow]]:
    """The rows of an uploaded file (GeoJSON when it starts with `{`, CSV otherwise), each with
    the fields it sets and the problems of its cells. Raises ApplicationError for a file that
    cannot be read at all."""
    if len(data) > MAX_BYTES:
        raise ApplicationError(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB.", code="file_too_large")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApplicationError("The file is not UTF-8 text.", code="file_not_text") from None
    if "\x00" in text:
        raise ApplicationError("The file is not text (it holds NUL characters).", code="file_not_text")
    if text.lstrip().startswith("{"):
        return ExportFormat.GEOJSON, _geojson_rows(text)
    return ExportFormat.CSV, _csv_rows(text)


def _too_many() -> ApplicationError:
    return ApplicationError(f"The file has more than {MAX_ROWS} cameras.", code="too_many_rows")


def _csv_rows(text: str) -> list[ImportRow]:
    reader = csv.DictReader(io.StringIO(text))
    rows: list[ImportRow] = []
    try:
        header = [name.strip().lower() for name in (reader.fieldnames or [])]
        if not header:
            raise ApplicationError("The file is empty.", code="csv_empty")
        reader.fieldnames = header
        unknown = [name for name in header if name not in IMPORT_COLUMNS]
        missing = [name for name in REQUIRED_COLUMNS if name not in header]
        if unknown or missing:
            parts = [f"unknown column(s): {', '.join(unknown)}"] if unknown else []
            parts += [f"missing column(s): {', '.join(missing)}"] if missing else []
            raise ApplicationError(f"The header has {'; '.join(parts)}.", code="csv_columns")
        for number, raw in enumerate(reader, start=2):
            if len(rows) == MAX_ROWS:
                raise _too_many()
            fields, problems = row_parse(raw)
            if raw.get(None):  # type: ignore[call-overload]
                problems.append({"column": "", "message": "The row has more cells than the header."})
            rows.append(ImportRow(number, fields, problems))
    except csv.Error:
        raise ApplicationError(
            f"The file is not valid CSV (near line {reader.line_num}).", code="csv_invalid"
        ) from None
    if not rows:
        raise ApplicationError("The file has no camera rows under its header.", code="csv_empty")
    return rows


def _property_text(value: Any) -> str | None:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value) if not isinstance(value, float) else repr(value)
    return None  # a list or an object: not a cell


def _geojson_rows(text: str) -> list[ImportRow]:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise ApplicationError("The file is not valid JSON.", code="geojson_invalid") from None
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection" or not isinstance(features, list):
        raise ApplicationError("The file is not a GeoJSON FeatureCollection.", code="geojson_invalid")
    if not features:
        raise ApplicationError("The FeatureCollection has no features.", code="geojson_empty")
    if len(features) > MAX_ROWS:
        raise _too_many()
    rows: list[ImportRow] = []
    for number, feature in enumerate(features, start=1):
        raw: dict[str, str | None] = {}
        problems: list[dict[str, Any]] = []
        properties = feature.get("properties") if isinstance(feature, dict) else None
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        if not isinstance(properties, dict):
            properties = {}
        for column in IMPORT_COLUMNS:
            if column in properties and column not in POSITION_COLUMNS:
                raw[column] = _property_text(properties[column])
                if raw[column] is None:
                    problems.append({"column": column, "message": "Must be a text, number or true/false."})
        coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
        is_point = (
            isinstance(geometry, dict)
            and geometry.get("type") == "Point"
            and isinstance(coordinates, list)
            and len(coordinates) in (2, 3)
            and all(isinstance(c, int | float) and not isinstance(c, bool) for c in coordinates)
        )
        if is_point:
            raw["longitude"], raw["latitude"] = repr(float(coordinates[0])), repr(float(coordinates[1]))  # type: ignore[index]
            required: tuple[str, ...] = REQUIRED_COLUMNS
        else:
            problems.append({"column": "geometry", "message": "Must be a Point with [longitude, latitude]."})
            required = tuple(c for c in REQUIRED_COLUMNS if c not in POSITION_COLUMNS)
        fields, cell_problems = row_parse(raw, required=required)
        rows.append(ImportRow(number, fields, problems + cell_problems))
    return rows


def _default(column: str) -> Any:
    return Camera._meta.get_field(column).get_default()  # type: ignore[union-attr]


def _cell(column: str, text: str) -> Any:
    """The value of one non-empty cell; ValueError with a message for the user."""
    if column in FLOAT_COLUMNS:
        try:
            number = float(text)
        except ValueError:
            raise ValueError("Must be a number.") from None
        if not math.isfinite(number):
            raise ValueError("Must be a finite number.")
        return number
    if column in INT_COLUMNS:
        try:
            return int(text)
        except ValueError:
            raise ValueError("Must be a whole number.") from None
    if column in BOOL_COLUMNS:
        word = text.lower()
        if word not in TRUE_WORDS | FALSE_WORDS:
            raise ValueError("Must be true or false.")
        return word in TRUE_WORDS
    if column in ("kind", "stream_kind", "place_category"):
        return text.lower()
    return text


def row_parse(
    raw: dict[str | None, Any] | dict[str, Any], *, required: Iterable[str] = REQUIRED_COLUMNS
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Typed fields from one row's cells (only the columns the row has) and the problems found.
    An empty cell gives the field's empty value or default; `zone_code` stays a code."""
    fields: dict[str, Any] = {}
    problems: list[dict[str, Any]] = []
    required = set(required)
    for column in IMPORT_COLUMNS:
        if column not in raw:
            if column in required:
                problems.append({"column": column, "message": "Required."})
            continue
        text = (raw[column] or "").strip()
        if text[:1] == "'" and text[1:2] and text[1:].startswith(FORMULA_PREFIXES):
            text = text[1:]
        if len(text) > MAX_CELL_CHARS:
            problems.append({"column": column, "message": f"Longer than {MAX_CELL_CHARS} characters."})
            continue
        if not text:
            if column in required:
                problems.append({"column": column, "message": "Required."})
            elif column == "heading_deg":
                fields[column] = None
            else:
                fields[column] = _default(column)
            continue
        try:
            fields[column] = _cell(column, text)
        except ValueError as error:
            problems.append({"column": column, "message": str(error)})
    return fields, problems
