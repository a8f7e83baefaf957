"""The operations UI inside Airflow (CONTRACT §7): the ``bdcwatch`` plugin's FastAPI app
under ``/bdcwatch`` and the pages behind the navigation entry 问题台账.

Modules, by concern:

* ``app`` — ``create_app()``: the FastAPI app the plugin (``plugins/bdcwatch_plugin.py``)
  registers; error pages; the package's static files (no CDN: sites run offline).
* ``auth`` — who is asking and what they may do, through Airflow's auth manager (the UI's
  ``_token`` cookie or a Bearer token from ``/auth/token``): anonymous 401, readers need
  DAG read access (viewer and up), changes need op or admin, and a CSRF token in a
  header for cookie sessions.
* ``deps`` — supervision_db (the ``supervision_db`` connection), the policy, the clock.
* ``api`` — the JSON API of CONTRACT §7 (``/bdcwatch/api/...``).
* ``api_loops`` — the API of the loops closed by hand (CONTRACT §8): a verdict per sampled
  case, the filled checklist's upload, a complaints export's upload, yearly-duty evidence.
* ``pages`` — the HTML pages (``/bdcwatch/ui/...``): ledger, finding, KPIs, quarantine
  (with the complaints upload), samples (verdict forms, checklist upload), duties, outbox;
  Jinja2 templates in ``templates/`` with autoescaping.
* ``reads`` — what the pages show besides the ledger (quarantine, samples, outbox).
* ``labels`` — Chinese labels of statuses, severities, fields and codes.
* ``exports`` — the filtered ledger as XLSX.

Reads of the ledger go through ``ledger.query`` and every change through the engine's
own functions (``ledger.lifecycle.change_status``, ``mail.outbox.resend``,
``ledger.verdicts.record_verdict``, ``intake.checklist.import_checklist``,
``intake.complaints.take_in_file``, ``ledger.duties.record_evidence``): one
lifecycle and one audit trail whether a change comes from the UI, the CLI or look-back,
with the logged-in user's name as the actor. Every text from data is masked
(``standards.masking``) and escaped by the templates.
"""
