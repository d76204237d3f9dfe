/**
 * The cdktf app the benchmarks deploy in their copy of the checkout (its cdktf.json points here instead of
 * main.ts). The images stack is main.ts's ImagesStack; the apps are the same App constructs the apps stack
 * uses (same samples, host networking, security policy), but named `bench-<language>` on ports from 18180, so
 * that their container names, ports and volumes never collide with a concurrent e2e run of main.ts's
 * `sample-<language>` apps.
 *
 * Environment: MODULUS_ROOT_IMAGE, MODULUS_REPOSITORY_PREFIX, MODULUS_VOLUME_ROOT (as main.ts),
 * BENCH_LANGUAGES (comma-separated, default all), BENCH_FIRST_PORT (default 18180),
 * BENCH_NO_CACHE=1 (every docker_image built with `no_cache = true`, through an override of the resource),
 * MODULUS_ROUTER_DOMAIN and MODULUS_ROUTER_HTTP_PORT (as main.ts: a router in front of the apps, each app with
 * health-gated releases in two slots, the second on its port + 100; bench/router.ts sets them).
 */
import * as path from 'path';
import { App as CdktfApp, Aspects } from 'cdktf';
import { ModulusApp } from '../../lib/app';
import { VolumeRemovalPolicy } from '../../lib/app-volume';
import { ContainerSecurityPolicy } from '../../lib/container-policy';
import { ModulusStack } from '../../lib/modulus-stack';
import { NetworkMode } from '../../lib/network-mode';
import { ModulusRouter, ROUTER_IMAGE } from '../../lib/router';
import { Language, LANGUAGES } from '../../lib/standard-images';
import { ImagesStack } from '../../stacks/images-stack';
import { routerFromEnvironment } from '../../stacks/router-settings';

export const BENCH_FIRST_PORT = 18180;

export function benchLanguages(): Language[] {
  const wanted = (process.env.BENCH_LANGUAGES ?? LANGUAGES.join(',')).split(',').filter(Boolean);
  for (const language of wanted) {
    if (!(LANGUAGES as readonly string[]).includes(language)) {
      throw new Error(`BENCH_LANGUAGES: "${language}" is not one of ${LANGUAGES.join(', ')}`);
    }
  }
  return wanted as Language[];
}

export function benchPort(language: Language): number {
  return Number(process.env.BENCH_FIRST_PORT ?? BENCH_FIRST_PORT) + (LANGUAGES as readonly string[]).indexOf(language);
}

/** With the router: the port of the app's second slot (its first slot is on benchPort). */
export function benchStandbyPort(language: Language): number {
  return benchPort(language) + 100;
}

function synth(): void {
  const app = new CdktfApp();
  const routerSettings = routerFromEnvironment(process.env);
  const images = new ImagesStack(app, 'images', {
    rootImage: process.env.MODULUS_ROOT_IMAGE || undefined,
    repositoryPrefix: process.env.MODULUS_REPOSITORY_PREFIX || undefined,
    additionalImages: routerSettings ? [ROUTER_IMAGE] : undefined,
  });
  if (process.env.BENCH_NO_CACHE === '1') {
    for (const image of images.hierarchy.images) image.resource.addOverride('build.no_cache', true);
  }
  const apps = new ModulusStack(app, 'apps');
  const volumeRoot = process.env.MODULUS_VOLUME_ROOT;
  if (!volumeRoot) throw new Error('MODULUS_VOLUME_ROOT must be set for the benchmark apps');
  const router = routerSettings
    ? new ModulusRouter(apps, 'router', { domain: routerSettings.domain, images: images.hierarchy, httpPort: routerSettings.httpPort })
    : undefined;
  for (const language of benchLanguages()) {
    new ModulusApp(apps, `bench-${language}`, {
      appName: `bench-${language}`,
      language,
      source: path.resolve(__dirname, '../../samples', language),
      buildImage: images.hierarchy.image(`build-${language}`).imageId,
      runImage: images.hierarchy.image(`run-${language}`).imageId,
      networkMode: NetworkMode.HOST,
      environment: { MODULUS_SAMPLE: language },
      volume: { hostRoot: `${volumeRoot}/bench-${language}`, removalPolicy: VolumeRemovalPolicy.DESTROY },
      run: { port: benchPort(language) },
      router,
      release: router ? { standbyPort: benchStandbyPort(language), startTimeoutSeconds: 45 } : undefined,
    });
  }
  Aspects.of(apps).add(new ContainerSecurityPolicy());
  app.synth();
}

if (require.main === module) synth();
