// Amounts, times and markup as a person reads them; amounts exact (BigInt), never floats.

import { getAddress } from "ethers/address";
import { ZeroAddress } from "ethers/constants";
import { formatUnits, parseUnits } from "ethers/utils";
import { state } from "./state.js";

export const kwh = (wh) => (Number(wh) / 1000).toLocaleString("en", { maximumFractionDigits: 3 });
// An amount of a token in its own decimals: the Exchange's token unless told otherwise.
export const tokens = (units, token = state.site.token) => {
  const { decimals, symbol } = token;
  const [whole, part = ""] = formatUnits(BigInt(units), decimals).split(".");
  return `${BigInt(whole).toLocaleString("en")}.${part.padEnd(4, "0").slice(0, 4)} ${symbol}`;
};
export const perKwh = (unitsPerWh) => tokens(BigInt(unitsPerWh) * 1000n) + "/kWh";
export const when = (unix) => new Date(unix * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC";
export const short = (hex) => `${hex.slice(0, 8)}…${hex.slice(-4)}`;
export const escape = (text) =>
  String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

export function table(rows, header) {
  if (!rows.length) return '<p class="muted">Nothing yet.</p>';
  const head = header.map((h) => `<th>${escape(h)}</th>`).join("");
  // data-label: on a phone each row becomes a card, each cell labelled by its column.
  const body = rows
    .map((row) => `<tr>${row.map((cell, i) => `<td data-label="${escape(header[i] || "")}">${cell}</td>`).join("")}</tr>`)
    .join("");
  return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

export function card(label, value, id = "") {
  return `<div class="card"${id ? ` id="${id}"` : ""}><span class="label">${escape(label)}</span><span class="value">${escape(value)}</span></div>`;
}

function notice(message, kind = "info") {
  const box = $("#notice");
  box.textContent = message;
  box.className = `notice ${kind}`;
  box.hidden = !message;
}

// An amount typed by a person, with "," or "." as the decimal separator, in base units:
// exact (no floats), or an Error that says what is wrong.
export function decimalUnits(text, decimals, what = "The amount") {
  const typed = String(text).trim().replace(/\s/g, "");
  if (!/^[0-9]*([.,][0-9]*)?$/.test(typed) || !/[0-9]/.test(typed)) {
    throw new Error(`${what} must be a number, like 1.5 or 1,5.`);
  }
  let units;
  try {
    units = parseUnits(typed.replace(",", "."), decimals);
  } catch {
    throw new Error(`${what} has more than ${decimals} decimals.`);
  }
  if (units <= 0n) throw new Error(`${what} must be above zero.`);
  return units;
}

// A price per kWh in tokens, as base units per Wh: exact, or an error.
export function unitsPerWh(text, decimals) {
  const units = decimalUnits(text, decimals, "The price");
  if (units % 1000n) throw new Error("The price per kWh must be a whole number of base units per Wh.");
  return units / 1000n;
}

// The contract's reason, in plain words: "exchange: the market for that interval
// has closed" becomes "The market for that interval has closed."
export function plainWords(error) {
  if (error?.code === "ACTION_REJECTED" || error?.info?.error?.code === 4001 || error?.code === 4001) {
    return "You declined the transaction in your wallet.";
  }
  const raw =
    error?.reason ||
    error?.revert?.args?.[0] ||
    error?.info?.error?.data?.message ||
    error?.info?.error?.message ||
    error?.shortMessage ||
    error?.message ||
    String(error);
  const reason = raw.replace(/^execution reverted:?\s*/i, "").replace(/^[a-z]+: /, "");
  return reason.charAt(0).toUpperCase() + reason.slice(1).replace(/\.?$/, ".");
}

export const hourText = (unix) => {
  const local = new Date(unix * 1000).toLocaleString(undefined, { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  return `<time datetime="${new Date(unix * 1000).toISOString()}" title="${when(unix)}">${escape(local)}</time>`;
};
export const hourCell = hourText;

// An address typed or pasted by a person, checked before any wallet is asked: its form,
// and its EIP-55 checksum when it has one (mixed case); an Error says what is wrong.
export function checkedAddress(text, what = "The address") {
  const typed = String(text).trim();
  if (!/^0x[0-9a-fA-F]{40}$/.test(typed)) {
    throw new Error(`${what} must be 0x and 40 hex digits${typed ? `, not ${typed}` : ""}.`);
  }
  let address;
  try {
    address = getAddress(typed);
  } catch {
    throw new Error(`${what} ${typed} fails its checksum: a character is mistyped. Copy it again.`);
  }
  if (address === ZeroAddress) throw new Error(`${what} is the zero address: nobody holds its key.`);
  return address;
}
