"""Synthetic traffic for a demo site (``hush demo``) for dashboards and benchmarks.

Every row is made inside DuckDB from ``range()`` and ``hash()``: a pseudo-random number is
``hash(xor(key, n))`` scaled to [0, 1), where ``key`` derives from the seed, the day and the
visitor or session, so the same seed gives the same rows, and 10 million events take seconds,
not hours. Each chunk of at most ``CHUNK_ROWS`` events is one transaction.

The shape of the traffic: each local day has its own visitor ids (DESIGN §4), each visitor has
one device and country and 1-3 visits at least an hour apart, each visit 1-8 page views a few
seconds to a few minutes apart (47% one page), ~60% of page views are followed by an
``engagement`` event, and 3% of visits send ``Signup``, 5% ``Download``. Pages follow a Zipf
law; visits a daily and a weekly cycle and a gentle growth. Every event stores what the
collector would store for it: only the events of a visit's landing page carry its referrer,
UTM tags, source and channel, computed from a landing URL and referrer by the collector's own
rules; later pages were reached from the site itself, a self-referral, so they read Direct.
"""

from demo.generate import DemoReport, generate_demo

__all__ = ["DemoReport", "generate_demo"]
