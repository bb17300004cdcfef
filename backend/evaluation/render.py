"""An evaluation report as a document: Markdown, a standalone HTML page (DET curve embedded, inline
CSS, no script), and the HTML fragment of its sections that the dashboard page shows.

One walk over the report's figures builds sections of plain-text blocks (tables, facts, bullets);
the writers only lay them out, so the three outputs never disagree. Every string that comes from a
report is text, never markup: the HTML writer escapes it (format_html / conditional_escape), the
Markdown writer escapes what a Markdown or HTML viewer would read as markup.

Conventions: a rate is "value [low, high] (k/n)" with its 95% interval (Clopper-Pearson unless the
figure says Wilson); an operating point the data cannot resolve says so, with the number of trials
it would need. Sections a report lacks are skipped; figures this module does not know are named at
the end (never silently dropped), and a section whose figures are not in the expected form is
replaced by a sentence saying so instead of failing the whole page.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from .models import EvaluationReport
from .services import report_verify
from .stats import CONFIDENCE, min_trials_for

logger = logging.getLogger(__name__)

DASH = "—"


# --------------------------------------------------------------------------- blocks


@dataclass
class Heading:
    text: str


@dataclass
class Paragraph:
    text: str


@dataclass
class Facts:
    items: list[tuple[str, str]]


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    caption: str = ""


Block = Heading | Paragraph | Facts | Bullets | Table


@dataclass
class Section:
    key: str  # the figure's key (anchors and test ids)
    title: str
    blocks: list[Block] = field(default_factory=list)


# --------------------------------------------------------------------------- number formats


def percent(value: Any) -> str:
    """A probability as a percentage: two decimals from 1% up, two significant digits below."""
    if value is None:
        return DASH
    p = float(value) * 100
    if not math.isfinite(p):
        return DASH
    if p == 0:
        return "0%"
    if abs(p) >= 1:
        return f"{p:.2f}%"
    decimals = min(10, 1 - math.floor(math.log10(abs(p))))
    return f"{p:.{decimals}f}%"


def count(value: Any) -> str:
    if value is None:
        return DASH
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,}"


def ratio(k: Any, n: Any) -> str:
    return f"{count(k)}/{count(n)}"


def rate_text(rate: Any) -> str:
    """{"count", "total", "value", "low", "high", "method"} as "value [low, high] (k/n)"."""
    if rate is None:
        return DASH
    if not isinstance(rate, dict):
        return str(rate)
    k, n = rate.get("count"), rate.get("total")
    if rate.get("value") is None:
        return f"no trials ({ratio(k, n)})" if k is not None else DASH
    method = " Wilson" if rate.get("method") == "wilson" else ""
    interval = f" [{percent(rate.get('low'))}, {percent(rate.get('high'))}]" if rate.get("low") is not None else ""
    trials = f" ({ratio(k, n)}{',' + method if method else ''})" if k is not None and n is not None else ""
    return f"{percent(rate['value'])}{interval}{trials}"


def interval_text(figure: Any, *, digits: int = 3) -> str:
    """A value with an interval that is not a rate (e.g. false alerts per 10,000 faces)."""
    if not isinstance(figure, dict):
        return DASH if figure is None else str(figure)
    value, low, high = figure.get("value"), figure.get("low"), figure.get("high")
    if value is None:
        return DASH
    text = f"{float(value):.{digits}g}"
    if low is not None and high is not None:
        text += f" [{float(low):.{digits}g}, {float(high):.{digits}g}]"
    return text


def threshold_text(value: Any) -> str:
    return DASH if value is None else f"{float(value):.4f}"


def score_text(value: Any) -> str:
    return DASH if value is None else f"{float(value):.4f}"


def target_text(value: Any) -> str:
    """A target rate as given (0.001, 1e-05): targets are round numbers people chose."""
    return DASH if value is None else f"{float(value):g}"


def small_rate_text(value: Any) -> str:
    """A derived per-comparison rate (FAR required): three significant digits."""
    return DASH if value is None else f"{float(value):.3g}"


def duration_text(seconds: Any) -> str:
    if seconds is None:
        return DASH
    s = float(seconds)
    if s < 60:
        return f"{s:.1f} s"
    minutes, secs = divmod(round(s), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def yes_no(value: Any) -> str:
    return {True: "yes", False: "no"}.get(value, "not decided")


def unresolvable_text(target: Any, have: Any, unit: str) -> str:
    try:
        needs = f"{min_trials_for(float(target), confidence=CONFIDENCE):,}"
    except (TypeError, ValueError):
        needs = "more"
    return f"not resolvable (needs ≥ {needs} {unit}, have {count(have)})"


def plain(value: Any) -> str:
    """Any option or data value as one line of text."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, (int, float)):
        return count(value) if isinstance(value, int) else f"{value:g}"
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return ", ".join(plain(v) for v in value) or DASH
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _name(entry: dict[str, Any]) -> str:
    return ", ".join(str(entry[key]) for key in ("set", "condition") if entry.get(key) not in (None, "")) or "—"


# --------------------------------------------------------------------------- sections of the figures


def _threshold_in_use(value: Any) -> list[Block]:
    return [Facts([("Threshold in use when the report was run", threshold_text(value))])]


def _goals(goals: Any) -> list[Block]:
    rows = [[str(g.get("goal", DASH)), str(g.get("measured", DASH)), yes_no(g.get("met"))] for g in _list(goals)]
    return [Table(["Goal", "Measured", "Met"], rows)]


def _acquisition(rows: Any) -> list[Block]:
    table = [
        [
            str(r.get("set", DASH)),
            str(r.get("condition", DASH)),
            count(r.get("images")),
            count(r.get("faces", r.get("images"))),
            ratio(r.get("ok"), r.get("faces", r.get("images"))),
            count(r.get("no_face")),
            count(r.get("failed_quality")),
            count(r.get("multiple_faces")),
        ]
        for r in _list(rows)
    ]
    return [
        Table(
            ["Set", "Condition", "Images", "Faces", "Usable", "No face", "Failed quality", "Several faces"],
            table,
            "Portraits: one face per image (the largest where there are several). Strangers: every face of every "
            "frame; only those that pass the quality gate are searched, as live.",
        )
    ]


# Score summaries in rising order (the database does not keep a JSON object's key order).
_SUMMARY_ORDER = {"min": 0, "p1": 1, "p5": 2, "median": 3, "p99": 4, "p999": 5, "max": 6}
_SUMMARY_LABELS = {"p999": "p99.9"}


def _summary_text(summary: dict[str, Any]) -> str:
    keys = sorted(summary, key=lambda k: (_SUMMARY_ORDER.get(k, len(_SUMMARY_ORDER)), k))
    return ", ".join(f"{_SUMMARY_LABELS.get(k, k)} {score_text(summary[k])}" for k in keys)


def _verification(entries: Any) -> list[Block]:
    blocks: list[Block] = []
    for entry in _list(entries):
        eer = _dict(entry.get("eer"))
        genuine, impostor = _dict(entry.get("genuine_summary")), _dict(entry.get("impostor_summary"))
        facts = [
            ("Genuine pairs", count(entry.get("genuine_pairs"))),
            ("Impostor pairs", count(entry.get("impostor_pairs"))),
            ("Equal error rate", f"{percent(eer.get('value'))} at threshold {threshold_text(eer.get('threshold'))}"),
        ]
        if genuine:
            facts.append(("Genuine scores", _summary_text(genuine)))
        if impostor:
            facts.append(("Impostor scores", _summary_text(impostor)))
        rows = []
        for point in _list(entry.get("at_far")):
            if point.get("resolvable") is False:
                reason = unresolvable_text(point.get("target"), entry.get("impostor_pairs"), "impostor pairs")
                rows.append([target_text(point.get("target")), reason, DASH, DASH, DASH])
            else:
                rows.append(
                    [
                        target_text(point.get("target")),
                        threshold_text(point.get("threshold")),
                        rate_text(point.get("tar")),
                        rate_text(point.get("far")),
                        rate_text(point.get("frr")),
                    ]
                )
        blocks += [Heading(_name(entry)), Facts(facts)]
        if rows:
            blocks.append(
                Table(
                    ["Target FAR", "Threshold", "TAR (genuine accepted)", "FAR (impostors accepted)", "FRR"],
                    rows,
                    "The lowest threshold whose measured false-accept rate is at most the target.",
                )
            )
    return blocks


def _search_row(point: dict[str, Any]) -> list[str]:
    return [rate_text(point.get("fpir")), rate_text(point.get("tpir")), rate_text(point.get("fnir"))]


def _identification(entries: Any) -> list[Block]:
    blocks: list[Block] = []
    for entry in _list(entries):
        facts = [
            ("Gallery size", count(entry.get("gallery_size"))),
            ("Non-mated searches from", str(entry.get("non_mated_source", DASH))),
            ("Mated searches", count(entry.get("mated_searches"))),
            ("Non-mated searches", count(entry.get("non_mated_searches"))),
            ("Rank-1 identification rate", rate_text(entry.get("rank1"))),
        ]
        blocks += [Heading(_name(entry)), Facts(facts)]
        rows = []
        for point in _list(entry.get("at_fpir")):
            if point.get("resolvable") is False:
                reason = unresolvable_text(point.get("target"), entry.get("non_mated_searches"), "non-mated searches")
                rows.append([target_text(point.get("target")), reason, DASH, DASH, DASH])
            else:
                rows.append(
                    [target_text(point.get("target")), threshold_text(point.get("threshold")), *_search_row(point)]
                )
        if rows:
            blocks.append(
                Table(
                    ["Target FPIR", "Threshold", "FPIR", "TPIR", "FNIR"],
                    rows,
                    "Operating points chosen for a target false-positive identification rate.",
                )
            )
        fixed = [[threshold_text(p.get("threshold")), *_search_row(p)] for p in _list(entry.get("at_threshold"))]
        if fixed:
            blocks.append(Table(["Threshold", "FPIR", "TPIR", "FNIR"], fixed, "At fixed thresholds."))
        blocks += _model_points(entry.get("at_fpir_model"))
        blocks += _attractors(entry.get("false_match_attractors"))
        refused = [str(item) for item in _list(entry.get("enrolment_refused"))]
        if refused:
            blocks.append(Paragraph("Gallery photos the enrolment service refused: " + "; ".join(refused) + "."))
    return blocks


def _model_points(points: Any) -> list[Block]:
    """Operating points whose threshold comes from the per-comparison model (where the non-mated
    searches are too few to resolve the target directly); TPIR is still measured."""
    rows = []
    comparisons = None
    for point in _list(points):
        comparisons = point.get("comparisons", comparisons)
        if not point.get("resolvable"):
            reason = unresolvable_text(point.get("target"), point.get("comparisons"), "comparisons")
            rows.append([target_text(point.get("target")), reason, DASH, DASH, DASH, DASH])
            continue
        rows.append(
            [
                target_text(point.get("target")),
                threshold_text(point.get("threshold")),
                percent(point.get("fpir_expected")),
                percent(point.get("fpir_upper")),
                rate_text(point.get("tpir")),
                rate_text(point.get("fpir_measured")),
            ]
        )
    if not rows:
        return []
    caption = (
        f"Thresholds from the per-comparison model ({count(comparisons)} non-mated comparisons, independent "
        "comparisons assumed); TPIR and FPIR measured at them."
    )
    return [
        Table(["Target FPIR", "Threshold", "FPIR expected", "FPIR upper (95%)", "TPIR", "FPIR measured"], rows, caption)
    ]


def _attractors(attractors: Any) -> list[Block]:
    rows = [
        [str(a.get("identity", DASH)), count(a.get("false_matches")), percent(a.get("share"))]
        for a in _list(attractors)
        if isinstance(a, dict)
    ]
    if not rows:
        return []
    caption = (
        "Listed people who collect the false matches at the threshold in use: re-enrolling them from a better "
        "photo removes more false alerts than any threshold change."
    )
    return [Table(["Listed person", "False matches", "Share"], rows, caption)]


def _listed_people(value: Any) -> list[Block]:
    return [Facts([("People listed (replays search them all)", count(value))])]


def _search_check(check: Any) -> list[Block]:
    check = _dict(check)
    agree = check.get("agree")
    verdict = {True: "agree", False: "DISAGREE", None: DASH}.get(agree, str(agree))
    return [
        Paragraph(
            "pgvector's best score for each non-mated search, against the dot product with every gallery template."
        ),
        Facts(
            [
                ("Searches checked", count(check.get("searches"))),
                ("Largest difference", score_text(check.get("max_abs_difference"))),
                ("Verdict", verdict),
            ]
        ),
    ]


def _splits(splits: Any) -> list[Block]:
    blocks: list[Block] = []
    for split in _list(splits):
        rows = [
            [
                str(r.get("group", DASH)),
                count(r.get("mated_searches")),
                rate_text(r.get("tpir")),
                rate_text(r.get("rank1")),
                count(r.get("non_mated_searches")),
                rate_text(r.get("fpir")),
            ]
            for r in _list(split.get("rows"))
        ]
        blocks += [
            Heading(f"By {split.get('by', DASH)}, at threshold {threshold_text(split.get('threshold'))}"),
            Table(["Group", "Mated searches", "TPIR", "Rank-1", "Non-mated searches", "FPIR"], rows),
        ]
    return blocks


def _gallery_growth(growth: Any) -> list[Block]:
    growth = _dict(growth)
    comparisons = growth.get("comparisons")
    blocks: list[Block] = [
        Paragraph(
            f"From {count(comparisons)} non-mated comparisons; the model assumes the comparisons of one search are "
            "independent: FPIR = 1 - (1 - FAR)^N for a gallery of N templates."
        )
    ]
    measured = [
        [
            count(g.get("gallery_size")),
            threshold_text(r.get("threshold")),
            rate_text(r.get("fpir")),
            percent(r.get("fpir_model")),
        ]
        for g in _list(growth.get("measured"))
        for r in _list(g.get("rows"))
    ]
    if measured:
        blocks.append(
            Table(["Gallery size", "Threshold", "FPIR measured", "FPIR predicted from FAR"], measured, "Measured.")
        )
    projected = []
    for p in _list(growth.get("projected")):
        head = [count(p.get("gallery_size")), target_text(p.get("target_fpir")), small_rate_text(p.get("far_required"))]
        if p.get("resolvable") is False:
            reason = unresolvable_text(p.get("far_required"), comparisons, "comparisons")
            projected.append([*head, reason, DASH, DASH, DASH])
        else:
            projected.append(
                [
                    *head,
                    threshold_text(p.get("threshold")),
                    rate_text(p.get("far")),
                    percent(p.get("fpir_expected")),
                    percent(p.get("fpir_upper")),
                ]
            )
    if projected:
        blocks.append(
            Table(
                [
                    "Gallery size",
                    "Target FPIR",
                    "FAR required",
                    "Threshold",
                    "FAR",
                    "FPIR expected",
                    "FPIR upper (95%)",
                ],
                projected,
                "Projected for larger watchlists.",
            )
        )
    return blocks


def _non_mated_tail(tail: Any) -> list[Block]:
    tail = _dict(tail)
    scores = [s for s in _list(tail.get("scores")) if isinstance(s, (int, float))]
    facts = [("Non-mated comparisons", count(tail.get("total"))), ("Highest scores kept", count(len(scores)))]
    if scores:
        facts.append(("Kept scores range", f"{score_text(min(scores))} to {score_text(max(scores))}"))
    return [
        Paragraph("The highest non-mated scores, kept so that a threshold can be derived for any watchlist size."),
        Facts(facts),
    ]


def _modes(modes: Any) -> list[Block]:
    modes = _list(modes)
    counts = [
        [
            str(m.get("mode", DASH)),
            threshold_text(m.get("threshold")),
            str(m.get("description", "")),
            count(m.get("frames")),
            count(m.get("faces_seen")),
            count(m.get("alerts")),
            count(m.get("correct_alerts")),
            count(m.get("false_alerts")),
            count(m.get("people_present")),
            count(m.get("people_missed")),
        ]
        for m in modes
    ]
    rates = [
        [
            str(m.get("mode", DASH)),
            threshold_text(m.get("threshold")),
            rate_text(m.get("false_alert_rate")),
            interval_text(m.get("false_alerts_per_10k_faces")),
            rate_text(m.get("missed_rate")),
        ]
        for m in modes
    ]
    return [
        Table(
            [
                "Mode",
                "Threshold",
                "How",
                "Frames",
                "Faces seen",
                "Alerts",
                "Correct",
                "False",
                "Listed people present",
                "Missed",
            ],
            counts,
        ),
        Table(["Mode", "Threshold", "False alert rate", "False alerts per 10,000 faces", "Missed rate"], rates),
    ]


def _clips(clips: Any) -> list[Block]:
    clips = _list(clips)
    mode_names: list[str] = []
    for clip in clips:
        for name in _dict(clip.get("modes")):
            if name not in mode_names:
                mode_names.append(name)

    def outcome(result: Any) -> str:
        result = _dict(result)
        if not result:
            return DASH
        text = f"{count(result.get('alerts'))} alerts ({count(result.get('correct'))} correct, {count(result.get('false'))} false)"
        wrong = _list(result.get("false_identities"))
        text += f"; false: {', '.join(str(w) for w in wrong)}" if wrong else ""
        missed = _list(result.get("missed"))
        return text + (f"; missed: {', '.join(str(m) for m in missed)}" if missed else "")

    rows = [
        [
            str(c.get("name", DASH)),
            str(c.get("source", DASH)),
            count(c.get("frames")),
            count(c.get("faces_seen")),
            ", ".join(str(p) for p in _list(c.get("listed_present"))) or DASH,
            *(outcome(_dict(c.get("modes")).get(name)) for name in mode_names),
        ]
        for c in clips
    ]
    return [Table(["Clip", "Source", "Frames", "Faces seen", "Listed people present", *mode_names], rows)]


def _notes(notes: Any) -> list[Block]:
    items = [str(n) for n in _list(notes)]
    return [Bullets(items)] if items else []


# key -> (title, builder), in the order they are shown.
FIGURE_SECTIONS: dict[str, tuple[str, Callable[[Any], list[Block]]]] = {
    "threshold_in_use": ("Threshold in use", _threshold_in_use),
    "goals": ("Goals", _goals),
    "acquisition": ("Face acquisition", _acquisition),
    "verification": ("Verification (1:1)", _verification),
    "identification": ("Identification (1:N)", _identification),
    "splits": ("Identification by group", _splits),
    "gallery_growth": ("Gallery growth", _gallery_growth),
    "non_mated_tail": ("Non-mated score tail", _non_mated_tail),
    "listed_people": ("Evaluation watchlist", _listed_people),
    "search_check": ("Search check", _search_check),
    "modes": ("Alerting modes", _modes),
    "sweep": ("Alerting modes at every threshold replayed", _modes),
    "clips": ("Clips", _clips),
    "notes": ("Notes", _notes),
}


def _data_used(data: Any) -> list[Block]:
    data = _dict(data)
    blocks: list[Block] = []
    facts = [
        (label, str(data[key]))
        for key, label in (("datasets_dir", "Datasets folder"), ("manifest_sha256", "Manifest SHA-256"))
        if data.get(key)
    ]
    if facts:
        blocks.append(Facts(facts))
    sets = [
        [str(s.get("name", DASH)), count(s.get("images")), count(s.get("identities"))] for s in _list(data.get("sets"))
    ]
    if sets:
        blocks.append(Table(["Set", "Images", "Identities"], sets, "Labelled sets."))
    sources = [
        [str(s.get("path", DASH)), str(s.get("kind", DASH)), count(s.get("frames_used")), count(s.get("faces"))]
        for s in _list(data.get("non_mated_sources"))
    ]
    if sources:
        blocks.append(Table(["Path", "Kind", "Frames used", "Faces"], sources, "Sources of non-mated searches."))
    excluded = [[str(s.get("path", DASH)), str(s.get("reason", DASH))] for s in _list(data.get("excluded_sources"))]
    if excluded:
        blocks.append(Table(["Path", "Reason"], excluded, "Excluded sources."))
    degradations = [
        [str(d.get("name", DASH)), ", ".join(f"{k}={plain(v)}" for k, v in d.items() if k != "name") or DASH]
        for d in _list(data.get("degradations"))
        if isinstance(d, dict)
    ]
    if degradations:
        blocks.append(Table(["Degradation", "Parameters"], degradations, "Degradations applied to the probes."))
    known = {"datasets_dir", "manifest_sha256", "sets", "non_mated_sources", "excluded_sources", "degradations"}
    blocks += [Facts([(str(k), plain(v)) for k, v in data.items() if k not in known])] if set(data) - known else []
    return blocks


def _options(options: Any) -> list[Block]:
    items = [(str(k), plain(v)) for k, v in _dict(options).items()]
    return [Facts(items)] if items else []


def _safely(key: str, title: str, build: Callable[[Any], list[Block]], value: Any) -> Section | None:
    try:
        blocks = build(value)
    except (AttributeError, KeyError, TypeError, ValueError, IndexError, OverflowError):
        logger.warning("evaluation report section %s is not in the expected form", key, exc_info=True)
        blocks = [Paragraph("These figures are not in the form this page knows; they are in the report's raw figures.")]
    return Section(key, title, blocks) if blocks else None


def report_sections(report: EvaluationReport) -> list[Section]:
    """Every section of the report's figures that it has, then the data used and the options."""
    figures = _dict(report.figures)
    sections = [
        _safely(key, title, build, figures[key])
        for key, (title, build) in FIGURE_SECTIONS.items()
        if key in figures and figures[key] is not None
    ]
    unknown = sorted(str(key) for key in figures if key not in FIGURE_SECTIONS)
    if unknown:
        sections.append(
            Section(
                "other",
                "Other figures",
                [Paragraph("Also in the raw figures, not laid out here: " + ", ".join(unknown) + ".")],
            )
        )
    sections.append(_safely("data", "Data used", _data_used, report.data))
    sections.append(_safely("options", "Options", _options, report.options))
    return [s for s in sections if s is not None]


def report_facts(report: EvaluationReport, *, verified: bool | None = None) -> list[tuple[str, str]]:
    """The header of a report (when, who, what model, how long, content hash and whether it holds)."""
    if verified is None:
        verified = report_verify(report)
    by = report.created_by.get_username() if report.created_by else "the platform (command line)"
    return [
        ("Report", f"#{report.pk}"),
        ("Kind", report.get_kind_display()),
        ("Run at", timezone.localtime(report.created_at).strftime("%d %b %Y, %H:%M IST")),
        ("Run by", by),
        ("Model version", report.model_version),
        ("Duration", duration_text(report.duration_s)),
        ("SHA-256", report.sha256),
        (
            "Content check",
            "verified: the content hashes to the value recorded when it was stored"
            if verified
            else "NOT VERIFIED: the content does not hash to the value recorded when it was stored",
        ),
    ]


# --------------------------------------------------------------------------- HTML


def _join(parts: Iterable[Any]) -> SafeString:
    return mark_safe("".join(conditional_escape(part) for part in parts))  # noqa: S308 - every part is escaped


def _facts_html(items: Sequence[tuple[str, str]]) -> SafeString:
    return format_html('<dl class="facts eval-facts">{}</dl>', format_html_join("", "<dt>{}</dt><dd>{}</dd>", items))


def _table_html(table: Table) -> SafeString:
    caption = format_html("<caption>{}</caption>", table.caption) if table.caption else ""
    head = format_html_join("", '<th scope="col">{}</th>', ((h,) for h in table.headers))
    body = _join(
        format_html("<tr>{}</tr>", format_html_join("", "<td>{}</td>", ((cell,) for cell in row))) for row in table.rows
    )
    if not table.rows:
        body = format_html('<tr><td colspan="{}" class="empty">None.</td></tr>', max(1, len(table.headers)))
    return format_html(
        '<div class="eval-table-wrap"><table class="grid eval-table">{}<thead><tr>{}</tr></thead><tbody>{}</tbody></table></div>',
        caption,
        head,
        body,
    )


def _block_html(block: Block) -> SafeString:
    if isinstance(block, Heading):
        return format_html("<h3>{}</h3>", block.text)
    if isinstance(block, Paragraph):
        return format_html("<p>{}</p>", block.text)
    if isinstance(block, Facts):
        return _facts_html(block.items)
    if isinstance(block, Bullets):
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((item,) for item in block.items)))
    return _table_html(block)


def sections_html(sections: Sequence[Section]) -> SafeString:
    """The sections as an HTML fragment (class names only, no inline style: the dashboard's CSP)."""
    return _join(
        format_html(
            '<section class="eval-section" id="section-{}" data-section="{}"><h2>{}</h2>{}</section>',
            section.key,
            section.key,
            section.title,
            _join(_block_html(block) for block in section.blocks),
        )
        for section in sections
    )


_STYLE = """
body { margin: 0; font: 14px/1.45 system-ui, sans-serif; color: #111827; background: #fff; }
main { max-width: 1100px; margin: 0 auto; padding: 1.5rem; }
h1 { margin: 0 0 1rem; font-size: 1.5rem; }
h2 { margin: 2rem 0 .5rem; font-size: 1.2rem; border-bottom: 1px solid #e5e7eb; padding-bottom: .25rem; }
h3 { margin: 1.25rem 0 .4rem; font-size: 1rem; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: .5rem 0; }
.facts dt { color: #4b5563; }
.facts dd { margin: 0; overflow-wrap: anywhere; }
.eval-table-wrap { overflow-x: auto; margin: .5rem 0 1rem; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
caption { text-align: left; color: #4b5563; font-size: 12px; padding: .25rem 0; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #e5e7eb; vertical-align: top; }
th { background: #f3f4f6; }
.verify-bad { color: #991b1b; font-weight: 600; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #e5e7eb; }
figcaption, .note { color: #4b5563; font-size: 12px; }
.empty { color: #6b7280; font-style: italic; }
"""

_DOCUMENT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

DET_CAPTION = (
    "DET curve: false non-match rate against false match rate on normal-deviate scales; "
    "the marked points are the thresholds named in the tables."
)


def report_html(report: EvaluationReport) -> str:
    """A standalone HTML document: one file an auditor can keep, open offline and print."""
    verified = report_verify(report)
    det = bytes(report.det_png or b"")
    figure = (
        format_html(
            '<figure><img src="data:image/png;base64,{}" alt="{}"><figcaption>{}</figcaption></figure>',
            base64.b64encode(det).decode("ascii"),
            f"DET curve of evaluation report {report.pk}",
            DET_CAPTION,
        )
        if det
        else ""
    )
    return format_html(
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" content="{}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>{} · Evaluation report #{}</title>\n<style>{}</style>\n</head>\n<body>\n<main>\n"
        '<h1>{}</h1>\n{}\n{}\n<p class="note">Rates are shown as value [low, high] (k/n): the 95% interval '
        "(Clopper-Pearson unless marked Wilson) and the counts they come from.</p>\n{}\n</main>\n</body>\n</html>\n",
        _DOCUMENT_CSP,
        report.title,
        report.pk,
        mark_safe(_STYLE),  # noqa: S308 - a constant of this module
        report.title,
        _facts_html(report_facts(report, verified=verified)),
        figure,
        sections_html(report_sections(report)),
    )


# --------------------------------------------------------------------------- Markdown

# Markdown's inline punctuation (code, emphasis, links, tables, strikethrough) and the backslash;
# <, > and & become HTML entities first, so no raw HTML or autolink can form.
_MD_INLINE = re.compile(r"([\\`*_\[\]|~])")
# What opens a block (heading, quote, list item, setext underline) at the start of a line.
_MD_BLOCK_START = re.compile(r"^([#>+=-]|\d{1,9}(?=[.)](?:\s|$)))")


def md_escape(text: Any, *, line_start: bool = False) -> str:
    """Text for Markdown, never markup: entities for <, > and &, a backslash before Markdown's
    punctuation, one line (a table cell cannot hold a line break); at the start of a line also
    whatever would open a block."""
    escaped = html.escape(str(text), quote=False)
    escaped = " ".join(_MD_INLINE.sub(r"\\\1", escaped).split())
    if line_start:
        match = _MD_BLOCK_START.match(escaped)
        if match:
            end = match.end()
            escaped = escaped[:end] + "\\" + escaped[end:] if match.group(1)[0].isdigit() else "\\" + escaped
    return escaped


def _md_block(block: Block) -> list[str]:
    if isinstance(block, Heading):
        return [f"### {md_escape(block.text, line_start=True)}", ""]
    if isinstance(block, Paragraph):
        return [md_escape(block.text, line_start=True), ""]
    if isinstance(block, Facts):
        return [*(f"- **{md_escape(term)}:** {md_escape(value)}" for term, value in block.items), ""]
    if isinstance(block, Bullets):
        return [*(f"- {md_escape(item, line_start=True)}" for item in block.items), ""]
    lines = [f"*{md_escape(block.caption)}*", ""] if block.caption else []
    lines.append("| " + " | ".join(md_escape(h) for h in block.headers) + " |")
    lines.append("|" + "|".join("---" for _ in block.headers) + "|")
    lines += ["| " + " | ".join(md_escape(cell) for cell in row) + " |" for row in block.rows]
    return [*lines, ""]


def report_markdown(report: EvaluationReport) -> str:
    verified = report_verify(report)
    lines = [f"# {md_escape(report.title, line_start=True)}", ""]
    lines += _md_block(Facts(report_facts(report, verified=verified)))
    lines += [
        md_escape(
            "Rates are shown as value [low, high] (k/n): the 95% interval (Clopper-Pearson unless marked Wilson) "
            "and the counts they come from."
        ),
        "",
        f"The DET curve is in the HTML report and at /api/v1/evaluation/reports/{report.pk}/det.png.",
        "",
    ]
    for section in report_sections(report):
        lines += [f"## {md_escape(section.title, line_start=True)}", ""]
        for block in section.blocks:
            lines += _md_block(block)
    return "\n".join(lines).rstrip() + "\n"
