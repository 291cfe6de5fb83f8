// Countdown and autosave for the creativity task pages. The server keeps the real clock: this script only
// shows the time left, saves every half minute, and hands the part in when its time is up. Without it the
// page still works (Save and hand-in buttons; the server refuses answers after the deadline).
(function () {
  "use strict";
  var timer = document.querySelector(".timer[data-seconds-left]");
  var form = document.querySelector("form.creativity-form");
  if (!timer || !form) { return; }
  var value = timer.querySelector(".timer-value");
  var status = form.querySelector(".autosave-status");
  var endsAt = Date.now() + 1000 * parseInt(timer.getAttribute("data-seconds-left"), 10);
  // A page answering the automatic hand-in (which the server refused) must not send it again: it would
  // be refused again, and the page would reload for ever. The patient reads why and can press the button.
  var handedIn = form.hasAttribute("data-timer-handed-in");
  var lastSaved = "";

  function format(seconds) {
    var minutes = Math.floor(seconds / 60);
    var rest = seconds % 60;
    return minutes + ":" + (rest < 10 ? "0" : "") + rest;
  }

  function handIn() {
    if (handedIn) { return; }
    handedIn = true;
    var button = form.querySelector("button.finish");
    if (!button) { return; }
    var marker = document.createElement("input");
    marker.type = "hidden";
    marker.name = "handed_in_by";
    marker.value = "timer";
    form.appendChild(marker);
    if (form.requestSubmit) { form.requestSubmit(button); } else { button.click(); }
  }

  function tick() {
    var left = Math.max(0, Math.round((endsAt - Date.now()) / 1000));
    value.textContent = format(left);
    timer.classList.toggle("timer-low", left <= 30);
    if (left === 0) { handIn(); } else { window.setTimeout(tick, 500); }
  }

  function snapshot() {
    return new URLSearchParams(new FormData(form)).toString();
  }

  function autosave() {
    if (handedIn) { return; }
    var body = snapshot();
    if (body === lastSaved) { return; }
    fetch(form.getAttribute("data-autosave-url"), {
      method: "POST",
      body: new URLSearchParams(body),
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" }
    }).then(function (response) { return response.json(); }).then(function (data) {
      if (data.saved) { lastSaved = body; }
      // A refused save says what to fix; the hand-in keeps what fits either way.
      if (status) { status.textContent = data.error ? "Not saved: " + data.error : ""; }
      if (data.closed) { window.location.reload(); }
    }).catch(function () { /* offline for a moment: the next save or the hand-in carries the answers */ });
  }

  lastSaved = snapshot();
  tick();
  window.setInterval(autosave, 30000);
})();
