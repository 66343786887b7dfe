"""What customers own: access, export, rectification, erasure, consent, on a clock.

Plain functions an HTTP layer wraps one-to-one (each takes an open ``Store``; results
are frozen dataclasses with ``to_dict()`` or plain dicts; errors are ``GoodwillError``
subclasses carrying ``http_status``: 404 unknown person or request, 409 a request in
the wrong state, 400 bad input). Suggested routes for ``serve``:

* ``POST /rights/requests`` → :func:`create_request` (customer_id, kind, received_at?, channel?, details?) → ``Request``
* ``GET  /rights/requests?status=&overdue=`` → :func:`list_requests` → ``[Request]`` (``to_dict()`` has ``days_left``, ``overdue``)
* ``GET  /rights/requests/{id}`` → :func:`get_request`; its audit trail: :func:`events_for`
* ``POST /rights/requests/{id}/verify`` → :func:`verify_identity` (method)
* ``POST /rights/requests/{id}/extend`` → :func:`extend_request` (months 1|2, reason)
* ``POST /rights/requests/{id}/fulfil`` → :func:`fulfil_request` (out for access) → ``(Request, summary)``
* ``POST /rights/requests/{id}/complete`` → :func:`complete_request`; ``/refuse`` → :func:`refuse_request` (reason)
* ``GET  /customers/{id}/export`` → :func:`export_person` (writes a zip; ``AccessPackage.path``)
* ``GET  /customers/{id}/data`` → :func:`collect` (tables as Arrow) for the customer's own page
* ``POST /customers/{id}/rectify`` → :func:`rectify` (table, row_key, column, new_value, reason); history: :func:`rectification_history`
* ``POST /customers/{id}/erase`` → :func:`erase_person` (keep_counts?) → ``ErasureResult``
* ``GET  /customers/{id}/consents`` → :func:`consent_history`; ``GET .../consents/{purpose}?channel=`` → :func:`current_consent`
* ``POST /customers/{id}/consents`` → :func:`give_consent` / :func:`withdraw_consent` / :func:`object_to` / :func:`restrict_processing`

The guard reads consent with :func:`current_consent`, :func:`may_contact` or, for a
campaign, :func:`consent_states`. Other packages make their tables part of access and
erasure by giving them a ``customer_column`` (automatic) or by
:func:`register_personal_table` (``columns=``, ``via=``, ``contains=``).
"""

from goodwill.rights._tables import PERSONAL_TABLES, PersonalTable, register_personal_table
from goodwill.rights.access import AccessPackage, collect, export_person
from goodwill.rights.audit import RightsEvent, events_for
from goodwill.rights.consent import (
    ConsentState,
    consent_history,
    consent_states,
    current_consent,
    give_consent,
    may_contact,
    object_to,
    record_consent,
    restrict_processing,
    withdraw_consent,
)
from goodwill.rights.deadlines import add_months, days_left, due_date, extended_due_date
from goodwill.rights.erase import (
    ErasureResult,
    compact_store,
    erase_person,
    pending_jobs,
    resume_jobs,
)
from goodwill.rights.fulfil import fulfil_request, resume
from goodwill.rights.person import Person, resolve_person
from goodwill.rights.rectify import rectification_history, rectify
from goodwill.rights.requests import (
    KINDS,
    STATUSES,
    Request,
    RequestStateError,
    complete_request,
    create_request,
    extend_request,
    get_request,
    list_requests,
    refuse_request,
    start_request,
    verify_identity,
)

__all__ = [
    "KINDS",
    "PERSONAL_TABLES",
    "STATUSES",
    "AccessPackage",
    "ConsentState",
    "ErasureResult",
    "Person",
    "PersonalTable",
    "Request",
    "RequestStateError",
    "RightsEvent",
    "add_months",
    "collect",
    "compact_store",
    "complete_request",
    "consent_history",
    "consent_states",
    "create_request",
    "current_consent",
    "days_left",
    "due_date",
    "erase_person",
    "events_for",
    "export_person",
    "extend_request",
    "extended_due_date",
    "fulfil_request",
    "get_request",
    "give_consent",
    "list_requests",
    "may_contact",
    "object_to",
    "pending_jobs",
    "record_consent",
    "rectification_history",
    "rectify",
    "refuse_request",
    "register_personal_table",
    "resolve_person",
    "restrict_processing",
    "resume",
    "resume_jobs",
    "start_request",
    "verify_identity",
    "withdraw_consent",
]
