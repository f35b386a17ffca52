"""The configured django-q2 broker carries a task through the real worker code.

CI runs this with the ORM broker on SQLite and PostgreSQL and with Redis.
"""

import uuid
from multiprocessing import Event, Queue, Value

import pytest
from django_q.brokers import get_broker
from django_q.monitor import monitor
from django_q.pusher import pusher
from django_q.tasks import async_task, result
from django_q.worker import worker

pytestmark = pytest.mark.django_db(transaction=True)


def test_task_round_trip_through_the_configured_broker(settings):
    broker = get_broker(list_key=f"hub-test-{uuid.uuid4().hex}")
    try:
        task_id = async_task("math.copysign", 3, -1, broker=broker)
        assert broker.queue_size() == 1

        task_queue, result_queue = Queue(), Queue()
        stop = Event()
        stop.set()
        pusher(task_queue, stop, broker=broker)
        task_queue.put("STOP")
        worker(task_queue, result_queue, Value("f", -1))
        result_queue.put("STOP")
        monitor(result_queue, broker)

        assert result(task_id) == -3.0
        assert broker.queue_size() == 0
    finally:
        broker.delete_queue()
