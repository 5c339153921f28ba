"""Scores of a submission, as hub-export.md defines them.

A question's score is the score of its answer (multi-choice: the sum of the chosen options');
its maximum is its highest possible score (multi-choice: the sum of the positive option scores).
A section's score sums its enabled, answered, scored questions; its maximum sums the maxima of
its enabled scored questions, answered or not. Disabled questions count in neither. Totals sum
the sections. A question is *scored* when any of its answers can carry a score.
"""
from __future__ import annotations

from dataclasses import dataclass

Number = int | float


@dataclass(frozen=True)
class SectionScore:
    section: str
    score: Number
    maximum: Number


@dataclass(frozen=True)
class Scores:
    sections: tuple[SectionScore, ...]
    score: Number
    maximum: Number


def is_scored(question: dict) -> bool:
    if question["type"] == "boolean":
        return bool(question.get("scores"))
    if question["type"] in ("choice", "multi-choice"):
        return any(o.get("score") is not None for o in question.get("options") or [])
    return False


def maximum(question: dict) -> Number:
    if question["type"] == "boolean":
        return max((question.get("scores") or {}).values(), default=0)
    scores = [o.get("score") or 0 for o in question.get("options") or []]
    if question["type"] == "multi-choice":
        return sum(s for s in scores if s > 0)
    return max(scores, default=0)


def score(question: dict, value) -> Number:
    """The score of one answer (an unscored option scores 0)."""
    if question["type"] == "boolean":
        return (question.get("scores") or {}).get("true" if value else "false") or 0
    by_code = {o["code"]: o.get("score") or 0 for o in question.get("options") or []}
    if question["type"] == "multi-choice":
        return sum(by_code.get(code, 0) for code in value)
    return by_code.get(value, 0)


def matches(question: dict, value, expected) -> bool:
    """Whether an answer `value` of `question` is the enable_when `expected` answer.
    A multi-choice answer matches when the expected code is among the chosen ones."""
    if question["type"] == "multi-choice":
        return expected in value
    if question["type"] == "boolean" or type(expected) is bool:
        return type(value) is bool and value is expected
    return value == expected


def enabled_questions(assessment: dict, answers: dict[str, object]) -> set[str]:
    """Ids of the questions that are enabled given `answers` (question id -> value).

    In form order: a question is enabled when it has no enable_when, or when the question it
    names is itself enabled and answered with the expected answer.
    """
    enabled: set[str] = set()
    by_id: dict[str, dict] = {}
    for section in assessment["sections"]:
        for question in section["questions"]:
            by_id[question["id"]] = question
            condition = question.get("enable_when")
            if condition is None:
                enabled.add(question["id"])
                continue
            controlling = by_id.get(condition["question"])
            if (controlling is not None and controlling["id"] in enabled and controlling["id"] in answers
                    and matches(controlling, answers[controlling["id"]], condition["answer"])):
                enabled.add(question["id"])
    return enabled


def score_submission(assessment: dict, answers: dict[str, object]) -> Scores:
    enabled = enabled_questions(assessment, answers)
    sections = []
    for section in assessment["sections"]:
        got: Number = 0
        best: Number = 0
        for question in section["questions"]:
            if question["id"] not in enabled or not is_scored(question):
                continue
            best += maximum(question)
            if question["id"] in answers:
                got += score(question, answers[question["id"]])
        sections.append(SectionScore(section["id"], got, best))
    return Scores(tuple(sections), sum(s.score for s in sections), sum(s.maximum for s in sections))
