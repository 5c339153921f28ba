"""marshmallow schemas of the export files (hub-export.md): the shape of each record.

`load_record(kind, data)` returns the record in its *canonical native form* (the form the
inverse mappers produce): unknown fields dropped (and named, for the report's warnings), nulls
and empty optional strings dropped, defaults filled in (`active: true`, `required: false`,
`priority: routine`). Rules that span fields or records (a practice's `icb`, enableWhen, answers
against their form) are the mapper modules' `check_*` functions, not the schemas': here only what
one field can say about itself.
"""
from __future__ import annotations

import re
from datetime import date, datetime

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate

KEY = re.compile(r"^[A-Za-z0-9.\-]{1,48}$")
VERSION = re.compile(r"^[A-Za-z0-9.]{1,12}$")
ODS_ANY = re.compile(r"^[A-Z0-9]{3,10}$")  # the union of the per-kind patterns (checked per kind)
ODS_BY_KIND = {
    "practice": re.compile(r"^[A-Z][0-9]{5}$"),
    "pcn": re.compile(r"^U[0-9]{5}$"),
    "icb": re.compile(r"^Q[A-Z0-9]{2}$"),
    "federation": re.compile(r"^[A-Z0-9]{3,10}$"),
}
# FHIR dateTime needs the seconds whenever there is a time; the spec's times always have a zone.
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
MAX_INT = 2**31 - 1  # FHIR integer is 32-bit


def _regex(pattern: re.Pattern, what: str):
    def check(value: str) -> None:
        if not pattern.match(value):
            raise ValidationError(f"{value!r} is not {what}")
    return check


def is_datetime(value) -> bool:
    if not isinstance(value, str) or not _DATETIME.match(value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def is_date(value) -> bool:
    if not isinstance(value, str) or not _DATE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _datetime(value: str) -> None:
    if not is_datetime(value):
        raise ValidationError(f"{value!r} is not a time with a zone, e.g. 2026-05-10T10:22:00Z")


def _date(value: str) -> None:
    if not is_date(value):
        raise ValidationError(f"{value!r} is not a date YYYY-MM-DD")


key_check = _regex(KEY, "an id of 1-48 of A-Z a-z 0-9 . -")
ods_check = _regex(ODS_ANY, "an ODS code")


class StrictBoolean(fields.Field):
    """true/false only: marshmallow's Boolean would take "yes" and 1."""

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is not bool:
            raise ValidationError("Not a boolean (true or false).")
        return value


class StrictNumber(fields.Field):
    """A JSON number, kept as it came (int or float); no strings, no booleans."""

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) not in (int, float):
            raise ValidationError("Not a number.")
        return value


class Text(fields.String):
    """A non-empty string; an optional one that is empty or blank counts as absent."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not text.strip():
            if self.required:
                raise ValidationError("Must not be empty.")
            return None
        return text


def Count(**kwargs) -> fields.Integer:  # noqa: N802 - a field factory reads like a field class
    return fields.Integer(strict=True, validate=validate.Range(0, MAX_INT), **kwargs)


def Key(**kwargs) -> fields.String:  # noqa: N802
    return fields.String(validate=key_check, **kwargs)


def Ods(**kwargs) -> fields.String:  # noqa: N802
    return fields.String(validate=ods_check, **kwargs)


def DateTime(**kwargs) -> fields.String:  # noqa: N802
    """Kept as the string it came as: round trips stay exact and FHIR takes the same lexical form."""
    return fields.String(validate=_datetime, **kwargs)


def Date(**kwargs) -> fields.String:  # noqa: N802
    return fields.String(validate=_date, **kwargs)


def OneOf(*choices: str, **kwargs) -> fields.String:  # noqa: N802
    return fields.String(validate=validate.OneOf(choices, error="must be one of {choices}"), **kwargs)


class Record(Schema):
    """Base: unknown keys are dropped (the report names them, see `unknown_fields`), nulls too."""

    class Meta:
        unknown = EXCLUDE

    @post_load
    def _canonical(self, data: dict, **_kwargs) -> dict:
        return {k: v for k, v in data.items() if v is not None}


# -- organisations.ndjson --------------------------------------------------------------------
class OrganisationSchema(Record):
    ods_code = Ods(required=True)
    kind = OneOf("icb", "pcn", "practice", "federation", required=True)
    name = Text(required=True)
    parent = Ods(allow_none=True)
    icb = Ods(allow_none=True)
    postcode = Text(allow_none=True)
    active = StrictBoolean(load_default=True)
    list_size = Count(allow_none=True)
    federations = fields.List(Ods(), allow_none=True)

    @post_load
    def _empty_list(self, data: dict, **_kwargs) -> dict:
        if data.get("federations") == []:  # no memberships: the same as none given
            del data["federations"]
        return data


# -- assessments.ndjson ----------------------------------------------------------------------
class OptionSchema(Record):
    code = Text(required=True)
    label = Text(required=True)
    score = StrictNumber(validate=validate.Range(min=0), allow_none=True)


class BooleanScoresSchema(Record):
    true_ = StrictNumber(data_key="true", attribute="true", validate=validate.Range(min=0), allow_none=True)
    false_ = StrictNumber(data_key="false", attribute="false", validate=validate.Range(min=0), allow_none=True)


class EnableWhenSchema(Record):
    question = Text(required=True)
    answer = fields.Raw(required=True)


QUESTION_TYPES = ("boolean", "choice", "multi-choice", "integer", "decimal", "text", "date")


class QuestionSchema(Record):
    id = Text(required=True)
    text = Text(required=True)
    type = OneOf(*QUESTION_TYPES, required=True)
    required = StrictBoolean(load_default=False)
    options = fields.List(fields.Nested(OptionSchema()), allow_none=True)
    scores = fields.Nested(BooleanScoresSchema(), allow_none=True)
    enable_when = fields.Nested(EnableWhenSchema(), allow_none=True)

    @post_load
    def _empty_scores(self, data: dict, **_kwargs) -> dict:
        if data.get("scores") == {}:  # no score given: an unscored question
            del data["scores"]
        return data


class SectionSchema(Record):
    id = Key(required=True)
    title = Text(required=True)
    # A FHIR group item must have items (que-1): a section without questions has no FHIR form.
    questions = fields.List(fields.Nested(QuestionSchema()), required=True, validate=validate.Length(min=1))


class AssessmentSchema(Record):
    id = Key(required=True)
    version = fields.String(required=True, validate=_regex(VERSION, "a version of 1-12 of A-Z a-z 0-9 ."))
    kind = OneOf("global", "indepth", required=True)
    theme = fields.String(allow_none=True, validate=_regex(KEY, "a theme code"))
    title = Text(required=True)
    status = OneOf("draft", "active", "retired", required=True)
    published = Date(allow_none=True)
    sections = fields.List(fields.Nested(SectionSchema()), required=True, validate=validate.Length(min=1))


# -- submissions.ndjson ----------------------------------------------------------------------
class PersonSchema(Record):
    name = Text(allow_none=True)
    role = Text(allow_none=True)
    email = Text(allow_none=True)


class AnswerSchema(Record):
    question = Text(required=True)
    value = fields.Raw(required=True, allow_none=True)  # typed against the form in submission.py


class SubmissionSchema(Record):
    id = Key(required=True)
    assessment = Key(required=True)
    assessment_version = fields.String(required=True, validate=_regex(VERSION, "an assessment version"))
    practice = Ods(required=True)
    status = OneOf("in-progress", "completed", "amended", "entered-in-error", required=True)
    started = DateTime(allow_none=True)
    submitted = DateTime(allow_none=True)
    author = fields.Nested(PersonSchema(), allow_none=True)
    answers = fields.List(fields.Nested(AnswerSchema()), load_default=list, allow_none=True)

    @post_load
    def _normalise(self, data: dict, **_kwargs) -> dict:
        if data.get("author") == {}:
            del data["author"]
        # A null or empty-list value is no answer: the question counts as unanswered.
        data["answers"] = [a for a in data.get("answers") or [] if a.get("value") not in (None, [])]
        return data


# -- actions.ndjson --------------------------------------------------------------------------
class OwnerSchema(Record):
    organisation = Ods(required=True)
    name = Text(allow_none=True)
    role = Text(allow_none=True)


IMPACT_CATEGORIES = ("time-saved", "patient-access", "patient-safety", "cost", "staff-experience", "other")
ACTION_STATUSES = ("proposed", "agreed", "in-progress", "on-hold", "completed", "cancelled")


class ImpactSchema(Record):
    category = OneOf(*IMPACT_CATEGORIES, required=True)
    summary = Text(allow_none=True)
    value = StrictNumber(allow_none=True)
    unit = Text(allow_none=True)


class NoteSchema(Record):
    at = DateTime(allow_none=True)
    text = Text(required=True)


class ActionSchema(Record):
    id = Key(required=True)
    practice = Ods(required=True)
    submission = Key(allow_none=True)
    question = Text(allow_none=True)
    title = Text(required=True)
    description = Text(allow_none=True)
    status = OneOf(*ACTION_STATUSES, required=True)
    priority = OneOf("routine", "urgent", load_default="routine")
    owner = fields.Nested(OwnerSchema(), allow_none=True)
    created = DateTime(required=True)
    due = Date(allow_none=True)
    completed = DateTime(allow_none=True)
    impact = fields.Nested(ImpactSchema(), allow_none=True)
    notes = fields.List(fields.Nested(NoteSchema()), allow_none=True)

    @post_load
    def _empty_notes(self, data: dict, **_kwargs) -> dict:
        if data.get("notes") == []:
            del data["notes"]
        return data


# -- usage.ndjson ----------------------------------------------------------------------------
USAGE_METRICS = ("active_users", "logins", "assessments_started", "assessments_completed",
                 "actions_created", "actions_completed")


class UsageSchema(Record):
    organisation = Ods(required=True)
    period = fields.String(required=True, validate=_regex(_PERIOD, "a month YYYY-MM"))
    active_users = Count(allow_none=True)
    logins = Count(allow_none=True)
    assessments_started = Count(allow_none=True)
    assessments_completed = Count(allow_none=True)
    actions_created = Count(allow_none=True)
    actions_completed = Count(allow_none=True)


# -- contracts.ndjson ------------------------------------------------------------------------
class ContractSchema(Record):
    id = Key(required=True)
    holder = Ods(required=True)
    kind = OneOf("icb", "pcn", "federation", required=True)
    covers = fields.List(Ods(), allow_none=True)
    start = Date(required=True)
    end = Date(required=True)
    status = OneOf("active", "suspended", "ended", required=True)


SCHEMAS: dict[str, Schema] = {
    "organisation": OrganisationSchema(),
    "assessment": AssessmentSchema(),
    "submission": SubmissionSchema(),
    "action": ActionSchema(),
    "usage": UsageSchema(),
    "contract": ContractSchema(),
}


def _flatten(messages, prefix: str = "") -> list[tuple[str, str]]:
    """marshmallow's nested error dict -> [(field path like `answers[2].value`, reason)]."""
    out: list[tuple[str, str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if isinstance(key, int):
                path = f"{prefix}[{key}]"
            elif key == "_schema":
                path = prefix or "(record)"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            out.extend(_flatten(value, path))
    elif isinstance(messages, list):
        for item in messages:
            if isinstance(item, (dict, list)):
                out.extend(_flatten(item, prefix))
            else:
                out.append((prefix or "(record)", str(item)))
    else:
        out.append((prefix or "(record)", str(messages)))
    return out


def load_record(kind: str, data: dict) -> tuple[dict | None, list[tuple[str, str]]]:
    """(canonical record, []) or (None, [(field, reason), ...])."""
    try:
        return SCHEMAS[kind].load(data), []
    except ValidationError as exc:
        return None, _flatten(exc.messages)


def _declared(schema: Schema) -> dict[str, fields.Field]:
    return {(f.data_key or name): f for name, f in schema.fields.items()}


def unknown_fields(schema: Schema, data, prefix: str = "") -> list[str]:
    """Paths of the keys the schema does not declare (reported as warnings, then ignored)."""
    if not isinstance(data, dict):
        return []
    found: list[str] = []
    declared = _declared(schema)
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else key
        field = declared.get(key)
        if field is None:
            found.append(path)
        elif isinstance(field, fields.Nested):
            found.extend(unknown_fields(field.schema, value, path))
        elif isinstance(field, fields.List) and isinstance(field.inner, fields.Nested) and isinstance(value, list):
            for i, item in enumerate(value):
                found.extend(unknown_fields(field.inner.schema, item, f"{path}[{i}]"))
    return found
