// Recharge portal: the only script. Pages work without it; it adds the print button's action
// (inline handlers are refused by the Content-Security-Policy).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
});
