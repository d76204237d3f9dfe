import { invalidSetting } from '../lib/errors';
import { AppsStackRouter } from './apps-stack';

/**
 * The apps stack's router from the environment (main.ts), or undefined without MODULUS_ROUTER_DOMAIN:
 * - MODULUS_ROUTER_DOMAIN       the apps answer at `<app>.<domain>`
 * - MODULUS_ROUTER_HTTP_PORT    its HTTP port (default 18000)
 * - MODULUS_ROUTER_HTTPS_PORT   its HTTPS port (default 18443)
 * - MODULUS_ROUTER_TLS          'on': HTTPS with the sensitive variables router_tls_certificate and
 *                               router_tls_private_key (TF_VAR_router_tls_certificate, TF_VAR_router_tls_private_key)
 * - MODULUS_ROUTER_MAINTENANCE  a JSON object: app name → maintenance message, e.g. {"sample-static":"Back at 10:00"}
 * The values themselves are validated by the constructs.
 */
export function routerFromEnvironment(env: NodeJS.ProcessEnv): AppsStackRouter | undefined {
  const domain = env.MODULUS_ROUTER_DOMAIN || undefined;
  const set = ['MODULUS_ROUTER_HTTP_PORT', 'MODULUS_ROUTER_HTTPS_PORT', 'MODULUS_ROUTER_TLS', 'MODULUS_ROUTER_MAINTENANCE'].filter((name) => env[name]);
  if (!domain) {
    if (set.length > 0) throw invalidSetting(set[0], env[set[0]], 'set MODULUS_ROUTER_DOMAIN too: without it there is no router');
    return undefined;
  }
  const port = (name: string) => (env[name] ? Number(env[name]) : undefined);
  const tls = env.MODULUS_ROUTER_TLS || 'off';
  if (tls !== 'on' && tls !== 'off') throw invalidSetting('MODULUS_ROUTER_TLS', tls, "use 'on' or 'off' (default)");
  let maintenance: Record<string, string> | undefined;
  if (env.MODULUS_ROUTER_MAINTENANCE) {
    try {
      maintenance = JSON.parse(env.MODULUS_ROUTER_MAINTENANCE);
    } catch {
      maintenance = undefined;
    }
    if (typeof maintenance !== 'object' || maintenance === null || Array.isArray(maintenance)) {
      throw invalidSetting('MODULUS_ROUTER_MAINTENANCE', env.MODULUS_ROUTER_MAINTENANCE, 'give a JSON object of app name to message, e.g. {"sample-static":"Back at 10:00"}');
    }
  }
  return {
    domain,
    httpPort: port('MODULUS_ROUTER_HTTP_PORT'),
    httpsPort: port('MODULUS_ROUTER_HTTPS_PORT'),
    tls: tls === 'on',
    maintenance,
  };
}
