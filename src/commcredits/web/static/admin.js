// Progressive enhancement only: every page works without it.
// Forms with data-confirm ask before they are sent (card removal, the move to post-paid).
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) { event.preventDefault(); }
});
