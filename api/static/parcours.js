/* Parcours' own script: progressive enhancement only, every page works without it.
 *
 * 1. It marks the page as scripted before it is drawn (``data-parcours-js`` on <html>): without
 *    a script, parcours.css keeps the header's menu open in the page below 992 px, where DSFR's
 *    script would put it behind the « Menu » button.
 * 2. The result of an action (``#resultat``, one per page, see ``result`` in
 *    templates/_macros.html) comes to the top of the window and takes the focus, so that it is
 *    seen and read out (RGAA 7.5). Without a script, the address's ``#resultat`` and the alert's
 *    ``autofocus`` do most of it.
 */
(function () {
  "use strict";
  document.documentElement.setAttribute("data-parcours-js", "");

  function showResult() {
    var result = document.getElementById("resultat");
    if (!result) return;
    var active = document.activeElement;
    if (active !== result && !result.contains(active)) {
      result.focus({ preventScroll: true });
    }
    result.scrollIntoView({ block: "start" });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", showResult);
  } else {
    showResult();
  }
})();
