// The files a relay and its notifier read to reach the Kubernetes stand-in: its CA, two service-account tokens, a kubeconfig.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { stringify } from 'yaml'
import type { FakeKubeApi } from './fake-kube-api.js'

/** Where `writeKubeFiles` put them, and the relay's token. */
export interface KubeFiles {
  /** The CA of the stand-in's TLS certificate (`ca.crt`). */
  caFile: string
  /** The relay's service-account token (vault-relay/vault-relay), `relay-sa-token`. */
  relayTokenFile: string
  relayToken: string
  /** The notifier's token for the relay (vault-relay/vault-relay-watch), `watch-token`. */
  watchTokenFile: string
  /** A kubeconfig for the stand-in with its API token, `kubeconfig`. */
  kubeconfig: string
}

/** Writes the files into `dir`, with `caPem` the CA the stand-in's certificate was issued by. */
export async function writeKubeFiles(dir: string, kube: FakeKubeApi, caPem: string): Promise<KubeFiles> {
  const files: KubeFiles = {
    caFile: join(dir, 'ca.crt'),
    relayTokenFile: join(dir, 'relay-sa-token'),
    relayToken: await kube.token({ namespace: 'vault-relay', serviceAccount: 'vault-relay' }),
    watchTokenFile: join(dir, 'watch-token'),
    kubeconfig: join(dir, 'kubeconfig'),
  }
  writeFileSync(files.caFile, caPem)
  writeFileSync(files.relayTokenFile, files.relayToken)
  writeFileSync(
    files.watchTokenFile,
    await kube.token({ namespace: 'vault-relay', serviceAccount: 'vault-relay-watch' }),
  )
  writeFileSync(
    files.kubeconfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'fake',
          cluster: { server: kube.url, 'certificate-authority-data': Buffer.from(caPem).toString('base64') },
        },
      ],
      users: [{ name: 'watch', user: { token: kube.apiToken } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'watch' } }],
      'current-context': 'fake',
    }),
  )
  return files
}
