// The OpenKWh dApp in the browser: reads everything from /api/v1, and sends
// every transaction through the user's own wallet (EIP-1193, found through
// EIP-6963 discovery) with ethers.js. No key ever reaches the server.
// This entry draws the page it is on; esbuild bundles it with its modules.

import { getAddress, isAddress } from "ethers/address";
import { api } from "./api.js";
import { plainWords, short, when } from "./format.js";
import { certificates } from "./pages/certificates.js";
import { dashboard } from "./pages/dashboard.js";
import { emissions } from "./pages/emissions.js";
import { market, marketPublic } from "./pages/market.js";
import { meters } from "./pages/meters.js";
import { notifications, refreshUnread } from "./pages/notifications.js";
import { operator } from "./pages/operator.js";
import { $, state } from "./state.js";
import { notice, showHistory } from "./transactions.js";
import { connect, discover } from "./wallet.js";

const pages = { dashboard, meters, market, certificates, operator, emissions, notifications };

function setAccount(account) {
  state.account = getAddress(account);
  localStorage.setItem("openkwh.account", state.account);
  $("#account").textContent = short(state.account);
  $("#connect").textContent = state.wallet ? "Connected" : "Connect wallet";
  showHistory();
  render();
}

// The first status is asked together with the site, not after it.
let firstStatus = api("/status");
firstStatus.catch(() => {}); // render() reports a failure where the user looks

async function render() {
  const page = document.body.dataset.page;
  try {
    const status = await (firstStatus || api("/status"));
    firstStatus = null;
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
    await Promise.all([pages[page](state.account), refreshUnread(state.account)]);
    document.body.dataset.ready = "true";
  } catch (error) {
    notice(error.message, "error");
  }
}

// The market refreshes itself from the index; not while the user is typing into the book.
function poll() {
  if (document.body.dataset.page !== "market") return;
  setInterval(async () => {
    const typing = ["#book", "#order-form", "#orders", "#deals", "#standing"].some((s) => $(s).contains(document.activeElement));
    if (document.hidden || typing) return;
    try {
      const status = await api("/status");
      state.now = status.now;
      if (state.account) await Promise.all([pages.market(state.account), refreshUnread(state.account)]);
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

state.render = render;
state.setAccount = setAccount;
start();