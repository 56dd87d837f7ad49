"""The local runner's data plane must not lose elements (pipeline.runner.guard_beam_data_plane).

At 1 GB of CC text the line-dedup join lost thousands of documents, nondeterministically:
Beam's time-based data streams clear what is written while a periodic flush waits on a
full send queue. These tests pin the race and the guard (bench/RESULTS.md has the run).
"""
from __future__ import annotations

import time

from apache_beam.runners.portability.fn_api_runner import worker_handlers
from apache_beam.runners.worker import data_plane

from pipeline.runner import make_options


def _send_through(stream_factory, blobs: list[bytes]) -> bytes:
    got: list[bytes] = []

    def send(data: bytes) -> None:  # like _GrpcDataChannel._enqueue_to_send while the send queue is full
        time.sleep(0.02)
        got.append(data)

    out = stream_factory(send)
    for blob in blobs:
        out.write(blob)
        time.sleep(0.0002)
    out.close()
    return b"".join(got)


BLOBS = [b"%08d" % i for i in range(300)]


def test_beams_time_based_stream_loses_what_is_written_during_a_blocked_flush():
    """The bug the guard avoids: if this starts failing, Beam fixed it and the guard can go."""
    received = _send_through(
        lambda send: data_plane.TimeBasedBufferingClosableOutputStream(send, flush_callback=send,
                                                                       time_flush_threshold_ms=5), BLOBS)
    assert len(received) < len(b"".join(BLOBS))


def test_make_options_leaves_the_local_runner_size_based_streams_that_lose_nothing():
    make_options([])
    limit = worker_handlers.DATA_BUFFER_TIME_LIMIT_MS
    assert limit == 0
    stream = data_plane.ClosableOutputStream.create(lambda data: None, lambda data: None, limit)
    assert not isinstance(stream, data_plane.TimeBasedBufferingClosableOutputStream)
    received = _send_through(lambda send: data_plane.ClosableOutputStream.create(send, send, limit), BLOBS)
    assert received == b"".join(BLOBS)
