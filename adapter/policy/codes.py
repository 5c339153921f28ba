"""The policy's vocabulary (fhir-conventions.md "Names"): data types, levels, roles, purposes,
and the systems their codes live in. URLs come from `mappings.names`, so mappers, profiles and
the engine cannot drift apart."""
from __future__ import annotations

from mappings.names import (CS_AUDIENCE_ROLE, CS_CONSENT_POLICY, CS_CONSENT_SCOPE, CS_DATA_TYPE,  # noqa: F401
                            CS_GRANULARITY, EXT_AUDIENCE_ROLE, EXT_CONTRACT_STATUS, ID, ID_CONTRACT,
                            MEASURE_REPORT_SUBJECT, ODS, V3_ACT_CODE, V3_ACT_REASON, V3_ROLE_CODE)

# The six data types (= Measure ids) and the three levels, in the policy's table order.
DATA_TYPES = ("global-assessment", "indepth-assessment", "actions", "impact-summary",
              "indepth-action-summary", "usage")
LEVELS = ("icb", "pcn", "practice")
ROLES = ("practice", "pcn", "federation", "icb", "external", "service")
PURPOSES = ("HMARKT", "HOPERAT", "HQUALIMP")
# Contract, service and own-practice tiers are granted only for these (policy "Purpose of use").
OPERATIONAL_PURPOSES = frozenset({"HOPERAT", "HQUALIMP"})

# Roles whose tier comes only with a contract in force ("An ICB, PCN or federation without a
# contract in force has the baseline only"); the tier's audience-role equals the contract kind.
CONTRACT_ROLES = frozenset({"icb", "pcn", "federation"})
# The tier every registered client holds: the policy's External table ("Baseline").
BASELINE_ROLE = "external"

# Handling caveats on served views (v3-ObservationValue).
V3_OBSERVATION_VALUE = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
REDACTED = "REDACTED"
MASKED = "MASKED"

# A registered client named in an override Consent (Reference.identifier of a Device): our
# business-identifier pattern `…/Id/<kind>`; value = the client id of the token.
ID_CLIENT = f"{ID}/client"

PROFILE_CONSENT = "https://fhir.dandthub.co.uk/StructureDefinition/dthub-consent"
