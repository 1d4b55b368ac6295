// Drives a running shardvault through the published Dfns TypeScript SDK
// (@dfns/sdk DfnsApiClient + @dfns/sdk-keysigner AsymmetricKeySigner), configured
// only as a Dfns user would: base URL, org id, bearer token, credential id and the
// credential's PKCS#8 PEM private key, all from the environment:
//   SHARDVAULT_BASE_URL, SHARDVAULT_ORG_ID, SHARDVAULT_TOKEN,
//   SHARDVAULT_CREDENTIAL_ID, SHARDVAULT_PRIVATE_KEY
// and loads the SDKs from SHARDVAULT_NODE_PROJECT (a directory where this folder's
// package-lock.json was installed with `npm ci`; default: this folder).
// Lists keys, creates an EdDSA and an ECDSA key, signs a hash with each, creates an
// EthereumSepolia wallet and signs an EIP-191 message with it. Prints one JSON
// object with every answer on stdout (tests/interop/test_interop_dfns_ts.py checks
// the signatures); on an error prints {error: {...}} and exits 1.
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const project = process.env.SHARDVAULT_NODE_PROJECT || fileURLToPath(new URL('.', import.meta.url))
const require = createRequire(join(project, 'package.json'))
const { DfnsApiClient, DfnsError } = require('@dfns/sdk')
const { AsymmetricKeySigner } = require('@dfns/sdk-keysigner')

function env(name) {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set`)
  return value
}

const hex = (bytes) => '0x' + Buffer.from(bytes).toString('hex')

async function main() {
  const signer = new AsymmetricKeySigner({
    credId: env('SHARDVAULT_CREDENTIAL_ID'),
    privateKey: env('SHARDVAULT_PRIVATE_KEY'),
  })
  const dfns = new DfnsApiClient({
    baseUrl: env('SHARDVAULT_BASE_URL'),
    orgId: env('SHARDVAULT_ORG_ID'), // the SDK checks the token's org claim against it
    authToken: env('SHARDVAULT_TOKEN'),
    signer,
  })
  const out = { listedBefore: await dfns.keys.listKeys() }

  out.eddsaKey = await dfns.keys.createKey({ body: { scheme: 'EdDSA', curve: 'ed25519' } })
  out.eddsaHash = hex(randomBytes(32))
  out.eddsaSignature = await dfns.keys.generateSignature({
    keyId: out.eddsaKey.id,
    body: { kind: 'Hash', hash: out.eddsaHash },
  })

  out.ecdsaKey = await dfns.keys.createKey({ body: { scheme: 'ECDSA', curve: 'secp256k1' } })
  out.ecdsaHash = hex(randomBytes(32))
  out.ecdsaSignature = await dfns.keys.generateSignature({
    keyId: out.ecdsaKey.id,
    body: { kind: 'Hash', hash: out.ecdsaHash },
  })

  out.wallet = await dfns.wallets.createWallet({
    body: { network: 'EthereumSepolia', name: 'interop-ts' },
  })
  out.walletMessage = hex(Buffer.from('shardvault interop from TypeScript ' + randomBytes(4).toString('hex')))
  out.walletSignature = await dfns.wallets.generateSignature({
    walletId: out.wallet.id,
    body: { kind: 'Eip191', message: out.walletMessage },
  })

  out.fetchedSignature = await dfns.keys.getSignature({
    keyId: out.ecdsaKey.id,
    signatureId: out.ecdsaSignature.id,
  })
  out.listedAfter = await dfns.keys.listKeys()
  return out
}

try {
  process.stdout.write(JSON.stringify(await main()) + '\n')
} catch (err) {
  const error =
    err instanceof DfnsError
      ? { name: err.name, httpStatus: err.httpStatus, message: err.message, body: err.context?.body, url: err.context?.url }
      : { name: err?.name, message: String(err?.message ?? err) }
  process.stdout.write(JSON.stringify({ error }) + '\n')
  process.exit(1)
}
