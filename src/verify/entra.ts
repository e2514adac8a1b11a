// Microsoft Entra bearer tokens on Event Grid deliveries: tenant issuers, audience, the Event Grid app and role.
import { decodeJwt } from 'jose'
import type { VerifyConfig } from '../config/schema.js'
import { RelayError } from '../errors.js'
import { createJwtVerifier, type JwtConfig, type JwtDeps } from './jwt.js'
import type { Verified, Verifier, VerifyInput } from './types.js'
import { header } from './types.js'

/** The `entra` block of an `azure-event-grid` source. */
export type EntraConfig = NonNullable<Extract<VerifyConfig, { type: 'azure-event-grid' }>['entra']>

/** The issuers a tenant's tokens may name: v1 (`sts.windows.net`) and v2 (`<authorityHost>/<tenant>/v2.0`). */
export function entraIssuers(c: EntraConfig): string[] {
  const host = c.authorityHost.replace(/\/+$/, '')
  return c.issuers ?? [`https://sts.windows.net/${c.tenantId}/`, `${host}/${c.tenantId}/v2.0`]
}

/** The tenant's JWKS URL: configured, or `<authorityHost>/<tenant>/discovery/v2.0/keys`. */
export function entraJwksUrl(c: EntraConfig): string {
  return c.jwksUrl ?? `${c.authorityHost.replace(/\/+$/, '')}/${c.tenantId}/discovery/v2.0/keys`
}

/**
 * Checks `Authorization: Bearer <Entra token>` with the jwt verifier (jose, the JWKS cache refetched on an
 * unknown kid, issuer, audience, expiry), then the claims Entra adds: `appid` (v1) or `azp` (v2) is the
 * Event Grid application, `roles` holds the subscriber role, and `exp` is present. Returns the body as
 * JSON and which key verified.
 */
export function createEntraVerifier(c: EntraConfig, deps: JwtDeps = {}): Verifier {
  const jwtConfig: JwtConfig = {
    type: 'jwt',
    in: 'header',
    issuer: entraIssuers(c),
    audience: c.audience,
    jwksUrl: entraJwksUrl(c),
    algorithms: c.algorithms,
    claims: {},
    clockToleranceSeconds: c.clockToleranceSeconds,
    requireIssuedAt: true,
    requireExpiry: true,
    keyManagementAlgorithms: [],
    contentEncryptionAlgorithms: [],
  }
  const jwt = createJwtVerifier(jwtConfig, deps)
  const appIds = new Set(c.appIds)
  return {
    async verify(input: VerifyInput): Promise<Verified> {
      const verified = await jwt.verify(input)
      // Verified just above: reading the claims again is reading trusted ones.
      const token = /^bearer[ \t]+(\S+)/i.exec(header(input.headers, 'authorization') ?? '')?.[1] ?? ''
      const claims = decodeJwt(token)
      if (typeof claims.exp !== 'number') throw new RelayError('ERR_CLAIM_MISMATCH', 'required claim missing')
      const app = typeof claims.appid === 'string' ? claims.appid : claims.azp
      if (typeof app !== 'string' || !appIds.has(app))
        throw new RelayError('ERR_CLAIM_MISMATCH', 'token is not from the Event Grid application')
      const roles = Array.isArray(claims.roles) ? claims.roles : []
      if (!roles.includes(c.role))
        throw new RelayError('ERR_CLAIM_MISMATCH', 'token lacks the subscriber role')
      return verified
    },
    close: () => jwt.close?.(),
  }
}
