/*
 * hush.js: the tracker a website embeds, and the one readable source of every built variant.
 *
 *   <script defer data-domain="example.com" src="https://stats.example.com/js/hush.js"></script>
 *
 * Each event is one POST to /api/event beside the script (or to data-api): a JSON body sent as
 * text/plain (so no CORS preflight) with fetch(..., {keepalive: true, credentials: 'omit'}),
 * or, where there is no fetch, an XMLHttpRequest without credentials. Never sendBeacon: it
 * always sends cookies. The script never reads or writes document.cookie, localStorage,
 * sessionStorage or IndexedDB, never blocks the page, and never throws into it.
 *
 * EVERY FIELD IT SENDS (Plausible's Events API wire format; nothing else, no screen size,
 * language, time zone, title or identifier of any kind):
 *   n   the event name: "pageview", "engagement", or a custom event's name: one given to
 *       hush(), or "404", "Outbound Link: Click", "File Download", "Form: Submission"
 *   u   the page's URL, location.href without its #fragment (with it under data-hash)
 *   d   the site: data-domain, else location.hostname
 *   r   document.referrer ("" when there is none)
 *   p   props, only when there are some: those given to hush(name, {props}), or {url} of the
 *       outbound link or download clicked (without its query or fragment)
 *   i   only when hush(name, {interactive}) is given one: false keeps an event from turning a
 *       bounce into a visit
 *   h   full variant only: whether data-hash is set (the fragment is a route; the site's
 *       settings on the collector decide whether it is kept)
 *   sd  engagement only: the deepest the page was scrolled, in % of its height (0 to 100)
 *   e   engagement only: the milliseconds the page was visible since it was shown or last
 *       reported
 *
 * IT SENDS NOTHING AT ALL:
 *   - when Global Privacy Control is on (navigator.globalPrivacyControl). Do Not Track is
 *     decided by the collector, from the DNT header and the site's setting;
 *   - on localhost, 127.x.x.x, [::1] and file: pages, and under automation
 *     (navigator.webdriver), unless the tag has data-testing;
 *   - while the page has set window.hushIgnore = true (read before every event);
 *   - while a page is prerendered and not yet shown (document.prerendering): its page view
 *     waits until it is;
 *   - for the same page twice in a row: a pushState, replaceState or popstate that leaves the
 *     path (under data-hash, the path and fragment) as it was;
 *   - when the script is not run from a <script> element (document.currentScript is null);
 *   - full variant: on a page outside data-include or inside data-exclude;
 *   - engagement: for a page that was never visible.
 *
 * VARIANTS: build.mjs replaces the feature flags below with constants, and the minifier drops
 * the code of every feature a variant leaves out.
 *   hush.js              page views, client-side navigation, custom events
 *   hush.engagement.js   the same + ENGAGEMENT: whenever the page is hidden or left (and
 *                        before a client-side navigation) one engagement event
 *   hush.full.js         the same + every extra, each switched on by its attribute:
 *                        data-outbound, data-downloads[="pdf,zip"] (OUTBOUND, DOWNLOADS),
 *                        data-forms (FORMS), data-404 on the error page's tag (NOT_FOUND),
 *                        data-hash (HASH), data-include / data-exclude="/blog*,/admin" (PATHS)
 *
 * CUSTOM EVENTS, queued while the script loads if the page defines hush first:
 *   <script>window.hush=window.hush||function(){(hush.q=hush.q||[]).push(arguments)}</script>
 *   hush('Signup', {props: {plan: 'pro'}})
 */
;((window, document) => {
  /* global ENGAGEMENT, OUTBOUND, DOWNLOADS, FORMS, NOT_FOUND, HASH, PATHS */
  let location = window.location
  let navigator = window.navigator
  let on = addEventListener
  let script = document.currentScript
  if (!script) return
  let tag = script.dataset
  let endpoint = tag.api || new URL('../api/event', script.src)
  let hashRouting = HASH && 'hash' in tag
  let lastPage

  // The page, as far as "the same page twice in a row" goes: a new query is not a new page.
  let page = () => (hashRouting ? location.pathname + location.hash : location.pathname)
  let pageUrl = () => (hashRouting ? location.href : location.href.split('#')[0])

  let send = (name, options, engagement) => {
    try {
      if (
        navigator.globalPrivacyControl ||
        window.hushIgnore ||
        (PATHS && (matches(tag.exclude) || matches(tag.include) == false)) ||
        // file: pages have no hostname, hence the empty alternative.
        (!('testing' in tag) &&
          (navigator.webdriver || /^(localhost|127\..*|\[::1]|)$/.test(location.hostname)))
      ) {
        return
      }
      let body = JSON.stringify({
        n: name,
        u: pageUrl(),
        d: tag.domain || location.hostname,
        r: document.referrer,
        p: options?.props,
        i: options?.interactive,
        ...(HASH && { h: hashRouting }),
        ...(ENGAGEMENT && engagement)
      })
      try {
        // With a string body fetch sends Content-Type: text/plain;charset=UTF-8 by itself.
        fetch(endpoint, { method: 'POST', body, keepalive: true, credentials: 'omit' }).catch(
          () => {}
        )
      } catch {
        let request = new XMLHttpRequest()
        request.open('POST', endpoint)
        request.send(body)
      }
    } catch {
      // Whatever goes wrong (a broken pattern, props that cannot be serialised), the page
      // must not notice.
    }
  }

  if (PATHS) {
    // Comma-separated patterns matched against the whole path (under data-hash, path and
    // fragment); * matches any characters, a trailing / is optional.
    var matches = (patterns) =>
      patterns
        ?.split(/, */)
        .some((pattern) => RegExp('^' + pattern.replace(/\*+/g, '.*') + '/?$').test(page()))
  }

  if (ENGAGEMENT) {
    var engagedUrl // the URL of the page view being measured
    var visibleSince // when the page was last shown; 0 while it is hidden
    var deepest // the lowest pixel of the page seen so far

    var measure = () => {
      deepest = Math.max(deepest, scrollY + innerHeight)
    }

    // One engagement event each time the page is hidden or left after it was shown: the time
    // it was visible since, and the deepest scroll so far. Before the first page view and
    // while the page is hidden, visibleSince is not a time, so nothing is sent.
    var reportEngagement = () => {
      let engagedMs = visibleSince && Date.now() - visibleSince
      visibleSince = 0
      if (engagedMs) {
        send('engagement', 0, {
          u: engagedUrl,
          sd: Math.min(100, Math.round((deepest * 100) / document.documentElement.scrollHeight)),
          e: engagedMs
        })
      }
    }
  }

  let pageview = () => {
    let current = page()
    if (current != lastPage) {
      if (ENGAGEMENT) reportEngagement()
      lastPage = current
      send('pageview')
      if (ENGAGEMENT) {
        engagedUrl = pageUrl()
        deepest = 0
        measure()
        // A page opened in a background tab is hidden: its first visibilitychange resets this.
        visibleSince = Date.now()
      }
    }
  }

  let start = () => {
    pageview()
    let history = window.history
    for (let method of ['pushState', 'replaceState']) {
      let original = history[method]
      history[method] = function () {
        original.apply(this, arguments)
        pageview()
      }
    }
    // Following a #link or setting location.hash fires popstate too.
    on('popstate', pageview)

    if (ENGAGEMENT) {
      on('scroll', measure)
      on('visibilitychange', () =>
        document.hidden ? reportEngagement() : (visibleSince = Date.now())
      )
    }

    // The error page's own tag says so: only Chromium tells a page its HTTP status.
    if (NOT_FOUND && '404' in tag) send('404')

    if (OUTBOUND || DOWNLOADS) {
      let downloads =
        DOWNLOADS &&
        'downloads' in tag &&
        RegExp(
          '\\.(' + (tag.downloads.replace(/,/g, '|') || 'pdf|docx?|xlsx?|pptx?|csv|zip|dmg|exe') + ')$',
          'i'
        )
      // Capturing, so a page that stops a click's propagation does not hide it.
      let onClick = (event) => {
        try {
          let link = event.target.closest('a[href]')
          let url = link.href.split(/[?#]/)[0]
          let name =
            // A left or middle click follows the link; the right button does not.
            event.button < 2 &&
            (downloads && downloads.test(url)
              ? 'File Download'
              : OUTBOUND &&
                'outbound' in tag &&
                link.host &&
                link.host != location.host &&
                'Outbound Link: Click')
          if (name) send(name, { props: { url } })
        } catch {
          // Not a link (link is null), or an SVG link (its href is not a string).
        }
      }
      on('click', onClick, true)
      on('auxclick', onClick, true)
    }

    if (FORMS && 'forms' in tag) on('submit', () => send('Form: Submission'), true)

    for (let call of window.hush?.q || []) send(...call)
    window.hush = send
  }

  if (document.prerendering) document.addEventListener('prerenderingchange', start)
  else start()
})(window, document)
