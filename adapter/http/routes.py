"""URL -> interaction. Views only translate HTTP to calls; FHIR semantics live in adapter.interactions."""
from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request, send_file

from ..auth.bearer import authenticate, authorise
from ..bulk import service as bulk
from ..enforcement.gate import Gate
from ..interactions import bundles, capabilities, crud, evaluate_measure, history, operations, policy_matrix, search
from ..formats import negotiation
from ..outcomes import error
from .parsing import fhir_request
from .rendering import negotiated_format, render

# Reachable without a token (FHIR http.html#capabilities; SMART App Launch discovery).
_OPEN_ENDPOINTS = {"fhir.metadata", "fhir.smart_configuration"}


def _ctx():
    return current_app.extensions["dthub"]


def _bulk():
    return current_app.extensions["dthub.export"]


def _authorised(interaction: str, resource_type: str | None) -> None:
    authorise(g.principal, interaction, resource_type)


def fhir_blueprint() -> Blueprint:
    bp = Blueprint("fhir", __name__, url_prefix="/fhir")

    @bp.before_request
    def _negotiate_then_authenticate():
        # A 406 must be known before any work is done, and errors reuse the result.
        if request.endpoint == "fhir.export_file":
            g.response_format = negotiation.JSON  # the file is NDJSON whatever Accept says; errors are JSON
        negotiated_format()
        if request.endpoint in _OPEN_ENDPOINTS:
            return
        auth = current_app.extensions["dthub.auth"]
        g.principal = authenticate(auth, request.headers.get("Authorization"),
                                   token_in_query="access_token" in request.args)
        current_app.extensions["dthub.rate_limit"].check(g.principal.client_id)
        context = _ctx()
        g.gate = Gate(context.policy, g.principal, context.repo)

    def serve(interaction: str, handler, resource_type: str | None = None, *args, **kwargs):
        """Refuse an unserved type or method, check the SMART scope, run the interaction, render."""
        if resource_type is not None:
            crud.check_type(resource_type, interaction)
        _authorised(interaction, resource_type)
        return render(handler(_ctx(), fhir_request(resource_type, *args, **kwargs)))

    @bp.get("/metadata")
    def metadata():
        return render(capabilities.capabilities(_ctx(), fhir_request()))

    @bp.get("/.well-known/smart-configuration")
    def smart_configuration():
        return jsonify(capabilities.smart_configuration(_ctx().config))

    @bp.post("")
    @bp.post("/")
    def batch_or_transaction():
        # Each entry is type-checked and scope-checked on its own (interactions.bundles).
        return render(bundles.batch_or_transaction(_ctx(), fhir_request(with_body=True)))

    # Needs a token but no particular scope (conventions: Operations).
    @bp.get("/$policy-matrix")
    def policy_matrix_operation():
        registry = current_app.extensions["dthub.auth"].registry
        return render(policy_matrix.matrix(_ctx(), fhir_request(), registry.get))

    # Bulk Data v2 (adapter.bulk): kick-off, status, cancel, files.
    @bp.route("/$export", methods=["GET", "POST"])
    def export_kick_off():
        if request.headers.get("Accept") and negotiated_format() != negotiation.JSON:
            raise error(406, "not-supported", "$export answers in application/fhir+json only")
        return render(bulk.kick_off(_ctx(), fhir_request(with_body=request.method == "POST"), _bulk()))

    @bp.get("/_bulk/<job_id>")
    def export_status(job_id):
        return render(bulk.status(_ctx(), fhir_request(), _bulk(), job_id), negotiation.JSON)

    @bp.delete("/_bulk/<job_id>")
    def export_cancel(job_id):
        return render(bulk.cancel(_ctx(), fhir_request(), _bulk(), job_id), negotiation.JSON)

    @bp.get("/_bulk/<job_id>/<name>")
    def export_file(job_id, name):
        path = bulk.file_path(_ctx(), fhir_request(), _bulk(), job_id, name)
        return send_file(path, mimetype="application/fhir+ndjson", conditional=False, etag=False)

    @bp.get("/_history")
    def history_system():
        return serve("history-system", history.history_system)

    @bp.post("/<rtype>")
    def create(rtype):
        return serve("create", crud.create, rtype, with_body=True)

    @bp.get("/<rtype>")
    def search_get(rtype):
        return serve("search-type", search.search_type, rtype)

    @bp.post("/<rtype>/_search")
    def search_post(rtype):
        return serve("search-type", search.search_type, rtype, search_form=True)

    @bp.put("/<rtype>")
    def conditional_update(rtype):
        return serve("update", crud.update, rtype, with_body=True)

    @bp.delete("/<rtype>")
    def conditional_delete(rtype):
        return serve("delete", crud.delete, rtype)

    @bp.route("/<rtype>/$validate", methods=["POST"])
    def validate_type(rtype):
        return serve("operation", operations.validate, rtype, with_body=True)

    @bp.route("/<rtype>/<rid>/$validate", methods=["GET", "POST"])
    def validate_instance(rtype, rid):
        return serve("operation", operations.validate, rtype, rid, with_body=request.method == "POST")

    # Terminology operations need a token but no particular scope (conventions).
    @bp.route("/CodeSystem/$lookup", methods=["GET", "POST"])
    def cs_lookup():
        return render(operations.lookup(_ctx(), fhir_request("CodeSystem", with_body=request.method == "POST")))

    @bp.route("/CodeSystem/$validate-code", methods=["GET", "POST"])
    def cs_validate_code():
        return render(operations.validate_code(_ctx(), fhir_request("CodeSystem", with_body=request.method == "POST")))

    @bp.route("/ValueSet/$validate-code", methods=["GET", "POST"])
    def vs_validate_code():
        return render(operations.validate_code(_ctx(), fhir_request("ValueSet", with_body=request.method == "POST")))

    @bp.route("/ValueSet/$expand", methods=["GET", "POST"])
    def vs_expand():
        return render(operations.expand(_ctx(), fhir_request("ValueSet", with_body=request.method == "POST")))

    @bp.route("/ValueSet/<rid>/$expand", methods=["GET", "POST"])
    def vs_expand_instance(rid):
        return render(operations.expand(_ctx(), fhir_request("ValueSet", rid, with_body=request.method == "POST")))

    # An aggregate is a MeasureReport the caller reads (conventions: system/MeasureReport.rs).
    @bp.route("/Measure/<rid>/$evaluate-measure", methods=["GET", "POST"])
    def evaluate_measure_operation(rid):
        _authorised("read", "MeasureReport")
        _authorised("search-type", "MeasureReport")
        return render(evaluate_measure.evaluate_measure(
            _ctx(), fhir_request("Measure", rid, with_body=request.method == "POST")))

    @bp.get("/<rtype>/_history")
    def history_type(rtype):
        return serve("history-type", history.history_type, rtype)

    @bp.get("/<rtype>/<rid>")
    def read(rtype, rid):
        return serve("read", crud.read, rtype, rid)

    @bp.put("/<rtype>/<rid>")
    def update(rtype, rid):
        return serve("update", crud.update, rtype, rid, with_body=True)

    @bp.delete("/<rtype>/<rid>")
    def delete(rtype, rid):
        return serve("delete", crud.delete, rtype, rid)

    @bp.patch("/<rtype>/<rid>")
    def patch(rtype, rid):
        crud.check_type(rtype, "read")
        raise error(405, "not-supported", "PATCH is not supported; send the whole resource with PUT",
                    headers={"Allow": "GET, PUT, DELETE"})

    @bp.get("/<rtype>/<rid>/_history")
    def history_instance(rtype, rid):
        return serve("history-instance", history.history_instance, rtype, rid)

    @bp.get("/<rtype>/<rid>/_history/<vid>")
    def vread(rtype, rid, vid):
        return serve("vread", crud.vread, rtype, rid, vid)

    return bp


def health_blueprint() -> Blueprint:
    bp = Blueprint("health", __name__)

    @bp.get("/livez")
    def livez():
        # Liveness: the process answers, whatever the store does. Also the benchmark's ceiling route.
        return jsonify(status="ok")

    @bp.get("/healthz")
    def healthz():
        try:
            _ctx().repo.ping()
        except Exception:  # a load balancer needs a status, not a stack trace
            current_app.logger.exception("health check: store unreachable")
            return jsonify(status="unavailable"), 503
        return jsonify(status="ok")

    return bp
