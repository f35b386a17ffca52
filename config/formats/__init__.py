"""Per-language format overrides (``FORMAT_MODULE_PATH``).

Only the named formats the templates use are set here; everything else falls
back to Django's own locale formats. Templates never hard-code a date layout
for people to read: they use ``|date:"SHORT_DATETIME_FORMAT"`` (and
``SHORT_DATE_FORMAT``, ``DATETIME_FORMAT``), so English shows ISO-like dates
(``2026-03-01 14:05``) and Brazilian Portuguese ``01/03/2026 14:05``.
Machine formats (``|date:"c"``, ``value="{{ d|date:'Y-m-d' }}"`` of a date
input) stay fixed on purpose.
"""
