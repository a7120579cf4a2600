// What every module shares: the site (chain, contracts, tokens), the account and its
// wallet, and a way to draw the page again without importing the page loop.

export const state = { site: null, account: null, wallet: null, wallets: [], render: () => {}, setAccount: () => {} };
export const $ = (selector) => document.querySelector(selector);
export const rerender = () => state.render();
