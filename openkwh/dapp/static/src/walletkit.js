// ethers.js's provider, contract and signature classes: what talking to the wallet
// needs. Only a transaction or a balance read from the wallet loads this chunk, so a
// first visit parses none of it (wallet.js imports it on demand).

export { BrowserProvider, Contract, Signature } from "ethers";
