// Feedback where the user acts: a notice at the top, a toast next to the form, and each
// account's transactions, pending, confirmed or failed, kept in this browser.

import { plainWords, short } from "./format.js";
import { $, rerender, state } from "./state.js";
import { contract, reader, switchChain } from "./wallet.js";

export function notice(message, kind = "info") {
  const box = $("#notice");
  box.textContent = message;
  box.className = `notice ${kind}`;
  box.hidden = !message;
}

// THE HISTORY: each account's transactions, with their outcome, kept in this browser.

const HISTORY = 30;
const historyKey = (account) => `openkwh.history.${account}`;

export function history(account = state.account) {
  try {
    return JSON.parse(localStorage.getItem(historyKey(account)) || "[]");
  } catch {
    return [];
  }
}

// An entry stays with the account that sent it, even when the wallet switches
// account before the transaction is confirmed.
function remember(entry, account) {
  const kept = [{ ...entry }, ...history(account).filter((e) => e.id !== entry.id)];
  localStorage.setItem(historyKey(account), JSON.stringify(kept.slice(0, HISTORY)));
  if (account === state.account) showHistory();
}

export function showHistory() {
  const list = $("#transactions");
  list.replaceChildren(
    ...history()
      .slice(0, 5)
      .map((e) => {
        const item = document.createElement("li");
        item.className = e.kind;
        item.textContent = e.text;
        item.title = new Date(e.at * 1000).toLocaleString();
        return item;
      }),
  );
}

// A message next to the control the user acted on (a form's .toast), replacing the last.
export function toast(near, message, kind = "info") {
  if (!near) return notice(message, kind);
  let box = near.querySelector(".toast");
  if (!box) {
    box = document.createElement("p");
    box.className = "toast";
    box.setAttribute("role", "status");
    near.append(box);
  }
  box.textContent = message;
  box.className = `toast ${kind}`;
}

// Sends one call through the wallet; the list shows it pending, then confirmed or failed,
// and so does the toast next to the form it came from (``near``).
export async function send(label, name, method, args, near = null) {
  if (!state.wallet) {
    toast(near, "Connect your wallet first.", "error");
    return null;
  }
  const entry = { id: `${Date.now()}-${Math.random().toString(36).slice(2)}`, label };
  const account = state.account;
  const show = (kind, text) => {
    Object.assign(entry, { kind, text, at: Math.floor(Date.now() / 1000) });
    remember(entry, account);
    if (near && account === state.account) toast(near, text, kind);
  };
  show("pending", `${label}: waiting for your wallet…`);
  try {
    await switchChain();
    const signer = await (await reader()).getSigner();
    const tx = await (await contract(name, signer))[method](...args);
    show("pending", `${label}: pending (${short(tx.hash)})`);
    const receipt = await tx.wait();
    show("confirmed", `${label}: confirmed in block ${receipt.blockNumber}`);
    setTimeout(rerender, 1200); // the indexer needs a moment to see it
    return receipt;
  } catch (error) {
    show("failed", `${label}: failed. ${plainWords(error)}`);
    return null;
  }
}
