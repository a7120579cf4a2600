// Calls contract views with ethers (npm) and prints each result's toObject():
// the fields by the names the ABI gives them. Reads on stdin
// {"url": ..., "calls": [{"address", "abi", "function", "args"}]} and prints a
// JSON list of objects (integers as decimal strings).
import { readFileSync } from 'node:fs'
import { Contract, JsonRpcProvider } from 'ethers'

const request = JSON.parse(readFileSync(0, 'utf8'))
const provider = new JsonRpcProvider(request.url, undefined, { staticNetwork: true })
const results = []
for (const call of request.calls) {
  const contract = new Contract(call.address, call.abi, provider)
  const fragment = contract.interface.getFunction(call.function)
  const result = await contract[call.function].staticCallResult(...call.args)
  // A view that returns one struct: its fields; several values: theirs.
  const value = fragment.outputs.length === 1 && fragment.outputs[0].type === 'tuple' ? result[0] : result
  results.push(value.toObject(true))
}
process.stdout.write(JSON.stringify(results, (_, v) => (typeof v === 'bigint' ? v.toString() : v)) + '\n')
