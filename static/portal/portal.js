// Enhancements only: every flow works without this file.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText((source.value ?? source.textContent).trim()).then(() => {
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 2000);
  });
});
// Ask before a confirmation form's destructive submit only where the page did not already.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.dataset.submitted === "1") { event.preventDefault(); return; }
  if (form.matches("[data-once]")) form.dataset.submitted = "1";
});
// Passkeys (django-otp-webauthn's script announces its outcome with events): after a
// passkey confirms an action, post the action again; after one is created, go on.
document.addEventListener("otp_webauthn.verification_complete", (event) => {
  const button = event.target.closest("[data-submit-form]");
  const form = button && document.getElementById(button.dataset.submitForm);
  if (form) form.submit();
});
document.addEventListener("otp_webauthn.register_complete", (event) => {
  const button = event.target.closest("[data-done-url]");
  if (button) window.location.assign(button.dataset.doneUrl);
});
// The inventory's bulk action: "Select every key on this page" (shown only with this script),
// and the form's button disabled until a key is ticked. Boxes belong to the form through
// their form attribute.
function selectionBoxes(form) {
  return Array.from(document.querySelectorAll(`input[type=checkbox][form="${form.id}"]`));
}
function syncSelection(form) {
  const boxes = selectionBoxes(form);
  const ticked = boxes.filter((box) => box.checked).length;
  form.querySelectorAll("button[type=submit]").forEach((button) => { button.disabled = ticked === 0; });
  const all = document.querySelector(`[data-select-all-for="${form.id}"] input[type=checkbox]`);
  if (all) {
    all.checked = boxes.length > 0 && ticked === boxes.length;
    all.indeterminate = ticked > 0 && ticked < boxes.length;
  }
}
document.querySelectorAll("form[data-needs-selection]").forEach((form) => {
  const holder = document.querySelector(`[data-select-all-for="${form.id}"]`);
  if (holder && selectionBoxes(form).length) {
    holder.hidden = false;
    holder.querySelector("input[type=checkbox]").addEventListener("change", (event) => {
      selectionBoxes(form).forEach((box) => { box.checked = event.target.checked; });
      syncSelection(form);
    });
  }
  document.addEventListener("change", (event) => {
    if (event.target.matches(`input[type=checkbox][form="${form.id}"]`)) syncSelection(form);
  });
  syncSelection(form);
});
// The main menu on a phone: folded behind a Menu button (without this script it stays open,
// its links wrapped in rows above the page).
(() => {
  const button = document.querySelector(".menu-button");
  const menu = document.getElementById("main-menu");
  if (!button || !menu) return;
  button.hidden = false;
  document.documentElement.classList.add("folding-menu");
  button.addEventListener("click", () => {
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    menu.classList.toggle("open", open);
  });
})();
