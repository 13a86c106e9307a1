"""The acquisition channel of a visit, by GA4's default channel grouping.

The rules follow Google Analytics 4's "Default channel group" definitions in their order, so
marketing's numbers line up with what they know; hush adds "AI Assistants" for AI chat
referrers. Click ids mark paid traffic and are never stored: only the channel they imply is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from collector.sources import Source, SourceTable

if TYPE_CHECKING:
    from collector.scrub import PageUrl
    from collector.sites import Site

PAID_SEARCH_CLICK_IDS = {
    "gclid": "Google",
    "gbraid": "Google",
    "wbraid": "Google",
    "dclid": "Google",
    "msclkid": "Bing",
}
PAID_SOCIAL_CLICK_IDS = {
    "fbclid": "Facebook",
    "ttclid": "TikTok",
    "twclid": "Twitter",
    "li_fat_id": "LinkedIn",
    "rdt_cid": "Reddit",
    "sccid": "Snapchat",
    "epik": "Pinterest",
}
CLICK_IDS = frozenset(PAID_SEARCH_CLICK_IDS) | frozenset(PAID_SOCIAL_CLICK_IDS)

_PAID = re.compile(r"^(.*cp.*|ppc|retargeting|paid.*)$")
_SHOP_CAMPAIGN = re.compile(r"^(.*(([^a-df-z]|^)shop|shopping).*)$")
_DISPLAY = {"display", "banner", "expandable", "interstitial", "cpm"}
_SOCIAL = {"social", "social-network", "social-media", "sm", "social network", "social media"}
_EMAIL = {"email", "e-mail", "e_mail", "e mail"}
_REFERRAL = {"referral", "app", "link"}


def click_source(click_id: str) -> Source | None:
    """The source a click id stands for when nothing else names one (gclid: Google)."""
    if click_id in PAID_SEARCH_CLICK_IDS:
        return Source(PAID_SEARCH_CLICK_IDS[click_id], "search")
    if click_id in PAID_SOCIAL_CLICK_IDS:
        return Source(PAID_SOCIAL_CLICK_IDS[click_id], "social")
    return None


@lru_cache(maxsize=4096)
def channel_of(source: Source, *, medium: str, campaign: str, click_id: str, tagged: bool) -> str:
    """One of GA4's default channels (plus AI Assistants) for a visit's first event.

    ``tagged`` says the source came from ``utm_source`` rather than a referrer or ``ref``.
    """
    kind, name = source.kind, source.name.lower()
    if click_id in PAID_SEARCH_CLICK_IDS:
        return "Paid Search"
    if click_id in PAID_SOCIAL_CLICK_IDS:
        return "Paid Social"
    if not source.name and medium in ("", "(none)", "(not set)"):
        return "Direct"
    if "cross-network" in campaign:
        return "Cross-network"
    paid = bool(_PAID.match(medium))
    shopping = kind == "shopping" or bool(_SHOP_CAMPAIGN.match(campaign))
    if paid:
        if shopping:
            return "Paid Shopping"
        if kind == "search":
            return "Paid Search"
        if kind == "social":
            return "Paid Social"
        if kind == "video":
            return "Paid Video"
    if medium in _DISPLAY:
        return "Display"
    if paid:
        return "Paid Other"
    if shopping:
        return "Organic Shopping"
    if kind == "ai":
        return "AI Assistants"
    if kind == "social" or medium in _SOCIAL:
        return "Organic Social"
    if kind == "video" or "video" in medium:
        return "Organic Video"
    if kind == "search" or medium == "organic":
        return "Organic Search"
    if medium in _REFERRAL:
        return "Referral"
    if kind == "email" or name in _EMAIL or medium in _EMAIL:
        return "Email"
    if medium == "affiliate":
        return "Affiliates"
    if medium == "audio":
        return "Audio"
    if name == "sms" or medium == "sms":
        return "SMS"
    if medium.endswith("push") or "mobile" in medium or "notification" in medium:
        return "Mobile Push Notifications"
    if name == "firebase":
        return "Mobile Push Notifications"
    if not tagged and not medium:
        return "Referral"  # a referrer without tags: GA4 gives it medium "referral"
    return "Unassigned"


@dataclass(frozen=True, slots=True)
class Acquisition:
    """Where a page view came from, as stored: referrer, source and channel."""

    referrer_host: str
    referrer_path: str
    source: Source
    channel: str


def acquisition(
    table: SourceTable, site: Site, page: PageUrl, referrer_host: str, referrer_path: str
) -> Acquisition:
    """The acquisition of a page view of ``site`` from a (scrubbed) referrer."""
    if referrer_host and site.owns_host(referrer_host.removeprefix("www.")):
        referrer_host, referrer_path = "", ""  # a self-referral is not a source
    source = table.attribute(page, referrer_host)
    if not source.name and page.click_id:
        source = click_source(page.click_id) or source
    channel = channel_of(
        source,
        medium=page.utm_medium.lower(),  # GA4's rules match in any case
        campaign=page.utm_campaign.lower(),
        click_id=page.click_id,
        tagged=bool(page.utm_source),
    )
    return Acquisition(referrer_host, referrer_path, source, channel)
