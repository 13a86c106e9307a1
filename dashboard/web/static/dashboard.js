// The dashboard's only script, and optional: every view works without it. It submits the
// period, comparison and property pickers as soon as they change, makes the graph's buckets
// reachable by keyboard (Tab to the graph, then ← and →; Esc closes the tooltip), and follows
// the keyboard shortcuts' links (<a data-key> in the #shortcuts dialog) when their key is
// pressed, unless <body data-shortcuts="off"> (the user's choice in /account), a field has
// the focus, or Ctrl, Alt or ⌘ is held; ? opens the dialog that lists them.
(function () {
  'use strict';
  // Arrow keys on a closed select change its value at each press: then the page waits for
  // Enter (or the Show button) instead of reloading on every step (WCAG 3.2.2).
  var pickers = document.querySelectorAll('select[data-autosubmit]');
  for (var i = 0; i < pickers.length; i++) {
    pickers[i].addEventListener('keydown', function (event) {
      var select = event.currentTarget;
      var key = event.key;
      select.stepping = !event.altKey && key !== ' ' && /^(Arrow|Page|Home$|End$|.$)/.test(key);
      if (key === 'Enter' && select.value !== 'custom') {
        event.preventDefault();
        select.form.submit();
      }
    });
    pickers[i].addEventListener('change', function (event) {
      var select = event.currentTarget;
      if (!select.stepping && select.value !== 'custom') select.form.submit();
      select.stepping = false;
    });
  }
  var help = document.getElementById('shortcuts');
  if (help && help.showModal && document.body.getAttribute('data-shortcuts') === 'on') {
    var links = {};
    var keyed = help.querySelectorAll('a[data-key]');
    for (var k = 0; k < keyed.length; k++) links[keyed[k].getAttribute('data-key')] = keyed[k];
    var opener = document.querySelector('[data-shortcuts-open]');
    opener.hidden = false;
    opener.addEventListener('click', function () { help.showModal(); });
    document.addEventListener('keydown', function (event) {
      var target = event.target;
      if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey) return;
      if (event.shiftKey && event.key !== '?') return;
      if (target.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName)) return;
      if (event.key === '?') {
        event.preventDefault();
        if (help.open) help.close(); else help.showModal();
      } else if (Object.prototype.hasOwnProperty.call(links, event.key)) {
        event.preventDefault();
        window.location.assign(links[event.key].href);
      }
    });
  }
  var figure = document.querySelector('figure[data-graph]');
  if (!figure) return;
  var hits = figure.querySelectorAll('rect.hit');
  if (!hits.length) return;
  var tip = document.createElement('p');
  tip.className = 'tooltip';
  tip.setAttribute('role', 'status');
  tip.hidden = true;
  figure.appendChild(tip);
  var at = -1;
  function show(index) {
    if (at >= 0) hits[at].classList.remove('active');
    at = Math.max(0, Math.min(hits.length - 1, index));
    var hit = hits[at];
    hit.classList.add('active');
    var compared = hit.getAttribute('data-compared');
    tip.textContent = hit.getAttribute('data-label') + ': ' + hit.getAttribute('data-value') +
      (compared ? ' (compared: ' + compared + ')' : '');
    tip.hidden = false;
  }
  function hide() {
    if (at >= 0) hits[at].classList.remove('active');
    tip.hidden = true;
  }
  var svg = figure.querySelector('svg');
  svg.setAttribute('tabindex', '0');
  svg.setAttribute('aria-describedby', 'graph-summary');
  svg.addEventListener('focus', function () { show(at < 0 ? hits.length - 1 : at); });
  svg.addEventListener('blur', hide);
  svg.addEventListener('keydown', function (event) {
    if (event.key === 'ArrowLeft') { show(at - 1); event.preventDefault(); }
    else if (event.key === 'ArrowRight') { show(at + 1); event.preventDefault(); }
    else if (event.key === 'Home') { show(0); event.preventDefault(); }
    else if (event.key === 'End') { show(hits.length - 1); event.preventDefault(); }
    else if (event.key === 'Escape') { hide(); }
  });
  for (var j = 0; j < hits.length; j++) {
    hits[j].addEventListener('mouseenter', (function (index) { return function () { show(index); }; })(j));
  }
  svg.addEventListener('mouseleave', hide);
})();
