// Recharge portal: the only script. Pages work without it; it adds the print button's action
// (inline handlers are refused by the Content-Security-Policy), and on an order waiting for its payment it asks
// for the order's state every 2 s and reloads the page only when the state changed (without the script the page
// reloads itself every 2 s), and counts down the time left to pay a wallet's QR code.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  var follow = document.querySelector("[data-poll]");
  if (follow) {
    var url = follow.getAttribute("data-poll"), shown = follow.getAttribute("data-state");
    var poll = function () {
      fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (order) {
          if (order && order.state && order.state !== shown) { window.location.reload(); } else { window.setTimeout(poll, 2000); }
        })
        .catch(function () { window.setTimeout(poll, 5000); });
    };
    window.setTimeout(poll, 2000);
  }

  var left = document.querySelector("[data-seconds]");
  if (left) {
    var end = Date.now() + 1000 * Number(left.getAttribute("data-seconds"));
    var two = function (n) { return n < 10 ? "0" + n : String(n); };
    var tick = function () {
      var s = Math.max(0, Math.floor((end - Date.now()) / 1000));
      var h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
      left.textContent = (h > 0 ? h + ":" + two(m) : String(m)) + ":" + two(s % 60);
      if (s > 0) { window.setTimeout(tick, 1000); }
    };
    tick();
  }
});
