// Copy buttons: <button data-copy="ID" data-status="ID" hidden> copies the text of the field
// #ID. Without this script the buttons stay hidden and the readonly field is selectable.
(function () {
  'use strict';
  function say(button, text) {
    var status = document.getElementById(button.getAttribute('data-status') || '');
    if (status) status.textContent = text;
  }
  function copy(button) {
    var field = document.getElementById(button.getAttribute('data-copy'));
    if (!field) return;
    field.focus();
    field.select();
    var done = function () { say(button, 'Copied.'); };
    var failed = function () { say(button, 'Could not copy: the text is selected, press Ctrl+C or ⌘C.'); };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(field.value).then(done, failed);
    } else {
      try { if (document.execCommand('copy')) { done(); } else { failed(); } } catch (e) { failed(); }
    }
  }
  var buttons = document.querySelectorAll('button[data-copy]');
  for (var i = 0; i < buttons.length; i++) {
    buttons[i].hidden = false;
    buttons[i].addEventListener('click', function (event) { copy(event.currentTarget); });
  }
})();
