// Small pieces every view of the page uses: building elements, the toast, modal dialogs, times.
import { Unauthorized } from "/api.js";

export const $ = (selector) => document.querySelector(selector);

export function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

export function button(text, className, onClick, label) {
  const node = element("button", text, className);
  node.type = "button";
  if (label) node.setAttribute("aria-label", label);
  node.addEventListener("click", (event) => { event.stopPropagation(); onClick(event); });
  return node;
}

export function toast(text, error = false) {
  const box = $("#toast");
  box.textContent = text;
  box.className = error ? "show error" : "show";
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.className = ""; }, 3500);
}

export function failed(error) {
  if (error instanceof Unauthorized) return;
  console.error(error);
  toast(error.message, true);
}

// a <dialog> with a form of method "dialog": true when its "ok" button closed it
export function ask(dialog) {
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}

export const time = (iso) => iso ? new Date(iso).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }) : "";
// to the second, with the day only when it is not today (a timeline's entries are seconds apart)
export function clock(iso) {
  if (!iso) return "";
  const moment = new Date(iso);
  const seconds = moment.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
  return moment.toDateString() === new Date().toDateString()
    ? seconds : `${moment.toLocaleDateString([], { month: "short", day: "numeric" })} ${seconds}`;
}
