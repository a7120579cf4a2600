// The dashboard: balances, the money jobs, energy per period as a chart and a table,
// and what was traded.

import { formatUnits } from "ethers/utils";
import { api } from "../api.js";
import { card, decimalUnits, kwh, plainWords, table, tokens, when } from "../format.js";
import { $, rerender, state } from "../state.js";
import { notice, send, toast } from "../transactions.js";
import { contract, hasFunction, reader, walletkit } from "../wallet.js";

// MONEY: the Exchange's credit, the operator's ledger, arrears, the token sale

async function depositToLedger(units, form) {
  const ledger = state.site.ledger_token;
  const token = await contract("Wallet", await reader());
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
      const signer = await (await reader()).getSigner();
      const { Signature } = await walletkit();
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
    const ether = await (await reader()).getBalance(state.account);
    if (wei > ether) return toast(buy, `Your wallet holds ${formatUnits(ether, 18)} ETH.`, "error");
    if (wei * rate > BigInt(data.sale.left)) {
      return toast(buy, `Only ${tokens(data.sale.left, ledger)} are left for sale.`, "error");
    }
    return send(`Buy ${tokens(wei * rate, ledger)}`, "Wallet", "buyTokens", [{ value: wei }], buy);
  };
}

// The bars, drawn with Chart.js: a chunk of its own that only this page loads, once its
// figures are on screen (the same numbers are in the table), so loading and running
// Chart.js does not hold up the first paint. The chart's box says which period it shows.
async function drawChart(period, labels, energy) {
  const { Chart } = await import("../charting.js");
  const colour = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  const canvas = $("#energy-chart");
  Chart.getChart(canvas)?.destroy();
  new Chart(canvas, {
    type: "bar",
    data: {
      labels,
      datasets: [
        { label: "produced, kWh", data: energy.map((e) => e.produced_wh / 1000), backgroundColor: colour("--produced") },
        { label: "consumed, kWh", data: energy.map((e) => e.consumed_wh / 1000), backgroundColor: colour("--consumed") },
      ],
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false, // the box's CSS height: readable on a phone
      scales: { y: { title: { display: true, text: "kWh" }, beginAtZero: true } },
    },
  });
  canvas.parentElement.dataset.drawn = period;
}

export async function dashboard(account) {
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
      rerender();
    };
  });
  const labels = data.energy.map((e) =>
    period === "hour" ? when(e.start).slice(5, 16) : when(e.start).slice(0, period === "year" ? 4 : period === "month" ? 7 : 10));
  $("#energy-table").innerHTML = table(
    data.energy.map((e, i) => [labels[i], kwh(e.produced_wh), kwh(e.consumed_wh)]),
    [period, "produced, kWh", "consumed, kWh"],
  );
  drawChart(period, labels, data.energy).catch((error) => notice(`The chart could not be drawn: ${plainWords(error)}`, "error"));
}
