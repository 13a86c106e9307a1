-- wrk script for benchmarks/ingest.py: realistic, varied `POST /api/event` requests.
--
--   wrk -t2 -c64 -d17s --latency -s benchmarks/event.lua http://127.0.0.1:PORT/api/event \
--       -- example.com 15
--
-- Arguments: the site's domain (example.com) and how many seconds to send events (15). Give wrk a
-- longer -d than that (ingest.py adds 2 s): once a thread has sent events for that long, each of
-- its connections sends one last, unfinished request (headers without their final blank line)
-- that no server can answer or act on. So when wrk stops, no event is in flight: every event sent
-- has been answered, and a server's count of stored events can be compared exactly with the
-- answers wrk counted. (wrk itself stops mid-request; events in flight then may or may not have
-- been stored.) Requests per second are therefore answered requests / sending seconds, not
-- wrk's own figure. Needs wrk built with LuaJIT (Debian's is), for its clock.
--
-- Each wrk thread builds a pool of requests at start from a fixed seed (so every target of a run
-- gets the very same requests, and wrk spends next to nothing per request), then cycles through
-- it. The pool is made of visits: a visitor (address in X-Forwarded-For, user agent, language)
-- arrives from a search engine, a social site, a newsletter (UTM), another site or directly, and
-- views a few pages chosen with Zipf-like popularity among ~300 paths; a few visits trigger a
-- custom event with props. Addresses come from the documentation ranges only (RFC 5737 and
-- RFC 3849): 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/32.
--
-- When wrk is done, one line `BENCH {...}` (JSON) reports what ingest.py needs: events answered,
-- events sent (sent - answered were still in flight when wrk stopped: 0 unless an answer took
-- longer than the extra seconds of -d), errors and latency percentiles in microseconds.

local ffi = require("ffi")
ffi.cdef([[
  typedef struct { long tv_sec; long tv_nsec; } hush_bench_timespec;
  int clock_gettime(int clock_id, hush_bench_timespec *tp);
  unsigned long pthread_self(void);
]])
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("hush_bench_timespec")

local function now_seconds()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) + tonumber(timespec.tv_nsec) * 1e-9
end

local POOL_SIZE = 4096
local VISITORS = 1500

local USER_AGENTS = {
  -- { weight, user agent }: desktop and mobile browsers as they announce themselves in 2026
  { 14, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36" },
  { 7, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36" },
  { 2, "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36" },
  { 5, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0" },
  { 4, "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0" },
  { 1, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:132.0) Gecko/20100101 Firefox/132.0" },
  { 1, "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0" },
  { 5, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15" },
  { 16, "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1" },
  { 2, "Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.7 Mobile/15E148 Safari/604.1" },
  { 18, "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36" },
  { 4, "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36" },
  { 3, "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1" },
  { 1, "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0" },
  { 1, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0" },
  { 1, "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36" },
  { 2, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 357.0.0.25.101 (iPhone15,3; iOS 17_6_1; en_US; en; scale=3.00; 1290x2796; 664229495)" },
  { 2, "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A.240905.003; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/129.0.6668.100 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/484.0.0.52.109;]" },
  { 1, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 YaBrowser/24.10.0.0 Safari/537.36" },
  { 1, "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36" },
}

local LANGUAGES = {
  { 40, "en-US,en;q=0.9" }, { 10, "en-GB,en;q=0.9" }, { 12, "de-DE,de;q=0.9,en;q=0.8" },
  { 8, "fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7" }, { 8, "es-ES,es;q=0.9" }, { 6, "pt-BR,pt;q=0.9" },
  { 5, "ja,en-US;q=0.9,en;q=0.8" }, { 5, "nl-NL,nl;q=0.9,en-US;q=0.8,en;q=0.7" },
}

-- Where a visit comes from: { weight, referrer or false, query string of the landing page or false }
local ENTRIES = {
  { 28, "https://www.google.com/", false },
  { 4, "https://www.bing.com/", false },
  { 3, "https://duckduckgo.com/", false },
  { 1, "https://www.ecosia.org/", false },
  { 4, "https://t.co/", false },
  { 3, "https://l.facebook.com/", false },
  { 3, "https://www.reddit.com/r/selfhosted/comments/1gq2x7k/privacy_friendly_analytics/", false },
  { 2, "https://news.ycombinator.com/", false },
  { 2, "https://www.linkedin.com/", false },
  { 2, "https://blog.example.org/2026/10/tools-we-use", false },
  { 30, false, false },
  { 6, false, "utm_source=newsletter&utm_medium=email&utm_campaign=2026-11-digest" },
  { 2, false, "utm_source=mastodon&utm_medium=social&utm_campaign=launch" },
  { 2, "https://www.google.com/", "gclid=Cj0KCQiA7NO7BhDsARIsADg_hIYbench" },
  { 1, "https://www.producthunt.com/", "ref=producthunt" },
}

local CUSTOM_EVENTS = {
  { 3, "Signup", '{"plan":"pro","method":"email"}' },
  { 2, "Signup", '{"plan":"free","method":"google"}' },
  { 4, "Outbound Link: Click", '{"url":"https://github.com/example/widgets"}' },
  { 2, "File Download", '{"url":"https://example.com/files/whitepaper-2026.pdf"}' },
  { 1, "404", '{"path":"/old-pricing"}' },
}

local function weighted(choices)
  local total = 0
  for _, c in ipairs(choices) do total = total + c[1] end
  local r = math.random() * total
  for _, c in ipairs(choices) do
    r = r - c[1]
    if r <= 0 then return c end
  end
  return choices[#choices]
end

-- ~300 paths, most popular first; popularity of the i-th is proportional to 1 / i.
local function make_paths()
  local paths = { "/", "/pricing", "/features", "/blog", "/docs", "/about", "/signup", "/login",
    "/contact", "/changelog", "/integrations", "/customers", "/security", "/privacy", "/terms",
    "/careers" }
  local topics = { "privacy", "cookieless", "analytics", "self-hosting", "gdpr", "performance",
    "duckdb", "dashboards", "marketing", "seo" }
  local kinds = { "guide", "checklist", "case-study", "release-notes", "deep-dive" }
  local sections = { "getting-started", "api", "snippet", "proxies", "configuration", "stats" }
  local i = 1
  while #paths < 300 do
    local k = i % 3
    if k == 0 then
      paths[#paths + 1] = string.format("/blog/%s-%s-%d", topics[i % #topics + 1],
        kinds[i % #kinds + 1], i)
    elseif k == 1 then
      paths[#paths + 1] = string.format("/docs/%s/page-%d", sections[i % #sections + 1], i)
    else
      paths[#paths + 1] = string.format("/products/widget-%d", i)
    end
    i = i + 1
  end
  local cumulative, total = {}, 0
  for rank = 1, #paths do
    total = total + 1 / rank
    cumulative[rank] = total
  end
  return paths, cumulative
end

local function zipf(paths, cumulative)
  local r = math.random() * cumulative[#cumulative]
  local lo, hi = 1, #cumulative
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cumulative[mid] < r then lo = mid + 1 else hi = mid end
  end
  return paths[lo]
end

local function address()
  local r = math.random()
  if r < 0.25 then
    return string.format("2001:db8:%x:%x::%x", math.random(0, 65535), math.random(0, 65535),
      math.random(1, 65535))
  end
  local ranges = { "192.0.2.", "198.51.100.", "203.0.113." }
  return ranges[math.random(#ranges)] .. math.random(1, 254)
end

-- How many distinct user agents the pool holds: "realistic" (the list as it is, ~20), a
-- number N (each visitor's agent gets one of ~N/#USER_AGENTS build numbers), or "unique"
-- (every request carries an agent never seen before: a cache-busting flood).
local agents_mode = "realistic"
local agent_variants = 1

local function vary(ua)
  if agents_mode == "unique" then
    return ua .. " hush-bench/UNIQUEAGENT"
  end
  if agent_variants > 1 then
    return ua .. " build/" .. math.random(agent_variants)
  end
  return ua
end

local function make_visitor()
  local xff = address()
  if math.random() < 0.05 then
    xff = xff .. ", " .. address()  -- through one more (untrusted) proxy: the last one counts
  end
  local base = math.random() < 0.1 and "https://www." or "https://"
  return {
    xff = xff,
    ua = vary(weighted(USER_AGENTS)[2]),
    lang = weighted(LANGUAGES)[2],
    base = base,
  }
end

local function json_string(s)
  return s and ('"' .. s .. '"') or "null"
end

local function make_request(domain, visitor, name, path, query, referrer, props)
  local origin = visitor.base .. domain
  local url = origin .. path .. (query and ("?" .. query) or "")
  local body = string.format('{"n":%s,"u":%s,"d":%s,"r":%s%s}', json_string(name),
    json_string(url), json_string(domain), json_string(referrer),
    props and (',"p":' .. props) or "")
  local headers = {
    ["Host"] = wrk.headers["Host"],
    ["User-Agent"] = visitor.ua,
    ["Content-Type"] = "text/plain;charset=UTF-8",
    ["Accept"] = "*/*",
    ["Accept-Language"] = visitor.lang,
    ["Accept-Encoding"] = "gzip, deflate, br, zstd",
    ["Origin"] = origin,
    ["Referer"] = origin .. path,
    ["Sec-Fetch-Dest"] = "empty",
    ["Sec-Fetch-Mode"] = "cors",
    ["Sec-Fetch-Site"] = "same-origin",
    ["X-Forwarded-For"] = visitor.xff,
    ["X-Forwarded-Proto"] = "https",
  }
  return wrk.format("POST", wrk.path, headers, body)
end

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("id", #threads)
end

local pool = {}
local next_index = 0
local send_seconds = math.huge
local deadline = nil
local unfinished = nil
local main_thread = nil
sent = 0
stalled = 0

function init(args)
  local domain = args[1] or "example.com"
  send_seconds = tonumber(args[2]) or math.huge
  local agents = args[3] or "realistic"
  if agents == "unique" then
    agents_mode = "unique"
  elseif tonumber(agents) then
    agent_variants = math.max(1, math.floor(tonumber(agents) / #USER_AGENTS))
  end
  main_thread = ffi.C.pthread_self()
  unfinished = "POST " .. wrk.path .. " HTTP/1.1\r\nHost: " .. wrk.headers["Host"] .. "\r\n"
  math.randomseed(20261122)
  local paths, cumulative = make_paths()
  math.randomseed(1000 + (id or 1))
  local visitors = {}
  for v = 1, VISITORS do visitors[v] = make_visitor() end
  while #pool < POOL_SIZE do
    local visitor = visitors[math.random(VISITORS)]
    local entry = weighted(ENTRIES)
    local referrer, query = entry[2] or nil, entry[3] or nil
    local pages = 1
    while pages < 12 and math.random() < 0.6 do pages = pages + 1 end
    for _ = 1, pages do
      local path = zipf(paths, cumulative)
      pool[#pool + 1] = make_request(domain, visitor, "pageview", path, query, referrer, nil)
      if math.random() < 0.06 then
        local custom = weighted(CUSTOM_EVENTS)
        pool[#pool + 1] = make_request(domain, visitor, custom[2], path, query, referrer,
          custom[3])
      end
      referrer, query = visitor.base .. domain .. path, nil
    end
  end
end

function request()
  if main_thread then
    -- Before the run, wrk's main thread calls request() once to count pipelined requests
    -- (script_verify_request): that request is never sent, so it must not count.
    if ffi.C.pthread_self() == main_thread then return pool[1] end
    main_thread = nil
  end
  local now = now_seconds()
  if deadline == nil then
    deadline = now + send_seconds
  elseif now >= deadline then
    stalled = stalled + 1
    return unfinished
  end
  sent = sent + 1
  next_index = next_index % #pool + 1
  if agents_mode == "unique" then
    -- Same length as the placeholder, so Content-Length and framing stay right.
    return (pool[next_index]:gsub("UNIQUEAGENT", string.format("%05d%06d", id or 0, sent % 1000000), 1))
  end
  return pool[next_index]
end

function done(summary, latency, requests)
  local total_sent, total_stalled = 0, 0
  for _, thread in ipairs(threads) do
    total_sent = total_sent + thread:get("sent")
    total_stalled = total_stalled + thread:get("stalled")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"sent":%d,"stalled":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p99.9":%d}}\n',
    summary.requests, total_sent, total_stalled, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
