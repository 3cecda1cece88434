// The console's only script (served by the console; no CDN). Pages work without it.
document.addEventListener("DOMContentLoaded", () => {
  // A matter picked in the picker reloads the form with that matter's own fields.
  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
  document.querySelectorAll("[data-print]").forEach((button) => {
    button.addEventListener("click", () => window.print());
  });
  // The place by a click on the grid map: the SVG's coordinates back to WGS 84 (equirectangular,
  // the same frame the server drew with), into the latitude and longitude fields.
  const pick = document.getElementById("pickmap");
  if (pick) {
    pick.addEventListener("click", (event) => {
      const point = new DOMPoint(event.clientX, event.clientY).matrixTransform(pick.getScreenCTM().inverse());
      const d = pick.dataset;
      const lon = Number(d.minLon) + point.x / (Number(d.xScale) * Number(d.scale));
      const lat = Number(d.maxLat) - point.y / Number(d.scale);
      document.getElementById("lat").value = lat.toFixed(6);
      document.getElementById("lon").value = lon.toFixed(6);
      const mark = document.getElementById("pickmark");
      mark.setAttribute("cx", point.x);
      mark.setAttribute("cy", point.y);
    });
  }
  // Escape closes a detail drawer.
  const close = document.querySelector(".drawer .close");
  if (close) {
    document.addEventListener("keydown", (event) => { if (event.key === "Escape") { window.location = close.href; } });
  }
});
