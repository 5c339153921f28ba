"""Answers to a form that a practice of a given digital maturity (0..1) would plausibly give."""
from __future__ import annotations

import math
import random
from datetime import date, timedelta

from .forms import Form, Question

OPTIONAL_ANSWERED = 0.75  # how often an enabled optional question gets an answer


def enabled(question: Question, answers: dict) -> bool:
    """enable_when: asked only when the named earlier question has exactly that answer."""
    if question.when is None:
        return True
    qid, expected = question.when
    if qid not in answers:
        return False
    value = answers[qid]
    return type(value) is type(expected) and value == expected


def _chance(maturity: float, difficulty: float, steepness: float = 7.0) -> float:
    return 1.0 / (1.0 + math.exp(-(maturity - difficulty) * steepness))


def answer(question: Question, rng: random.Random, maturity: float, started: date):
    kind = question.type
    if kind == "boolean":
        return rng.random() < _chance(maturity, question.gen[0])
    if kind == "choice":
        if question.options[0].score is None:  # unscored: a fact with typical shares
            return rng.choices([o.code for o in question.options], weights=question.gen)[0]
        level = maturity - question.gen[0] + 0.5 + rng.gauss(0, 0.18)
        index = min(len(question.options) - 1, max(0, int(level * len(question.options))))
        return question.options[index].code
    if kind == "multi-choice":
        real = [o for o in question.options if o.code != "none"]
        share = min(0.95, max(0.05, _chance(maturity, question.gen[0], 5.0) + rng.gauss(0, 0.1)))
        chosen = [o.code for o in real if rng.random() < share]
        if not chosen:
            chosen = ["none"] if len(real) < len(question.options) else [rng.choice(real).code]
        return chosen
    if kind == "integer":
        low, high, mode = question.gen
        return int(round(rng.triangular(low, high, mode)))
    if kind == "decimal":
        low, high, mode = question.gen
        return round(rng.triangular(low, high, mode), 1)
    if kind == "text":
        return rng.choice(question.gen)
    if kind == "date":
        earliest, latest = question.gen
        return (started + timedelta(days=rng.randint(earliest, latest))).isoformat()
    raise ValueError(f"unknown question type {kind!r}")


def fill(form: Form, rng: random.Random, maturity: float, started: date, facts: dict,
         complete: bool) -> dict:
    """question id -> value, in form order. An incomplete (in-progress) form stops part way.

    Disabled questions get no answer; enabled required ones always do when `complete`.
    `facts` keeps the practice's answers to fact questions (its clinical system...) stable.
    """
    questions = form.questions
    stop = len(questions) if complete else rng.randint(1, max(1, len(questions) - 2))
    answers: dict = {}
    for question in questions[:stop]:
        if not enabled(question, answers):
            continue
        if not question.required and rng.random() > OPTIONAL_ANSWERED:
            continue
        if question.fact:
            value = facts.setdefault(question.fact, answer(question, rng, maturity, started))
        else:
            value = answer(question, rng, maturity, started)
        answers[question.id] = value
    return answers


def shortfall(question: Question, answers: dict) -> float:
    """How far the answer is below the question's best score (0..1); 0.3 when unscored or unanswered."""
    if question.type == "boolean" and question.scores:
        best = max(question.scores)
        if question.id not in answers or not best:
            return 0.3
        return 1 - question.scores[0 if answers[question.id] else 1] / best
    scored = [o for o in question.options if o.score is not None]
    if not scored or question.id not in answers:
        return 0.3
    value = answers[question.id]
    chosen = value if isinstance(value, list) else [value]
    if question.type == "multi-choice":
        best = sum(o.score for o in scored if o.score > 0)
        got = sum(o.score for o in scored if o.code in chosen)
    else:
        best = max(o.score for o in scored)
        got = next((o.score for o in scored if o.code == value), 0)
    return 1 - got / best if best else 0.3
