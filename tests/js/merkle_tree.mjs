// The peer of the Merkle tests and benches: OpenZeppelin's own
// StandardMerkleTree (npm @openzeppelin/merkle-tree), as any client builds
// and proves a published root. Reads {"types": [...], "values": [[...], ...],
// "multiproof": [indexes] (optional)} on stdin, numbers as decimal strings and
// bytes as 0x-hex; prints {"root", "proofs" (one per value, in input order),
// "multiproof" ({leaves, proof, proofFlags}, when asked), "dump" (the
// library's tree.dump(), the tree file `openkwh data-hub` reads)} as JSON.
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const { types, values, multiproof } = JSON.parse(Buffer.concat(chunks).toString('utf8'))
const tree = StandardMerkleTree.of(values, types)
const proofs = values.map((_, index) => tree.getProof(index))
for (const [index, value] of values.entries()) {
  if (!StandardMerkleTree.verify(tree.root, types, value, proofs[index])) {
    throw new Error(`the library refuses its own proof of value ${index}`)
  }
}
const result = { root: tree.root, proofs, dump: tree.dump() }
if (multiproof) result.multiproof = tree.getMultiProof(multiproof)
process.stdout.write(JSON.stringify(result) + '\n')
