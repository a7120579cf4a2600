// The wallet: found through EIP-6963 discovery (or window.ethereum), on the site's chain.
// Every write is signed there; no key ever reaches the page or the server.

import { escape } from "./format.js";
import { $, state } from "./state.js";
import { notice } from "./transactions.js";

// THE WALLET

window.addEventListener("eip6963:announceProvider", (event) => {
  const { info, provider } = event.detail;
  if (!state.wallets.some((w) => w.info.uuid === info.uuid)) state.wallets.push({ info, provider });
});

export function discover() {
  window.dispatchEvent(new Event("eip6963:requestProvider"));
  if (!state.wallets.length && window.ethereum) {
    state.wallets.push({ info: { name: "browser wallet", uuid: "window.ethereum" }, provider: window.ethereum });
  }
  return state.wallets;
}

export async function connect(choice) {
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
  state.setAccount(account);
  state.wallet.on?.("accountsChanged", (accounts) => accounts[0] && state.setAccount(accounts[0]));
}

export async function switchChain() {
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

// ethers' provider and contract classes, loaded the first time the wallet is used.
export const walletkit = () => import("./walletkit.js");

export async function contract(name, runner) {
  const { Contract } = await walletkit();
  const { address, abi } = state.site.contracts[name];
  return new Contract(address, abi, runner);
}

// The wallet as an ethers provider: for its signer, or a read the index cannot answer.
export async function reader() {
  const { BrowserProvider } = await walletkit();
  return new BrowserProvider(state.wallet);
}
export const hasFunction = (name, fn) => state.site.contracts[name].abi.some((item) => item.type === "function" && item.name === fn);
