import { IConstruct } from 'constructs';
import type { ReleaseOptions } from '../release';
import { hostPattern } from './host-rules';
import { invalid, requireLiteral, validateInteger } from './validation';

/** ReleaseOptions, validated and with their defaults. */
export interface ReleaseSettings {
  readonly healthCheckPath: string;
  readonly healthyStatus: number;
  readonly intervalMillis: number;
  readonly timeoutMillis: number;
  readonly startTimeoutSeconds: number;
  readonly drainSeconds: number;
  readonly standbyPort: number;
  readonly standbyHostPort?: number;
}

export function releaseSettings(scope: IConstruct, options: ReleaseOptions, port: number): ReleaseSettings {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalid(scope, 'release', options, 'give ReleaseOptions, e.g. { healthCheckPath: "/health" }');
  }
  const healthCheckPath = options.healthCheckPath ?? '/';
  requireLiteral(scope, 'release.healthCheckPath', healthCheckPath);
  if (typeof healthCheckPath !== 'string' || !hostPattern('HEALTH_PATH_PATTERN').test(healthCheckPath) || healthCheckPath.length > 200) {
    throw invalid(scope, 'release.healthCheckPath', healthCheckPath, "give a URL path of at most 200 characters: start with '/', no spaces or quotes");
  }
  const standbyPort = validateInteger(scope, 'release.standbyPort', options.standbyPort ?? (port < 65535 ? port + 1 : port - 1), 1, 65535);
  if (standbyPort === port) throw invalid(scope, 'release.standbyPort', standbyPort, `give a port other than run.port (${port})`);
  const intervalMillis = validateInteger(scope, 'release.healthCheckIntervalMillis', options.healthCheckIntervalMillis ?? 1000, 100, 60000);
  return {
    healthCheckPath,
    healthyStatus: validateInteger(scope, 'release.healthyStatus', options.healthyStatus ?? 200, 100, 599),
    intervalMillis,
    timeoutMillis: validateInteger(scope, 'release.healthCheckTimeoutMillis', options.healthCheckTimeoutMillis ?? 2000, 100, 60000),
    startTimeoutSeconds: validateInteger(scope, 'release.startTimeoutSeconds', options.startTimeoutSeconds ?? 120, 1, 3600),
    drainSeconds: validateInteger(scope, 'release.drainSeconds', options.drainSeconds ?? 10, 0, 3600),
    standbyPort,
    standbyHostPort:
      options.standbyHostPort === undefined ? undefined : validateInteger(scope, 'release.standbyHostPort', options.standbyHostPort, 1, 65535),
  };
}
