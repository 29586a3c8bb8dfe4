// 協働マッチング: a little help on top of pages that work without script.
// 1. Forms with data-validate explain each field as it is filled in (in Japanese).
// 2. The review queue can be worked with the keyboard (j/k, a, r, c).
"use strict";

function fieldMessage(el) {
  const v = el.validity;
  if (v.valid) {
    const other = el.dataset.sameAs && document.getElementById(el.dataset.sameAs);
    if (other && other.value !== el.value) return el.dataset.msgMismatch || "一致しません。";
    return "";
  }
  if (v.valueMissing) return el.dataset.msgRequired || "入力してください。";
  if (v.tooLong) return el.dataset.msgToolong || "長すぎます。";
  if (v.tooShort) return el.dataset.msgTooshort || "短すぎます。";
  if (v.typeMismatch) return el.dataset.msgType || "形式が正しくありません。";
  return "入力内容を確かめてください。";
}

function showMessage(el) {
  const box = document.getElementById(el.id + "-error");
  const message = fieldMessage(el);
  if (box) box.textContent = message;
  if (message) el.setAttribute("aria-invalid", "true");
  else el.removeAttribute("aria-invalid");
  return message;
}

function counter(el) {
  const max = Number(el.getAttribute("maxlength"));
  if (!max) return;
  let out = el.parentElement.querySelector(".counter");
  if (!out) {
    out = document.createElement("p");
    out.className = "counter";
    out.setAttribute("aria-live", "off");
    el.insertAdjacentElement("afterend", out);
  }
  out.textContent = el.value.length + " / " + max + " 文字";
}

function setUpForms() {
  document.querySelectorAll("form[data-validate]").forEach((form) => {
    const inputs = form.querySelectorAll("input[id], textarea[id], select[id]");
    inputs.forEach((el) => {
      el.addEventListener("blur", () => showMessage(el));
      el.addEventListener("input", () => {
        if (el.getAttribute("aria-invalid")) showMessage(el);
        if (el.hasAttribute("data-counter")) counter(el);
      });
      if (el.hasAttribute("data-counter")) counter(el);
    });
    form.addEventListener("submit", (event) => {
      let first = null;
      inputs.forEach((el) => {
        if (showMessage(el) && !first) first = el;
      });
      if (first) {
        event.preventDefault();
        first.focus();
      }
    });
  });
}

function setUpQueue() {
  const cards = Array.from(document.querySelectorAll("[data-suggestion]"));
  if (!cards.length) return;
  let current = -1;
  function select(i, focus) {
    if (i < 0 || i >= cards.length) return;
    if (current >= 0) cards[current].classList.remove("current");
    current = i;
    cards[i].classList.add("current");
    if (focus) {
      cards[i].focus();
      cards[i].scrollIntoView({ block: "nearest" });
    }
  }
  cards.forEach((card, i) => card.addEventListener("focusin", () => select(i, false)));
  // after a decision the page comes back at its need: start on that need's first card
  const start = location.hash ? document.querySelector(location.hash + " [data-suggestion]") : null;
  select(start ? cards.indexOf(start) : 0, Boolean(start));
  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const tag = event.target.tagName;
    const typing = tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
    if (typing) {
      if (event.key === "Escape") cards[current].focus();
      return;
    }
    const card = cards[current];
    if (event.key === "j") select(current + 1, true);
    else if (event.key === "k") select(current - 1, true);
    else if (event.key === "a") card.querySelector("[data-confirm]").click();
    else if (event.key === "r") card.querySelector("[data-reason]").focus();
    else if (event.key === "c") card.querySelector("[data-comment]").focus();
    else return;
    event.preventDefault();
  });
  // a reason chosen, Enter (or the 見送る button) rejects; without a reason the server asks for one
  cards.forEach((card) => {
    const reason = card.querySelector("[data-reason]");
    reason.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && reason.value) {
        event.preventDefault();
        card.querySelector("[data-reject]").click();
      }
    });
    card.querySelector("[data-reject]").addEventListener("click", (event) => {
      if (!reason.value) {
        event.preventDefault();
        reason.setCustomValidity("見送る場合は理由を選んでください。");
        reason.reportValidity();
        reason.focus();
      }
    });
    reason.addEventListener("change", () => reason.setCustomValidity(""));
  });
}

// 3. "select all of this need" ticks the need's checkboxes for the bulk form (the form
//    works without it: the button stays hidden when script does not run).
function setUpPickAll() {
  document.querySelectorAll("[data-pick-all]").forEach((button) => {
    const block = document.getElementById(button.dataset.pickAll);
    if (!block) return;
    const boxes = Array.from(block.querySelectorAll('input[type="checkbox"][name="pick"]'));
    if (!boxes.length) return;
    button.hidden = false;
    button.addEventListener("click", () => {
      const all = boxes.every((box) => box.checked);
      boxes.forEach((box) => {
        box.checked = !all;
      });
    });
  });
}

function setUpCopy() {
  document.querySelectorAll("input.copy").forEach((el) => {
    el.addEventListener("focus", () => el.select());
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setUpForms();
  setUpQueue();
  setUpPickAll();
  setUpCopy();
});
