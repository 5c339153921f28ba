"""Building the interactions' Context from a Config: the server's app factory and CLI commands that
read the store as a caller would (`dthub push`) build it the same way, without Flask."""
from __future__ import annotations

from .config import Config
from .enforcement.state import PolicyState
from .interactions.context import Context
from .search.engine import SearchEngine
from .shipped import load_shipped
from .store import open_repository


def build_context(config: Config) -> Context:
    from profiles.validate import validate_all

    from .interactions.questionnaire_check import check_against_questionnaire

    repo = open_repository(config)
    load_shipped(repo)

    def validate(resource: dict):
        issues = validate_all(resource)
        if resource.get("resourceType") == "QuestionnaireResponse" and not issues:
            issues = check_against_questionnaire(repo, resource)
        return issues

    from .aggregates import Aggregates, StoreSource

    return Context(config=config, repo=repo, validate=validate, fhir_base=config.fhir_base,
                   search=SearchEngine(repo, config.fhir_base), policy=PolicyState(repo, today=config.policy_today),
                   aggregates=Aggregates(StoreSource(repo), k=config.suppression_k))
