"""The one query engine: metrics x dimensions x filters x date range (Plausible Stats API v2).

Every read of traffic goes through ``run_query``. SQL is assembled only from the fixed
fragments in this package; every value a caller supplies (site, dates, filter values, property
keys, limits) is a bound parameter.

How the numbers are made (DESIGN.md §4):

- **Sessions** are built at query time from raw events: the events of one visitor id on one
  local day, split where 30 minutes pass without an event (ids change at local midnight, so
  sessions end there). A session's source, channel, UTM fields, device, browser, OS and country
  are those of its first event; its entry and exit pages are its first and last page views.
  A session is closed 30 minutes after its last event or at midnight; until then its figures
  are provisional. Because sessions are recomputed from all events every time, it makes no
  difference whether events arrived in one load or in many.
- **Bounce**: a session with at most one page view and no interactive custom event
  (engagement events and events sent with ``interactive: false`` never count).
- **Visitors** are counted per local day and group, then summed over days: ids are daily, so
  unique visitors over a range are the sum of daily uniques (exact and additive). The internal
  metric ``peak_visitors`` is the largest of those daily counts: the number of people the
  privacy threshold (P7) may rely on, since no day counts a person twice.
- **Visit filters** (``visit:*``) keep the sessions whose attribute matches; **event filters**
  (``event:*``) keep the sessions that contain a matching event, and count only matching events
  in ``pageviews``, ``events``, ``scroll_depth`` and ``time_on_page``.
- Grouping by an event property (page, name, props) counts a session as a visit in each group
  it has events in; grouping by time puts events in the hour, day, week or month of their local
  time (a session spanning an hour boundary is a visit in both hours).
"""

from aggregator.queries.engine import (
    build_sql,
    check_goals_counted,
    goals_asked,
    realtime_visitors,
    run_query,
    uses_goals,
)
from aggregator.queries.raw_sql import SqlParams, raw_per_day, sessions_sql, stored_value
from aggregator.queries.rollup_plan import (
    ROLLUP_SPECS,
    ROLLUP_VERSION,
    RollupPlan,
    plan_rollup,
    spec_name,
)
from aggregator.queries.vocabulary import (
    BASE_COLUMNS,
    DAY_DIMENSIONS,
    DERIVED_METRICS,
    DIRECT,
    DIRECT_DIMENSIONS,
    EVENT_DIMENSIONS,
    GOAL,
    GROUP_OPERATORS,
    INTEGER_METRICS,
    INTERNAL_METRICS,
    METRICS,
    OPERATORS,
    PEAK_VISITORS,
    PER_DAY_COLUMNS,
    PROP_NAMES,
    PROPS_PREFIX,
    SESSION_GAP_MINUTES,
    TIME_DIMENSIONS,
    VISIT_DIMENSIONS,
    AnyFilter,
    Filter,
    FilterGroup,
    Query,
    QueryError,
    check,
    folded_label,
    is_dimension,
    leaves,
)

__all__ = [
    "BASE_COLUMNS",
    "DAY_DIMENSIONS",
    "DERIVED_METRICS",
    "DIRECT",
    "DIRECT_DIMENSIONS",
    "EVENT_DIMENSIONS",
    "GOAL",
    "GROUP_OPERATORS",
    "INTEGER_METRICS",
    "INTERNAL_METRICS",
    "METRICS",
    "OPERATORS",
    "PEAK_VISITORS",
    "PER_DAY_COLUMNS",
    "PROPS_PREFIX",
    "PROP_NAMES",
    "ROLLUP_SPECS",
    "ROLLUP_VERSION",
    "SESSION_GAP_MINUTES",
    "TIME_DIMENSIONS",
    "VISIT_DIMENSIONS",
    "AnyFilter",
    "Filter",
    "FilterGroup",
    "Query",
    "QueryError",
    "RollupPlan",
    "SqlParams",
    "build_sql",
    "check",
    "check_goals_counted",
    "folded_label",
    "goals_asked",
    "is_dimension",
    "leaves",
    "plan_rollup",
    "raw_per_day",
    "realtime_visitors",
    "run_query",
    "sessions_sql",
    "spec_name",
    "stored_value",
    "uses_goals",
]
