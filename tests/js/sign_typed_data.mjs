// An independent EIP-712 signer for the interoperability tests: MetaMask's own
// eth-sig-util (signTypedData V4), the code behind eth_signTypedData_v4 in the
// browser wallet. Reads {"privateKey": "0x…", "typedData": {…}} on stdin and
// prints the 65-byte signature as 0x-prefixed hex.
import { SignTypedDataVersion, signTypedData } from '@metamask/eth-sig-util'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const { privateKey, typedData } = JSON.parse(Buffer.concat(chunks).toString('utf8'))
const signature = signTypedData({
  privateKey: Buffer.from(privateKey.replace(/^0x/, ''), 'hex'),
  data: typedData,
  version: SignTypedDataVersion.V4,
})
process.stdout.write(signature + '\n')
