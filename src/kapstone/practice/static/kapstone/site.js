// Every page: the idle sign-out warning and drafts of long text fields.
//
// The server signs a person out after a set time without a request (settings.SESSION_COOKIE_AGE). WCAG 2.1
// 2.2.1 (Timing Adjustable) asks that they are warned before and can extend it with a simple action, and
// someone halfway through a journal entry must not lose it: so a dialog warns ahead with "Stay signed in",
// which pings the keep-alive URL, and what is typed in a text area is kept on this device as a draft until
// the form is sent. Drafts never outlive an explicit sign-out, belong to one user, and expire after a day.
// Without this script every page still works; only the warning and the drafts are missing.
(function () {
  "use strict";
  var DRAFT_PREFIX = "kapstone:draft:";
  var LAST_CONTACT_KEY = "kapstone:last-contact";
  var DRAFT_LIFETIME_MS = 24 * 60 * 60 * 1000;
  var body = document.body;
  var userId = body.getAttribute("data-user");

  function storage() {
    // Private browsing or a full disk can make localStorage throw: the page then simply keeps no drafts.
    try { return window.localStorage; } catch (error) { return null; }
  }

  function draftKeys() {
    var store = storage();
    var keys = [];
    if (!store) { return keys; }
    for (var i = 0; i < store.length; i += 1) {
      var key = store.key(i);
      if (key && key.indexOf(DRAFT_PREFIX) === 0) { keys.push(key); }
    }
    return keys;
  }

  function clearDrafts(keep) {
    var store = storage();
    draftKeys().forEach(function (key) { if (!keep || !keep(key)) { store.removeItem(key); } });
  }

  function readDraft(key) {
    var store = storage();
    try { return JSON.parse(store.getItem(key)); } catch (error) { return null; }
  }

  // Drafts of someone else (a shared tablet) and drafts older than a day are removed on every page, the
  // sign-in page included.
  clearDrafts(function (key) {
    var draft = readDraft(key);
    var owner = key.slice(DRAFT_PREFIX.length).split(":")[0];
    var fresh = draft && typeof draft.savedAt === "number" && Date.now() - draft.savedAt < DRAFT_LIFETIME_MS;
    return fresh && (!userId || owner === userId);
  });

  // ---- Wide tables ----------------------------------------------------------------------------------------
  // A table wider than the screen scrolls inside its .table-scroll box; someone on a keyboard can scroll it
  // only if the box takes focus (WCAG 2.1.1), and a focusable box needs a name, so it becomes a named region.
  // Only boxes that overflow get one, so narrow tables add no extra tab stop. Two regions with one name cannot be
  // told apart in a screen reader's list of landmarks (axe landmark-unique): a box inside a section named by the
  // same heading, or a second table under one heading, gets a name of its own ("Tasks (table)", "Tasks (table 2)").
  function tableName(scroller) {
    var table = scroller.querySelector("table");
    var caption = table && table.querySelector("caption");
    if (caption && caption.textContent.trim()) { return caption.textContent.trim(); }
    var section = scroller.closest("section, .card, main");
    var heading = section && section.querySelector("h1, h2, h3");
    return heading ? heading.textContent.trim() : "Table";
  }

  function regionName(element) {
    var labelledBy = element.getAttribute("aria-labelledby");
    if (labelledBy) {
      return labelledBy.split(/\s+/).map(function (id) {
        var label = document.getElementById(id);
        return label ? label.textContent.trim() : "";
      }).join(" ").trim();
    }
    return (element.getAttribute("aria-label") || "").trim();
  }

  function otherRegionNames() {
    var taken = {};
    var regions = document.querySelectorAll("section[aria-label], section[aria-labelledby], [role=region]");
    Array.prototype.forEach.call(regions, function (region) {
      if (!region.hasAttribute("data-scroll-focus")) { taken[regionName(region)] = true; }
    });
    return taken;
  }

  function unusedName(base, taken) {
    var name = base;
    for (var n = 1; taken[name]; n += 1) { name = base + (n === 1 ? " (table)" : " (table " + n + ")"); }
    taken[name] = true;
    return name;
  }

  function markScrollingTables() {
    var taken = otherRegionNames();
    Array.prototype.forEach.call(document.querySelectorAll(".table-scroll"), function (scroller) {
      if (scroller.hasAttribute("tabindex") && !scroller.hasAttribute("data-scroll-focus")) { return; }
      if (scroller.scrollWidth > scroller.clientWidth) {
        scroller.setAttribute("tabindex", "0");
        scroller.setAttribute("role", "region");
        scroller.setAttribute("aria-label", unusedName(tableName(scroller), taken));
        scroller.setAttribute("data-scroll-focus", "");
      } else if (scroller.hasAttribute("data-scroll-focus")) {
        ["tabindex", "role", "aria-label", "data-scroll-focus"].forEach(function (name) {
          scroller.removeAttribute(name);
        });
      }
    });
  }

  // ---- Long tables closed on a phone ---------------------------------------------------------------------------
  // A page's long tables (the outcomes report's) are each in a disclosure marked data-open-wide: closed as drawn, so
  // a phone shows their headings and summaries instead of a page some thirty thousand pixels tall, and opened here
  // on a wider screen, where they were always shown. Without script every one is still a click away.
  if (window.matchMedia("(min-width: 601px)").matches) {
    Array.prototype.forEach.call(document.querySelectorAll("details[data-open-wide]"), function (part) {
      part.open = true;
    });
  }

  markScrollingTables();
  var resizing = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(resizing);
    resizing = window.setTimeout(markScrollingTables, 200);
  });
  // A table in a disclosure has no width while closed: it is marked as a scrolling region once opened.
  document.addEventListener("toggle", markScrollingTables, true);

  // ---- A form sent back with errors -------------------------------------------------------------------------
  // The page comes back at its top: in the dosing room a refused reading for the third patient was below the
  // fold, with nothing in view to say it had not been saved. The first problem on the page is brought into view:
  // an error summary where the page has one (it comes first), otherwise the first field refused, focused so a
  // screen reader reads its label and error. A page opened at an anchor keeps it.
  var problem = window.location.hash ? null : document.querySelector('[aria-invalid="true"], .errors[role="alert"]');
  if (problem) {
    if (problem.matches("input, select, textarea")) {
      problem.focus({ preventScroll: true });
    }
    // A standing warning near the top (a group's template problem) is already in view and stays where it is.
    var box = problem.getBoundingClientRect();
    if (box.top < 0 || box.bottom > window.innerHeight) { problem.scrollIntoView({ block: "center" }); }
  }

  if (!userId) { return; }

  // ---- Drafts ---------------------------------------------------------------------------------------------
  // A draft belongs to the form's address and field, not to the form's place on the page: an acknowledgement
  // note typed for one alert must never come back in another alert's form after the queue has changed.
  var keysSeen = {};
  function draftKey(form, field) {
    var key = DRAFT_PREFIX + userId + ":" + window.location.pathname + ":" + (form.getAttribute("action") || "") +
      ":" + (field.name || field.id);
    keysSeen[key] = (keysSeen[key] || 0) + 1;
    return keysSeen[key] === 1 ? key : key + ":" + keysSeen[key];
  }

  function formatTime(milliseconds) {
    return new Date(milliseconds).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function offerRestored(field, key, savedAt) {
    var note = document.createElement("p");
    note.className = "help draft-note";
    note.setAttribute("role", "status");
    note.textContent = "Restored the draft you had not sent (kept on this device at " + formatTime(savedAt) + "). ";
    var discard = document.createElement("button");
    discard.type = "button";
    discard.className = "button-link remove";
    discard.textContent = "Discard the draft";
    discard.addEventListener("click", function () {
      field.value = field.defaultValue;
      storage().removeItem(key);
      note.remove();
      field.focus();
    });
    note.appendChild(discard);
    field.insertAdjacentElement("afterend", note);
  }

  function keepDrafts(form) {
    // A form that saves itself on the server (the creativity tasks) needs no second copy.
    if (form.hasAttribute("data-autosave-url") || form.hasAttribute("data-no-draft")) { return; }
    var fields = Array.prototype.filter.call(form.querySelectorAll("textarea"), function (field) {
      return !field.hasAttribute("data-no-draft") && !field.disabled && !field.readOnly;
    });
    if (!fields.length) { return; }
    var keys = fields.map(function (field) { return draftKey(form, field); });
    fields.forEach(function (field, index) {
      var key = keys[index];
      var draft = readDraft(key);
      // Only into a field still as the server wrote it: a form sent back with errors already holds the text.
      if (draft && draft.text && draft.text !== field.value && field.value === field.defaultValue) {
        field.value = draft.text;
        offerRestored(field, key, draft.savedAt);
      }
      field.addEventListener("input", function () {
        var store = storage();
        if (!store) { return; }
        try {
          if (field.value && field.value !== field.defaultValue) {
            store.setItem(key, JSON.stringify({ text: field.value, savedAt: Date.now() }));
          } else {
            store.removeItem(key);
          }
        } catch (error) { /* storage full: the text is still in the field */ }
      });
    });
    form.addEventListener("submit", function () {
      var store = storage();
      if (store) { keys.forEach(function (key) { store.removeItem(key); }); }
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("form"), function (form) {
    if ((form.getAttribute("method") || "get").toLowerCase() === "post") { keepDrafts(form); }
  });

  var signOut = document.getElementById("signout-form");
  if (signOut) {
    // Signing out on purpose leaves no patient data on the device.
    signOut.addEventListener("submit", function () { clearDrafts(); });
  }

  // ---- Idle sign-out warning ------------------------------------------------------------------------------
  var idleSeconds = parseInt(body.getAttribute("data-idle-seconds"), 10);
  var keepAliveUrl = body.getAttribute("data-keep-alive-url");
  var dialog = document.getElementById("idle-warning");
  if (!idleSeconds || !keepAliveUrl || !dialog || !signOut) { return; }
  // Two minutes' notice, or half the idle time when that is shorter (WCAG 2.2.1 asks for at least 20 s).
  var warnAheadMs = Math.min(120, Math.floor(idleSeconds / 2)) * 1000;
  var deadlineText = dialog.querySelector("[data-idle-deadline]");
  var stay = dialog.querySelector("[data-idle-stay]");
  var store = storage();
  var lastContact = Date.now();

  // Tabs share the session: the latest request any of them made sets the clock for all.
  function noteContact(when) {
    lastContact = when;
    if (store) { try { store.setItem(LAST_CONTACT_KEY, String(when)); } catch (error) { /* one tab only */ } }
  }

  function latestContact() {
    var shared = store ? parseInt(store.getItem(LAST_CONTACT_KEY), 10) : NaN;
    return isNaN(shared) ? lastContact : Math.max(lastContact, shared);
  }

  function closeDialog() {
    if (dialog.open) { dialog.close(); }
  }

  function check() {
    var deadline = latestContact() + idleSeconds * 1000;
    var now = Date.now();
    if (now >= deadline) {
      // The server has ended the session by now; signing out here shows the sign-in page instead of a form
      // that would be refused. Drafts stay (that is what they are for) until the next explicit sign-out.
      window.clearInterval(timer);
      signOut.submit();
    } else if (now >= deadline - warnAheadMs) {
      if (!dialog.open) {
        deadlineText.textContent = formatTime(deadline);
        dialog.showModal();
        stay.focus();
      }
    } else {
      closeDialog();
    }
  }

  stay.addEventListener("click", function () {
    var token = signOut.querySelector("input[name=csrfmiddlewaretoken]");
    fetch(keepAliveUrl, {
      method: "POST",
      credentials: "same-origin",
      redirect: "manual",
      headers: { "X-CSRFToken": token ? token.value : "", "X-Requested-With": "fetch" }
    }).then(function (response) {
      if (response.ok) {
        noteContact(Date.now());
        closeDialog();
      } else {
        // Already signed out (the keep-alive answered with the sign-in page): go there.
        window.location.assign(window.location.href);
      }
    }).catch(function () { /* offline for a moment: the dialog stays and can be pressed again */ });
  });

  // Escape is someone at the screen dismissing the warning: it counts as "Stay signed in".
  dialog.addEventListener("cancel", function (event) {
    event.preventDefault();
    stay.click();
  });

  noteContact(Date.now());
  var timer = window.setInterval(check, 1000);
})();

// Passkeys (django-otp-webauthn's scripts, served from its static files). They call gettext for their messages,
// which Django's JavaScript catalog would define; Kapstone speaks English only, so the message stands as written.
// A newly added passkey belongs in the list on the page: show the page again once it is saved.
(function () {
  "use strict";
  if (typeof window.gettext !== "function") {
    window.gettext = function (message) { return message; };
  }
  document.addEventListener("otp_webauthn.register_complete", function () {
    window.location.reload();
  });
})();

// A form that removes something asks first (data-confirm holds the question): one tap on a "Remove" beside a
// diagnosis or a medication took it off the record at once. Without this script the form sends as before.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });
})();
