"""Job-item timestamps: one writer format (Step Functions' own) and one tolerant reader."""
from datetime import datetime, timedelta, timezone

from scribefleet.timestamps import format_timestamp, parse_timestamp


def test_written_like_step_functions_entered_time_and_read_back():
    moment = datetime(2026, 11, 25, 10, 1, 30, 123456, tzinfo=timezone.utc)
    assert format_timestamp(moment) == "2026-11-25T10:01:30.123Z"
    assert parse_timestamp("2026-11-25T10:01:30.123Z") == moment.replace(microsecond=123000)
    assert format_timestamp(datetime(2026, 11, 25, 11, 0, tzinfo=timezone(timedelta(hours=1)))) == "2026-11-25T10:00:00.000Z"


def test_now_by_default():
    before = datetime.now(timezone.utc).replace(microsecond=0)
    assert before <= parse_timestamp(format_timestamp()) <= datetime.now(timezone.utc)


def test_offsets_and_zone_less_times_are_utc_and_bad_values_are_none():
    assert parse_timestamp("2026-11-25T10:00:00+00:00") == parse_timestamp("2026-11-25T10:00:00") == datetime(2026, 11, 25, 10, tzinfo=timezone.utc)
    assert parse_timestamp("2026-11-25T12:00:00+02:00") == datetime(2026, 11, 25, 10, tzinfo=timezone.utc)
    for value in (None, "", "yesterday", 17):
        assert parse_timestamp(value) is None
