// The console's only script (served by the console; no CDN). Pages work without it.
document.addEventListener("DOMContentLoaded", () => {
  // A matter picked in the picker reloads the form with that matter's own fields.
  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
  document.querySelectorAll("[data-print]").forEach((button) => {
    button.addEventListener("click", () => window.print());
  });
  // Escape closes a detail drawer.
  const close = document.querySelector(".drawer .close");
  if (close) {
    document.addEventListener("keydown", (event) => { if (event.key === "Escape") { window.location = close.href; } });
  }
});
