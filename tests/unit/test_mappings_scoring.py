"""Scores as hub-export.md defines them: enabled/disabled questions, multi-choice sums, unanswered
enabled questions in the maximum."""
from __future__ import annotations

from mappings.scoring import enabled_questions, maximum, score, score_submission


def q(id_, type_, **more):
    return {"id": id_, "text": id_, "type": type_, "required": False, **more}


OPTIONS = [{"code": "a", "label": "A", "score": 1}, {"code": "b", "label": "B", "score": 2},
           {"code": "c", "label": "C", "score": 4}, {"code": "z", "label": "Z"}]
FORM = {"sections": [
    {"id": "s1", "questions": [
        q("B", "boolean", scores={"true": 3, "false": 1}),
        q("C", "choice", options=OPTIONS, enable_when={"question": "B", "answer": True}),
        q("T", "text")]},
    {"id": "s2", "questions": [
        q("M", "multi-choice", options=OPTIONS),
        q("N", "integer", enable_when={"question": "M", "answer": "b"}),
        q("U", "boolean")]}]}


def test_question_maxima():
    assert maximum(q("B", "boolean", scores={"true": 3, "false": 1})) == 3
    assert maximum(q("C", "choice", options=OPTIONS)) == 4
    assert maximum(q("M", "multi-choice", options=OPTIONS)) == 7  # the sum of the positive scores


def test_answer_scores():
    assert score(q("B", "boolean", scores={"true": 3, "false": 1}), False) == 1
    assert score(q("B", "boolean", scores={"true": 3}), False) == 0
    assert score(q("C", "choice", options=OPTIONS), "z") == 0  # an unscored option scores 0
    assert score(q("M", "multi-choice", options=OPTIONS), ["a", "c"]) == 5


def test_everything_answered_and_enabled():
    scores = score_submission(FORM, {"B": True, "C": "b", "T": "x", "M": ["a", "b"], "N": 3, "U": True})
    assert [(s.section, s.score, s.maximum) for s in scores.sections] == [("s1", 5, 7), ("s2", 3, 7)]
    assert (scores.score, scores.maximum) == (8, 14)


def test_disabled_questions_count_in_neither():
    scores = score_submission(FORM, {"B": False, "M": ["a"]})  # C disabled by B, N disabled by M
    assert enabled_questions(FORM, {"B": False, "M": ["a"]}) == {"B", "T", "M", "U"}
    assert [(s.score, s.maximum) for s in scores.sections] == [(1, 3), (1, 7)]


def test_unanswered_enabled_question_scores_zero_but_counts_in_the_maximum():
    scores = score_submission(FORM, {"B": True})  # C enabled but unanswered; M unanswered
    assert [(s.score, s.maximum) for s in scores.sections] == [(3, 7), (0, 7)]
    assert (scores.score, scores.maximum) == (3, 14)


def test_a_condition_on_a_disabled_question_disables_too():
    form = {"sections": [{"id": "s", "questions": [
        q("A", "boolean"), q("B", "boolean", enable_when={"question": "A", "answer": True}),
        q("C", "boolean", scores={"true": 1}, enable_when={"question": "B", "answer": True})]}]}
    assert enabled_questions(form, {"A": False}) == {"A"}
    assert score_submission(form, {"A": False}).maximum == 0
    assert score_submission(form, {"A": True, "B": True}).maximum == 1


def test_nothing_scored():
    scores = score_submission({"sections": [{"id": "s", "questions": [q("T", "text")]}]}, {"T": "x"})
    assert (scores.score, scores.maximum) == (0, 0)
