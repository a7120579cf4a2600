// The OpenKWh dApp in the browser: reads everything from /api/v1, and sends
// every transaction through the user's own wallet (EIP-1193, found through
// EIP-6963 discovery) with ethers.js. No key ever reaches the server.

import { BrowserProvider, Contract, Signature, formatUnits, getAddress, isAddress, parseUnits } from "ethers";
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from "chart.js";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

const state = { site: null, account: null, wallet: null, wallets: [] };
const $ = (selector) => document.querySelector(selector);

// READING

async function api(path) {
  const response = await fetch(`/api/v1${path}`);
  const body = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(body.error || `${response.status}`);
  return body;
}

const kwh = (wh) => (Number(wh) / 1000).toLocaleString("en", { maximumFractionDigits: 3 });
// An amount of a token in its own decimals: the Exchange's token unless told otherwise.
const tokens = (units, token = state.site.token) => {
  const { decimals, symbol } = token;
  const [whole, part = ""] = formatUnits(BigInt(units), decimals).split(".");
  return `${BigInt(whole).toLocaleString("en")}.${part.padEnd(4, "0").slice(0, 4)} ${symbol}`;
};
const perKwh = (unitsPerWh) => tokens(BigInt(unitsPerWh) * 1000n) + "/kWh";
const when = (unix) => new Date(unix * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC";
const short = (hex) => `${hex.slice(0, 8)}…${hex.slice(-4)}`;
const escape = (text) =>
  String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

function table(rows, header) {
  if (!rows.length) return '<p class="muted">Nothing yet.</p>';
  const head = header.map((h) => `<th>${escape(h)}</th>`).join("");
  // data-label: on a phone each row becomes a card, each cell labelled by its column.
  const body = rows
    .map((row) => `<tr>${row.map((cell, i) => `<td data-label="${escape(header[i] || "")}">${cell}</td>`).join("")}</tr>`)
    .join("");
  return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

function card(label, value, id = "") {
  return `<div class="card"${id ? ` id="${id}"` : ""}><span class="label">${escape(label)}</span><span class="value">${escape(value)}</span></div>`;
}

function notice(message, kind = "info") {
  const box = $("#notice");
  box.textContent = message;
  box.className = `notice ${kind}`;
  box.hidden = !message;
}

// THE WALLET

window.addEventListener("eip6963:announceProvider", (event) => {
  const { info, provider } = event.detail;
  if (!state.wallets.some((w) => w.info.uuid === info.uuid)) state.wallets.push({ info, provider });
});

function discover() {
  window.dispatchEvent(new Event("eip6963:requestProvider"));
  if (!state.wallets.length && window.ethereum) {
    state.wallets.push({ info: { name: "browser wallet", uuid: "window.ethereum" }, provider: window.ethereum });
  }
  return state.wallets;
}

async function connect(choice) {
  const wallets = discover();
  if (!wallets.length) {
    notice("No browser wallet found. Install one (MetaMask, Rabby, Frame) and reload.", "error");
    return;
  }
  if (wallets.length > 1 && !choice) {
    const box = $("#wallets");
    box.innerHTML = wallets
      .map((w, i) => `<button type="button" data-wallet="${i}">${escape(w.info.name)}</button>`)
      .join("");
    box.hidden = false;
    return;
  }
  const wallet = choice || wallets[0];
  state.wallet = wallet.provider;
  const [account] = await state.wallet.request({ method: "eth_requestAccounts" });
  await switchChain();
  localStorage.setItem("openkwh.wallet", wallet.info.rdns || wallet.info.uuid);
  setAccount(account);
  state.wallet.on?.("accountsChanged", (accounts) => accounts[0] && setAccount(accounts[0]));
}

async function switchChain() {
  const chainId = "0x" + state.site.chain_id.toString(16);
  try {
    await state.wallet.request({ method: "wallet_switchEthereumChain", params: [{ chainId }] });
  } catch (error) {
    if (error.code !== 4902) throw error;
    await state.wallet.request({
      method: "wallet_addEthereumChain",
      params: [{
        chainId,
        chainName: `OpenKWh (chain ${state.site.chain_id})`,
        rpcUrls: [state.site.rpc_url],
        nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
      }],
    });
  }
}

function setAccount(account) {
  state.account = getAddress(account);
  localStorage.setItem("openkwh.account", state.account);
  $("#account").textContent = short(state.account);
  $("#connect").textContent = state.wallet ? "Connected" : "Connect wallet";
  showHistory();
  render();
}

// WRITING

// The contract's reason, in plain words: "exchange: the market for that interval
// has closed" becomes "The market for that interval has closed."
function plainWords(error) {
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

function contract(name, runner) {
  const { address, abi } = state.site.contracts[name];
  return new Contract(address, abi, runner);
}

// THE HISTORY: each account's transactions, with their outcome, kept in this browser.

const HISTORY = 30;
const historyKey = () => `openkwh.history.${state.account}`;

function history() {
  try {
    return JSON.parse(localStorage.getItem(historyKey()) || "[]");
  } catch {
    return [];
  }
}

function remember(entry) {
  const kept = [{ ...entry }, ...history().filter((e) => e.id !== entry.id)].slice(0, HISTORY);
  localStorage.setItem(historyKey(), JSON.stringify(kept));
  showHistory();
}

function showHistory() {
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
function toast(near, message, kind = "info") {
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
async function send(label, name, method, args, near = null) {
  if (!state.wallet) {
    toast(near, "Connect your wallet first.", "error");
    return null;
  }
  const entry = { id: `${Date.now()}-${Math.random().toString(36).slice(2)}`, label };
  const show = (kind, text) => {
    Object.assign(entry, { kind, text, at: Math.floor(Date.now() / 1000) });
    remember(entry);
    if (near) toast(near, text, kind);
  };
  show("pending", `${label}: waiting for your wallet…`);
  try {
    await switchChain();
    const signer = await new BrowserProvider(state.wallet).getSigner();
    const tx = await contract(name, signer)[method](...args);
    show("pending", `${label}: pending (${short(tx.hash)})`);
    const receipt = await tx.wait();
    show("confirmed", `${label}: confirmed in block ${receipt.blockNumber}`);
    setTimeout(render, 1200); // the indexer needs a moment to see it
    return receipt;
  } catch (error) {
    show("failed", `${label}: failed. ${plainWords(error)}`);
    return null;
  }
}

// An amount typed by a person, with "," or "." as the decimal separator, in base units:
// exact (no floats), or an Error that says what is wrong.
function decimalUnits(text, decimals, what = "The amount") {
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

// MONEY: the Exchange's credit, the operator's ledger, arrears, the token sale

const hasFunction = (name, fn) => state.site.contracts[name].abi.some((item) => item.type === "function" && item.name === fn);

async function depositToLedger(units, form) {
  const ledger = state.site.ledger_token;
  const token = contract("Wallet", new BrowserProvider(state.wallet));
  const balance = await token.balanceOf(state.account);
  if (balance < units) {
    return toast(form, `You hold ${tokens(balance, ledger)}: less than ${tokens(units, ledger)}.`, "error");
  }
  const spender = state.site.contracts.OperatorBackend.address;
  const label = `Deposit ${tokens(units, ledger)}`;
  if ((await token.allowance(state.account, spender)) >= units) {
    return send(label, "OperatorBackend", "deposit", [units], form);
  }
  if (hasFunction("Wallet", "permit") && hasFunction("OperatorBackend", "deposit_with_permit")) {
    // EIP-2612: one signature instead of an approval transaction.
    try {
      const signer = await new BrowserProvider(state.wallet).getSigner();
      const [, name, version, chainId, verifyingContract] = await token.eip712Domain();
      const nonce = await token.nonces(state.account);
      const deadline = BigInt(state.now + 3600);
      toast(form, "Sign the permit in your wallet…", "pending");
      const signature = Signature.from(
        await signer.signTypedData(
          { name, version, chainId, verifyingContract },
          {
            Permit: [
              { name: "owner", type: "address" },
              { name: "spender", type: "address" },
              { name: "value", type: "uint256" },
              { name: "nonce", type: "uint256" },
              { name: "deadline", type: "uint256" },
            ],
          },
          { owner: state.account, spender, value: units, nonce, deadline },
        ),
      );
      return send(`${label} (with a permit)`, "OperatorBackend", "deposit_with_permit",
        [units, deadline, signature.v, signature.r, signature.s], form);
    } catch (error) {
      if (plainWords(error).startsWith("You declined")) return toast(form, plainWords(error), "error");
      // A wallet that cannot sign typed data: approve, then deposit.
    }
  }
  if (!(await send(`Allow the operator to take ${tokens(units, ledger)}`, "Wallet", "approve", [spender, units], form))) return null;
  return send(label, "OperatorBackend", "deposit", [units], form);
}

function moneyJobs(data) {
  const b = data.balances;
  const noWallet = (form) => {
    if (!state.wallet) toast(form, "Connect your wallet first.", "error");
    return !state.wallet;
  };
  const ledger = state.site.ledger_token;
  const credit = $("#withdraw-credit");
  credit.querySelector("p").textContent = BigInt(b.exchange_credit)
    ? `The Exchange holds ${tokens(b.exchange_credit)} of payments and refunds for you.`
    : "No payments or refunds wait on the Exchange.";
  credit.querySelector("button").disabled = !BigInt(b.exchange_credit);
  credit.onsubmit = (event) => {
    event.preventDefault();
    send("Withdraw Exchange credit", "Exchange", "withdraw_credit", [], credit);
  };
  const deposit = $("#deposit");
  deposit.onsubmit = (event) => {
    event.preventDefault();
    if (noWallet(deposit)) return null;
    let units;
    try {
      units = decimalUnits(deposit.amount.value, ledger.decimals);
    } catch (error) {
      return toast(deposit, error.message, "error");
    }
    return depositToLedger(units, deposit).catch((error) => toast(deposit, plainWords(error), "error"));
  };
  const withdraw = $("#withdraw-ledger");
  withdraw.onsubmit = (event) => {
    event.preventDefault();
    let units;
    try {
      units = decimalUnits(withdraw.amount.value, ledger.decimals);
    } catch (error) {
      return toast(withdraw, error.message, "error");
    }
    if (units > BigInt(b.ledger)) {
      return toast(withdraw, `Your ledger holds ${tokens(b.ledger, ledger)}: less than ${tokens(units, ledger)}.`, "error");
    }
    return send(`Withdraw ${tokens(units, ledger)} from the ledger`, "OperatorBackend", "withdraw", [units], withdraw);
  };
  const arrears = $("#claim-arrears");
  arrears.hidden = !BigInt(b.arrears) || !hasFunction("OperatorBackend", "claim_arrears");
  arrears.querySelector("p").textContent = `The operator owes you ${tokens(b.arrears, ledger)} of rewards its treasury could not pay yet.`;
  arrears.onsubmit = (event) => {
    event.preventDefault();
    send("Claim arrears", "OperatorBackend", "claim_arrears", [], arrears);
  };
  const buy = $("#buy-tokens");
  buy.hidden = !data.sale.open;
  const rate = BigInt(data.sale.rate);
  buy.querySelector(".rate").textContent =
    `1 ETH buys ${tokens(rate * 10n ** 18n, ledger)}; ${tokens(data.sale.left, ledger)} left, until ${when(data.sale.ends_at)}.`;
  buy.onsubmit = async (event) => {
    event.preventDefault();
    if (noWallet(buy)) return null;
    let wei;
    try {
      wei = decimalUnits(buy.eth.value, 18, "The ether");
    } catch (error) {
      return toast(buy, error.message, "error");
    }
    const ether = await new BrowserProvider(state.wallet).getBalance(state.account);
    if (wei > ether) return toast(buy, `Your wallet holds ${formatUnits(ether, 18)} ETH.`, "error");
    if (wei * rate > BigInt(data.sale.left)) {
      return toast(buy, `Only ${tokens(data.sale.left, ledger)} are left for sale.`, "error");
    }
    return send(`Buy ${tokens(wei * rate, ledger)}`, "Wallet", "buyTokens", [{ value: wei }], buy);
  };
}

// PAGES

const pages = {
  async dashboard(account) {
    // An account's own figures: a visitor sees none of these sections, not empty ones.
    document.querySelectorAll("section.mine").forEach((section) => (section.hidden = false));
    const period = localStorage.getItem("openkwh.period") || "day";
    const data = await api(`/accounts/${account}/dashboard?period=${period}`);
    const b = data.balances;
    $("#balances").innerHTML =
      card("Wallet", tokens(b.token, state.site.ledger_token)) +
      (state.site.token.address === state.site.ledger_token.address
        ? ""
        : card("Exchange token", tokens(b.settlement_token))) +
      card("Operator ledger", tokens(b.ledger, state.site.ledger_token)) +
      card("Debt", tokens(b.debt, state.site.ledger_token)) +
      card("Exchange credit", tokens(b.exchange_credit)) +
      (BigInt(b.arrears) ? card("Arrears owed to you", tokens(b.arrears, state.site.ledger_token)) : "");
    moneyJobs(data);
    const t = data.traded;
    $("#traded").innerHTML =
      card("Sold", `${kwh(t.sold_wh)} kWh`) +
      card("Delivered", `${kwh(t.delivered_sold_wh)} kWh`) +
      card("Bought", `${kwh(t.bought_wh)} kWh`) +
      card("Received", `${kwh(t.delivered_bought_wh)} kWh`);
    document.querySelectorAll("#periods button").forEach((button) => {
      button.setAttribute("aria-pressed", button.dataset.period === period);
      button.onclick = () => {
        localStorage.setItem("openkwh.period", button.dataset.period);
        render();
      };
    });
    const labels = data.energy.map((e) =>
      period === "hour" ? when(e.start).slice(5, 16) : when(e.start).slice(0, period === "year" ? 4 : period === "month" ? 7 : 10));
    const colour = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    $("#energy-table").innerHTML = table(
      data.energy.map((e, i) => [labels[i], kwh(e.produced_wh), kwh(e.consumed_wh)]),
      [period, "produced, kWh", "consumed, kWh"],
    );
    const canvas = $("#energy-chart");
    Chart.getChart(canvas)?.destroy();
    new Chart(canvas, {
      type: "bar",
      data: {
        labels,
        datasets: [
          { label: "produced, kWh", data: data.energy.map((e) => e.produced_wh / 1000), backgroundColor: colour("--produced") },
          { label: "consumed, kWh", data: data.energy.map((e) => e.consumed_wh / 1000), backgroundColor: colour("--consumed") },
        ],
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false, // the box's CSS height: readable on a phone
        scales: { y: { title: { display: true, text: "kWh" }, beginAtZero: true } },
      },
    });
  },

  async meters(account) {
    const { meters } = await api(`/accounts/${account}/meters`);
    $("#meters").innerHTML = table(
      meters.map((m) => [
        `<code title="${m.meter_id}">${short(m.meter_id)}</code>`,
        escape(m.kind),
        `${escape(m.sector)} ${escape(m.tech_code)} ${escape(m.fuel_code)}`,
        m.capacity_w ? `${(m.capacity_w / 1000).toLocaleString("en")} kW` : "–",
        m.last_end ? when(m.last_end) : "none yet",
        m.last_digest ? `<code title="${m.last_digest}">${short(m.last_digest)}</code>` : "–",
        m.last_cid ? `<code class="cid">${m.last_cid}</code>` : "–",
        m.suspended ? `<span class="bad">suspended: ${escape(m.status_reason)}</span>` : "active",
      ]),
      ["meter", "kind", "sector, technology, fuel", "capacity", "last reading", "data digest", "CID", "state"],
    );
  },

  async market(account) {
    await marketPublic();
    const [{ meters }, { orders }, { deals }] = await Promise.all([
      api(`/accounts/${account}/meters`),
      api(`/accounts/${account}/orders`),
      api(`/accounts/${account}/deals`),
    ]);
    state.meters = meters;
    if (state.hour) await showBook(state.hour);
    const form = $("#order-form");
    form.querySelector(".symbol").textContent = state.site.token.symbol;
    const chosen = form.meter.value;
    form.meter.innerHTML = meters
      .map((m) => `<option value="${m.meter_id}">${short(m.meter_id)} (${escape(m.kind)})</option>`)
      .join("");
    if (meters.some((m) => m.meter_id === chosen)) form.meter.value = chosen;
    // The side follows what the chosen meter can do: a household meter only buys.
    const sideFor = () => {
      const meter = meters.find((m) => m.meter_id === form.meter.value);
      if (meter?.kind === "consumption") form.side.value = "bid";
      if (meter?.kind === "production") form.side.value = "offer";
    };
    if (!form.dataset.wired) sideFor();
    form.dataset.wired = "true";
    form.meter.onchange = sideFor;
    form.onsubmit = (event) => {
      event.preventDefault();
      placeOrder(form);
    };
    const now = state.now;
    const gateClosed = (o) => o.interval_begin - state.leadTime <= now;
    $("#orders").innerHTML = table(
      orders.map((o) => {
        const expired = o.status === "open" && gateClosed(o);
        const what = `${o.is_bid ? "bid" : "offer"} ${o.order_id}, ${when(o.interval_begin)}`;
        let action = "";
        if (o.status === "open" && !expired) {
          action = `<button type="button" data-cancel="${o.order_id}" aria-label="Cancel ${escape(what)}">Cancel</button>`;
        } else if (expired && o.is_bid) {
          action = `<button type="button" data-cancel="${o.order_id}" aria-label="Recover the escrow of ${escape(what)}">Recover escrow</button>`;
        }
        return [
          o.order_id,
          o.is_bid ? "bid" : "offer",
          hourCell(o.interval_begin),
          `${kwh(o.wh)} kWh`,
          escape(perKwh(o.price)),
          expired ? '<span class="muted">expired (gate closed)</span>' : escape(o.status),
          action,
        ];
      }),
      ["order", "side", "hour", "open", "price", "state", ""],
    );
    document.querySelectorAll("[data-cancel]").forEach((button) => {
      button.onclick = () =>
        send(`${button.textContent} of order ${button.dataset.cancel}`, "Exchange", "cancel", [BigInt(button.dataset.cancel)], button.parentElement);
    });
    const terms = (d) => [BigInt(d.order_id), d.seller, d.buyer, d.seller_meter, d.buyer_meter, BigInt(d.interval_begin), BigInt(d.wh), BigInt(d.price), d.retire];
    const settleable = (d) => !d.settled && (d.measured || now >= d.settleable_from);
    $("#deals").innerHTML = table(
      deals.map((d) => [
        d.deal_id,
        d.seller === state.account ? "sold" : "bought",
        hourCell(d.interval_begin),
        `${kwh(d.wh)} kWh`,
        escape(perKwh(d.price)),
        d.settled
          ? `settled: ${kwh(d.delivered_wh)} kWh delivered, ${escape(tokens(d.payment))} paid` +
            (BigInt(d.refund || 0) ? `, <strong>${escape(tokens(d.refund))} refunded</strong>` : "")
          : settleable(d)
            ? `<button type="button" data-settle="${d.deal_id}" aria-label="Settle deal ${d.deal_id}">Settle</button>`
            : d.interval_begin + state.site.interval_length <= now
              ? `awaiting the meter's reading (or until ${when(d.settleable_from)})`
              : "awaiting delivery",
      ]),
      ["deal", "side", "hour", "energy", "price", "settlement"],
    );
    document.querySelectorAll("[data-settle]").forEach((button) => {
      const d = deals.find((x) => String(x.deal_id) === button.dataset.settle);
      button.onclick = () => send(`Settle deal ${d.deal_id}`, "Exchange", "settle", [BigInt(d.deal_id), terms(d)], button.parentElement);
    });
    const all = $("#settle-all");
    const mine = deals.filter(settleable).slice(0, 64); // the Exchange settles at most 64 at once
    all.hidden = mine.length < 2;
    all.textContent = `Settle all ${mine.length} of my deals`;
    all.onclick = () =>
      send(`Settle ${mine.length} deals`, "Exchange", "settle_many", [mine.map((d) => [BigInt(d.deal_id), terms(d)])], all.parentElement);
  },

  async certificates(account) {
    const [data, { meters }] = await Promise.all([
      api(`/accounts/${account}/certificates`),
      api(`/accounts/${account}/meters`),
    ]);
    const consuming = meters.filter((m) => m.kind !== "production");
    // One group per day and producing meter, with its totals; the newest open.
    const groups = new Map();
    for (const c of data.held) {
      const key = `${when(c.interval_begin).slice(0, 10)} ${c.meter_id}`;
      if (!groups.has(key)) groups.set(key, { day: when(c.interval_begin).slice(0, 10), meter: c.meter_id, items: [] });
      groups.get(key).items.push(c);
    }
    const sum = (items, field) => items.reduce((total, c) => total + BigInt(c[field]), 0n);
    const retirable = (c, meter) => {
      const left = BigInt(c.remaining_wh[meter] ?? 0);
      return BigInt(c.wh) < left ? BigInt(c.wh) : left;
    };
    const certificateRow = (c) => {
      const hourOf = escape(when(c.interval_begin));
      const first = consuming.find((m) => BigInt(c.remaining_wh[m.meter_id] ?? 0) > 0n) || consuming[0];
      const choices = consuming
        .map((m) => `<option value="${m.meter_id}"${m === first ? " selected" : ""}>${short(m.meter_id)}</option>`)
        .join("");
      return [
        hourCell(c.interval_begin),
        `${BigInt(c.wh).toLocaleString("en")} Wh`,
        `${BigInt(c.retirable_wh).toLocaleString("en")} Wh`,
        c.revoked
          ? '<span class="bad">revoked</span>'
          : `<form class="inline" data-cert="${c.id}">
               <input name="wh" value="${first ? retirable(c, first.meter_id) : 0}" size="7" aria-label="Wh of the certificate for ${hourOf}">
               <select name="meter" aria-label="against my meter, for ${hourOf}">${choices}</select>
               <button name="retire" type="submit" aria-label="Retire the certificate for ${hourOf}">Retire</button>
               <input name="to" placeholder="0x… recipient" size="14" aria-label="recipient of the certificate for ${hourOf}">
               <button name="transfer" type="submit" aria-label="Transfer the certificate for ${hourOf}">Transfer</button>
             </form>`,
      ];
    };
    $("#held").innerHTML = groups.size
      ? [...groups.values()]
          .map(
            (g, n) => `<details class="group"${n === 0 ? " open" : ""}>
              <summary><strong>${g.day}</strong> · produced by <code title="${g.meter}">${short(g.meter)}</code> ·
                ${g.items.length} ${g.items.length === 1 ? "hour" : "hours"} · ${kwh(sum(g.items, "wh"))} kWh held ·
                ${kwh(sum(g.items, "retirable_wh"))} kWh retirable against your consumption</summary>
              ${table(g.items.map(certificateRow), ["hour", "held", "retirable (your remaining consumption)", "retire against my meter, or transfer (part: a split)"])}
            </details>`,
          )
          .join("")
      : '<p class="muted">Nothing yet.</p>';
    document.querySelectorAll("form[data-cert] select[name=meter]").forEach((select) => {
      const form = select.form;
      const c = data.held.find((x) => x.id === form.dataset.cert);
      select.onchange = () => (form.wh.value = retirable(c, select.value));
    });
    document.querySelectorAll("form[data-cert]").forEach((form) => {
      form.onsubmit = (event) => {
        event.preventDefault();
        const id = BigInt(form.dataset.cert);
        const wh = form.wh.value.trim();
        if (!/^[0-9]+$/.test(wh) || BigInt(wh) === 0n) return notice("Wh must be a whole number above zero.", "error");
        if (event.submitter?.name === "transfer") {
          const to = form.to.value.trim();
          if (!isAddress(to)) return notice(`${to || "The recipient"} is not an Ethereum address.`, "error");
          return send(`Transfer ${wh} Wh`, "GGORegistry", "safeTransferFrom", [state.account, to, id, BigInt(wh), "0x"]);
        }
        if (!form.meter.value) return notice("You have no consuming meter to retire against.", "error");
        return send(`Retire ${wh} Wh`, "GGORegistry", "retire", [id, BigInt(wh), form.meter.value, "0x"]);
      };
    });
    $("#claimable").innerHTML = table(
      data.claimable.map((c) => [
        `<code>${short(BigInt(c.id).toString(16).padStart(64, "0"))}</code>`,
        `${c.wh.toLocaleString("en")} Wh`,
        `<button type="button" data-claim="${c.id}" aria-label="Claim certificate ${short(BigInt(c.id).toString(16).padStart(64, "0"))}">Claim</button>`,
      ]),
      ["certificate", "held for you", ""],
    );
    document.querySelectorAll("[data-claim]").forEach((button) => {
      button.onclick = () => send("Claim certificates", "Exchange", "claim_certificates", [BigInt(button.dataset.claim), state.account]);
    });
    $("#retired").innerHTML = table(
      data.retired.map((r) => [
        `<code>${short(BigInt(r.id).toString(16).padStart(64, "0"))}</code>`,
        when(r.interval_begin),
        `<code>${short(r.consumption_meter_id)}</code>`,
        `${r.wh.toLocaleString("en")} Wh`,
      ]),
      ["certificate", "hour", "against meter", "retired"],
    );
  },

  async operator() {
    const { tariffs } = await api("/tariffs");
    $("#tariffs").innerHTML = table(
      tariffs.map((t) => [
        t.index,
        escape(perKwh(t.retail_price)),
        escape(perKwh(t.feed_in_reward)),
        t.effective_from ? when(t.effective_from) : "the start",
        escape(t.state),
      ]),
      ["tariff", "retail price", "feed-in reward", "from", "state"],
    );
  },

  async emissions(account) {
    // Custom factors are kept per browser; the defaults are shown as values, not hints.
    const form = $("#factors");
    const stored = JSON.parse(localStorage.getItem("openkwh.factors") || "{}");
    const query = new URLSearchParams();
    for (const name of ["location", "residual"]) {
      if (!form[name].value.trim() && stored[name]) form[name].value = stored[name];
      const typed = form[name].value.trim().replace(",", ".");
      if (typed) query.set(name, typed);
    }
    const suffix = query.toString() ? `?${query}` : "";
    const data = await api(`/accounts/${account}/emissions${suffix}`);
    const kg = (grams) => `${(Number(grams) / 1000).toLocaleString("en", { maximumFractionDigits: 3 })} kg CO₂e`;
    $("#emissions").innerHTML =
      card("Consumption", `${kwh(data.consumed_wh)} kWh`) +
      card("Location-based", kg(data.location_based_g), "location-based") +
      card("Market-based", kg(data.market_based_g), "market-based") +
      card("Hourly-matched", `${data.hourly_matched_percent} %`, "matched");
    const [sector, factors] = Object.entries(data.factors)[0] || [];
    const defaults = {};
    if (sector) {
      // The shipped defaults (the factors CSV): the same report without overrides.
      const plain = suffix ? await api(`/accounts/${account}/emissions`) : data;
      const [, base] = Object.entries(plain.factors)[0];
      defaults.location = base.location_g_per_kwh;
      defaults.residual = base.residual_mix_g_per_kwh;
      if (!form.location.value.trim()) form.location.value = defaults.location;
      if (!form.residual.value.trim()) form.residual.value = defaults.residual;
      const custom = ["location", "residual"].some((n) => form[n].value.trim().replace(",", ".") !== defaults[n]);
      $("#factor-source").textContent = custom
        ? `Your own factors, kept in this browser. The defaults for ${sector} (${base.year}): ${base.source}`
        : `${sector}, ${factors.year}: ${factors.source}`;
    }
    $("#csv").href = `/api/v1/accounts/${account}/emissions.csv${suffix}`;
    form.onsubmit = (event) => {
      event.preventDefault();
      const chosen = {};
      for (const name of ["location", "residual"]) {
        const typed = form[name].value.trim().replace(",", ".");
        if (typed && typed !== defaults[name]) chosen[name] = typed;
      }
      if (Object.keys(chosen).length) localStorage.setItem("openkwh.factors", JSON.stringify(chosen));
      else localStorage.removeItem("openkwh.factors");
      render();
    };
    $("#factors-reset").onclick = () => {
      localStorage.removeItem("openkwh.factors");
      form.location.value = "";
      form.residual.value = "";
      render();
    };
  },
};

// The public market: the delivery hours and, for the chosen one, a two-sided book. A
// visitor without a wallet sees it too; it refreshes by polling the index.
async function marketPublic() {
  const { hours, lead_time: leadTime } = await api("/orderbook");
  state.leadTime = leadTime;
  $("#hours").innerHTML = table(
    hours.map((h) => [
      `<a href="#book-title" data-hour="${h.interval_begin}">${hourText(h.interval_begin)}</a>`,
      `${h.offers} (${kwh(h.offered_wh)} kWh)`,
      `${h.bids} (${kwh(h.bid_wh)} kWh)`,
      h.open ? "open" : "closed",
    ]),
    ["hour", "offers", "bids", "market"],
  );
  document.querySelectorAll("[data-hour]").forEach((link) => {
    link.onclick = (event) => {
      event.preventDefault();
      showBook(Number(link.dataset.hour)).catch((error) => notice(error.message, "error"));
    };
  });
  const remembered = Number(sessionStorage.getItem("openkwh.hour"));
  state.hour = hours.some((h) => h.interval_begin === remembered) ? remembered : hours[0]?.interval_begin;
  if (state.hour && !state.account) await showBook(state.hour);
}

const hourText = (unix) => {
  const local = new Date(unix * 1000).toLocaleString(undefined, { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  return `<time datetime="${new Date(unix * 1000).toISOString()}" title="${when(unix)}">${escape(local)}</time>`;
};
const hourCell = hourText;

async function showBook(hour) {
  state.hour = hour;
  sessionStorage.setItem("openkwh.hour", hour);
  const book = await api(`/orderbook?begin=${hour}`);
  $("#book-title").innerHTML = `Order book, ${hourText(hour)} <span class="muted">(${book.open ? "open until " + escape(when(book.gate_closes_at)) : "closed"})</span>`;
  const mine = (state.meters || []).map((m) => `<option value="${m.meter_id}">${short(m.meter_id)}</option>`).join("");
  // Depth: the Wh open at this price or better, counted outward from the spread.
  const depth = (orders) => {
    let total = 0n;
    return orders.map((o) => (total += BigInt(o.wh)));
  };
  const asks = [...book.offers]; // cheapest first
  const askDepth = depth(asks);
  const bidDepth = depth(book.bids); // dearest first
  const row = (o, cumulative) => {
    const own = state.account && o.maker === state.account;
    const side = o.is_bid ? "bid" : "ask";
    return `<tr class="${side}${own ? " own" : ""}">
      <td data-label="side"><span>${side}${own ? ' <span class="badge">yours</span>' : ""}</span></td>
      <td data-label="price">${escape(perKwh(o.price))}</td>
      <td data-label="open">${kwh(o.wh)} kWh</td>
      <td data-label="depth">${kwh(cumulative)} kWh</td>
      <td data-label="">${own || !book.open || !state.account
        ? ""
        : `<form class="inline" data-take="${o.order_id}">
             <input name="wh" value="${o.wh}" size="7" aria-label="Wh to take of order ${o.order_id}">
             <select name="meter" aria-label="my meter for order ${o.order_id}">${mine}</select>
             <button type="submit" aria-label="Take order ${o.order_id}">Take</button>
           </form>`}</td></tr>`;
  };
  const bestAsk = asks[0] && BigInt(asks[0].price);
  const bestBid = book.bids[0] && BigInt(book.bids[0].price);
  const spread = bestAsk !== undefined && bestBid !== undefined
    ? `spread ${escape(perKwh(bestAsk > bestBid ? bestAsk - bestBid : 0n))}`
    : "no spread: one side is empty";
  const rows = [
    ...asks.map((o, i) => row(o, askDepth[i])).reverse(), // asks above, best nearest the spread
    `<tr class="spread"><td colspan="5">${spread}</td></tr>`,
    ...book.bids.map((o, i) => row(o, bidDepth[i])),
  ];
  $("#book").innerHTML = asks.length || book.bids.length
    ? `<table class="book"><thead><tr><th>side</th><th>price</th><th>open</th><th>depth</th><th></th></tr></thead><tbody>${rows.join("")}</tbody></table>`
    : '<p class="muted">No open orders for this hour.</p>';
  document.querySelectorAll("form[data-take]").forEach((form) => {
    const order = [...book.offers, ...book.bids].find((o) => String(o.order_id) === form.dataset.take);
    form.onsubmit = async (event) => {
      event.preventDefault();
      const wh = form.wh.value.trim();
      if (!/^[0-9]+$/.test(wh) || BigInt(wh) === 0n) return toast(form, "Wh must be a whole number above zero.", "error");
      if (!order.is_bid && !(await ensureAllowance(BigInt(wh) * BigInt(order.price), form))) return null;
      return send(`Take ${wh} Wh of order ${order.order_id}`, "Exchange", "take", [
        BigInt(order.order_id), BigInt(wh), BigInt(order.price), BigInt(order.version), form.meter.value,
      ], form);
    };
  });
}

// A price per kWh in tokens, as base units per Wh: exact, or an error.
function unitsPerWh(text, decimals) {
  const units = decimalUnits(text, decimals, "The price");
  if (units % 1000n) throw new Error("The price per kWh must be a whole number of base units per Wh.");
  return units / 1000n;
}

// Before the wallet is asked to pay: the balance must cover it (else a notice and
// false), and the Exchange may take it from the Exchange's own token.
async function ensureAllowance(amount, near = null) {
  const token = contract("SettlementToken", new BrowserProvider(state.wallet));
  const balance = await token.balanceOf(state.account);
  if (balance < amount) {
    toast(near, `This needs ${tokens(amount)}, and your wallet holds ${tokens(balance)}.`, "error");
    return false;
  }
  const spender = state.site.contracts.Exchange.address;
  if ((await token.allowance(state.account, spender)) < amount) {
    const approved = await send(`Allow the Exchange to take ${tokens(amount)}`, "SettlementToken", "approve", [spender, amount], near);
    if (!approved) return false;
  }
  return true;
}

async function placeOrder(form) {
  const side = form.side.value;
  const wh = form.wh.value.trim();
  let price;
  try {
    price = unitsPerWh(form.price.value, state.site.token.decimals);
  } catch (error) {
    return toast(form, error.message, "error");
  }
  if (!form.begin.value) return toast(form, "Pick the delivery hour.", "error");
  const begin = Date.parse(form.begin.value + ":00Z") / 1000;
  const query = new URLSearchParams({ side, account: state.account, meter: form.meter.value, begin, wh, price });
  try {
    await api(`/orders/check?${query}`);
  } catch (error) {
    return toast(form, error.message.charAt(0).toUpperCase() + error.message.slice(1) + ".", "error");
  }
  toast(form, "");
  if (side === "offer") {
    return send(`Offer ${wh} Wh`, "Exchange", "offer", [form.meter.value, BigInt(begin), BigInt(wh), price], form);
  }
  if (!(await ensureAllowance(BigInt(wh) * price, form))) return null;
  return send(`Bid ${wh} Wh`, "Exchange", "bid", [form.meter.value, BigInt(begin), BigInt(wh), price, form.retire.checked], form);
}

async function render() {
  const page = document.body.dataset.page;
  try {
    const status = await api("/status");
    state.now = status.now;
    $("#status").textContent = `chain ${status.chain_id} · indexed to block ${status.indexed_block ?? "–"} · chain time ${when(status.now)}`;
    if (!state.account) {
      notice("Connect your wallet to see your meters, orders and certificates.");
      if (page === "operator") await pages.operator();
      if (page === "market") await marketPublic();
      document.body.dataset.ready = "visitor";
      return;
    }
    notice(""); // the page answered: an earlier message is stale
    await pages[page](state.account);
    document.body.dataset.ready = "true";
  } catch (error) {
    notice(error.message, "error");
  }
}

// The market refreshes itself from the index; not while the user is typing into the book.
function poll() {
  if (document.body.dataset.page !== "market") return;
  setInterval(async () => {
    const typing = ["#book", "#order-form", "#orders", "#deals"].some((s) => $(s).contains(document.activeElement));
    if (document.hidden || typing) return;
    try {
      const status = await api("/status");
      state.now = status.now;
      if (state.account) await pages.market(state.account);
      else await marketPublic();
    } catch {
      // the next round tries again
    }
  }, 4000);
}

async function start() {
  state.site = await api("/site");
  poll();
  $("#connect").onclick = () => connect().catch((error) => notice(plainWords(error), "error"));
  $("#connect").disabled = false; // enabled once it can do something
  $("#wallets").onclick = (event) => {
    const index = event.target.dataset.wallet;
    if (index !== undefined) {
      $("#wallets").hidden = true;
      connect(state.wallets[Number(index)]).catch((error) => notice(plainWords(error), "error"));
    }
  };
  // A wallet connected before answers eth_accounts without asking the user again.
  const remembered = localStorage.getItem("openkwh.wallet");
  const known = discover().find((w) => (w.info.rdns || w.info.uuid) === remembered);
  if (known) {
    const [account] = await known.provider.request({ method: "eth_accounts" }).catch(() => []);
    if (account) {
      state.wallet = known.provider;
      return setAccount(account);
    }
  }
  const viewAs = new URLSearchParams(location.search).get("account") || localStorage.getItem("openkwh.account");
  if (viewAs && isAddress(viewAs)) setAccount(viewAs);
  else render();
}

start();
