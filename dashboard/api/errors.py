"""The Stats and Sites APIs' refusals, in Plausible's own words: one vocabulary, one module.

Every text a Plausible client can see for a request Plausible also refuses is Plausible's,
letter for letter (``PlausibleWeb.Api.ExternalStatsController`` and its auth plug, as of the
review in ``reviews/stats-api.md``); refusals of what only hush checks (its bounds, P7, its
retention) say what to ask for instead. ``ApiError`` carries the status, the text and any
headers; the endpoints answer it as ``{"error": text}``.
"""

from __future__ import annotations

DOCS = "https://plausible.io/docs/stats-api"


class ApiError(Exception):
    """A request the API refuses: its status, message and any headers to send."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def bad(message: str) -> ApiError:
    return ApiError(400, message)


# -- authentication --------------------------------------------------------------------------
MISSING_KEY = "Missing API key. Please use a valid Plausible API key as a Bearer Token."
INVALID_KEY = (
    "Invalid API key or site ID. Please make sure you're using a valid API key with access to"
    " the site you've requested."
)
INVALID_KEY_FOR_RESOURCE = (
    "Invalid API key. Please make sure you're using a valid API key with access to the"
    " resource you've requested."
)
MISSING_SITE_ID = (
    "Missing site ID. Please provide the required site_id parameter with your request."
)


def too_many_requests(per_hour: int, wait: int) -> ApiError:
    return ApiError(
        429,
        f"Too many API requests. Your API key is limited to {per_hour} requests per hour.",
        headers={"Retry-After": str(wait)},
    )


# -- periods, dates, intervals ---------------------------------------------------------------
def invalid_period(period: str) -> ApiError:
    return bad(
        f"Error parsing `period` parameter: invalid period `{period}`. Please find accepted"
        f" values in our docs: {DOCS}#time-periods"
    )


def invalid_date() -> ApiError:
    return bad(
        "Error parsing `date` parameter: invalid_format. Please specify a valid date in"
        " ISO-8601 format."
    )


CUSTOM_NEEDS_DATE = (
    f"The `date` parameter is required when using a custom period. See {DOCS}#time-periods"
)
CUSTOM_BAD_DATE = (
    "Invalid format for `date` parameter. When using a custom period, please include two"
    f" ISO-8601 formatted dates joined by a comma. See {DOCS}#time-periods"
)


def invalid_interval(interval: str) -> ApiError:
    return bad(
        f"Error parsing `interval` parameter: invalid interval `{interval}`. Valid intervals"
        " are `day`, `month`"
    )


# -- properties and filters ------------------------------------------------------------------
PROPERTY_REQUIRED = (
    "The `property` parameter is required. Please provide at least one property to show a"
    " breakdown by."
)
HOSTNAME_BREAKDOWN = (
    "Property 'event:hostname' is currently not supported for breakdowns.  Please provide a"
    f" valid property for the breakdown endpoint: {DOCS}#properties"
)


def invalid_property(prop: str) -> ApiError:
    return bad(
        f"Invalid property '{prop}'. Please provide a valid property for the breakdown"
        f" endpoint: {DOCS}#properties"
    )


def invalid_filter_property(prop: str) -> ApiError:
    return bad(
        f"Invalid filter property '{prop}'. Please provide a valid filter property:"
        f" {DOCS}#properties"
    )


def goal_not_configured(goal: str) -> ApiError:
    if goal.startswith("Visit "):
        text = f"The pageview goal for the pathname `{goal[6:]}` is not configured for this site. "
    else:
        text = f"The goal `{goal}` is not configured for this site. "
    return bad(text + f"Find out how to configure goals here: {DOCS}#filtering-by-goals")


def no_locations(prop: str) -> ApiError:
    """hush stores countries only (DESIGN §2 P1: the address is gone after the country)."""
    return bad(
        f"hush does not store {prop}: it keeps the visitor's country only (visit:country),"
        " so regions and cities cannot be shown or filtered by"
    )


# -- metrics ---------------------------------------------------------------------------------
DUPLICATE_METRICS = "Metrics cannot be queried multiple times."


def unknown_metric(metric: str) -> ApiError:
    return bad(
        f"The metric `{metric}` is not recognized. Find valid metrics from the documentation:"
        f" {DOCS}#metrics"
    )


def metric_with_filter(metric: str, prop: str) -> ApiError:
    return bad(f"Metric `{metric}` cannot be queried when filtering by `{prop}`")


def time_on_page_in_breakdown() -> ApiError:
    return bad(
        "Metric `time_on_page` is not supported in breakdown queries (except `event:page`"
        " breakdown)"
    )


def time_on_page_needs_page() -> ApiError:
    return bad(
        "Metric `time_on_page` can only be queried in a page breakdown or with a page filter."
    )


def conversion_rate_needs_goal() -> ApiError:
    return bad(
        "Metric `conversion_rate` can only be queried in a goal breakdown or with a goal filter"
    )


def views_per_visit_with_page() -> ApiError:
    return bad("Metric `views_per_visit` cannot be queried with a filter on `event:page`.")


def not_in_breakdown(metric: str) -> ApiError:
    return bad(f"Metric `{metric}` is not supported in breakdown queries.")


def session_metric_by(metric: str, prop: str) -> ApiError:
    return bad(f"Session metric `{metric}` cannot be queried for breakdown by `{prop}`.")


def session_metric_with_filter(metric: str, prop: str) -> ApiError:
    return bad(f"Session metric `{metric}` cannot be queried when using a filter on `{prop}`.")


LIMIT = "Please provide limit as a number between 1 and 1000."
