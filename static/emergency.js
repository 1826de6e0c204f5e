// Emergency sign-in page: the one-time token is the URL's fragment (never sent to the server
// in the address); the button posts it. Texts come from data-msg-* attributes of the page.
(function () {
  "use strict";
  var form = document.getElementById("emergency-login");
  var status = document.getElementById("emergency-status");
  if (!form || !status || !window.fetch) return;
  var csrf = document.querySelector('meta[name="csrf-token"]');
  var token = window.location.hash.replace(/^#/, "");
  function say(key, problem) {
    var text = problem && problem.detail ? problem.detail : form.dataset[key];
    status.textContent = text + (problem && problem.code ? " (" + problem.code + ")" : "");
  }
  if (!token) { say("msgNoToken"); return; }
  form.hidden = false;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    say("msgWorking");
    fetch("/login/emergency", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf ? csrf.content : "" },
      body: JSON.stringify({ token: token })
    }).then(function (res) {
      return res.json().then(function (data) {
        if (res.ok && data && data.next) window.location.assign(data.next);
        else say("msgFailed", data);
      }, function () { say("msgFailed"); });
    }, function () { say("msgNetwork"); });
  });
})();
