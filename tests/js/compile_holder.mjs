// Compiles OpenZeppelin's ERC1155Holder (npm @openzeppelin/contracts) with
// solc-js (npm solc) and prints {"abi": [...], "bytecode": "0x…"} on stdout.
// ERC1155Holder is abstract, so a contract that only inherits it is compiled.
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'

const require = createRequire(import.meta.url)
const solc = require('solc')

const source = `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;
import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";
contract Holder is ERC1155Holder {}
`
const input = {
  language: 'Solidity',
  sources: { 'Holder.sol': { content: source } },
  settings: { evmVersion: 'cancun', outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } } },
}
function findImports(path) {
  try {
    return { contents: readFileSync(require.resolve(path), 'utf8') }
  } catch (error) {
    return { error: `not found: ${path}` }
  }
}
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }))
const errors = (output.errors || []).filter((e) => e.severity === 'error')
if (errors.length) {
  process.stderr.write(errors.map((e) => e.formattedMessage).join('\n'))
  process.exit(1)
}
const holder = output.contracts['Holder.sol'].Holder
process.stdout.write(JSON.stringify({ abi: holder.abi, bytecode: '0x' + holder.evm.bytecode.object }) + '\n')
