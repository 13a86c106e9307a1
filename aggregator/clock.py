"""The process's clock, as the writer and the read side see it: the collector's own, so the
whole process reads one time (tests hand every part the same ``ManualClock``)."""

from collector.clock import Clock, SystemClock

__all__ = ["Clock", "SystemClock"]
