"""Signals other apps listen to (conversions, issue #9).

``ticket_stage_changed`` is sent once the move is committed, with
``sender=Ticket``, ``ticket`` (the moved :class:`~apps.leads.models.Ticket`)
and ``change`` (its :class:`~apps.leads.models.StageChange`). It is sent with
``send_robust``: a receiver that raises is logged and does not affect the
move or the other receivers. Receivers that must not miss a move should also
read the :class:`StageChange` rows: a signal is not delivered to a process
that was not running.
"""

from django.dispatch import Signal

ticket_stage_changed = Signal()
