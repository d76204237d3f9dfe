/**
 * The package entry point: the constructs, their props and the types and constants those props use. Helpers
 * (parsers, name builders, the reference grammar, the Mermaid renderer) stay in their modules.
 */
export { AppInstance, ModulusApp, ModulusAppProps } from './app';
export { AppVolume, AppVolumeOptions, AppVolumeProps, VolumeRemovalPolicy } from './app-volume';
export { DEFAULT_VOLUME_HOST_ROOT, LvmThinPool, VolumeBackend } from './volume-storage';
export { BuildJob, BuildJobOptions, BuildJobProps } from './build-job';
export {
  CONTAINER_POLICY_RULES,
  ContainerPolicyLevel,
  ContainerPolicyRule,
  ContainerSecurityPolicy,
  ContainerSecurityPolicyProps,
} from './container-policy';
export { invalidProp, invalidSetting, ValidationError } from './errors';
export { DockerHost, DockerHostProps, ImageRemovalPolicy, DockerHostTls, HostVolumeSettings, SshProvisioning } from './docker-host';
export { DEFAULT_ROOT_IMAGE, ImageDefinition, ImageHierarchy, ImageHierarchyProps } from './image-hierarchy';
export {
  ImageRegistry,
  ImageRegistryProps,
  PulledImage,
  PulledImageProps,
  PushedHierarchy,
  PushedHierarchyProps,
  PushedImage,
  PushedImageProps,
  RegistryProtocol,
} from './image-registry';
export { ModulusImage, ModulusImageProps } from './modulus-image';
export { DEFAULT_DOCKER_HOST, ModulusStack, ModulusStackProps, PROVIDER_VERSIONS } from './modulus-stack';
export { NetworkMode } from './network-mode';
export { ReleaseOptions, ReplicaOptions } from './release';
export { ModulusRouter, ModulusRouterProps, ROUTER_CONTAINER_NAME, ROUTER_HEALTH_PATH, ROUTER_IMAGE, RouteOptions, RouteRelease, RouterTls } from './router';
export {
  AdditionalPort,
  ContainerMount,
  HttpHealthCheck,
  PortPublication,
  RestartPolicy,
  RunContainer,
  RunContainerOptions,
  RunContainerProps,
} from './run-container';
export {
  DEFAULT_REPOSITORY_PREFIX,
  DEFAULT_TAG,
  ImageSpec,
  Language,
  LANGUAGES,
  PARENT_BUILD_ARG,
  STANDARD_IMAGES,
} from './standard-images';
export {
  DEFAULT_PG_SCHEMA_PREFIX,
  LocalStateBackend,
  PgStateBackend,
  StateBackend,
  StateBackendFactory,
  StateBackendType,
} from './state-backend';
