/** The props BuildJob and RunContainer share, validated the same way. */
import { IConstruct } from 'constructs';
import { NetworkMode } from '../network-mode';
import { Language } from '../standard-images';
import { validateLanguage } from './names';
import { invalid, validateEnum, validateInteger } from './validation';

export interface ContainerPropsLike {
  readonly volume: unknown;
  readonly image: string;
  readonly language: string;
  readonly memoryMiB?: number;
  readonly networkMode?: NetworkMode;
}

export function validateContainerProps<V>(
  scope: IConstruct,
  props: ContainerPropsLike & { readonly volume: V },
  defaultMemoryMiB: number,
): { volume: V; language: Language; memory: number; networkMode: NetworkMode } {
  // AppVolume is checked structurally, by the members BuildJob and RunContainer use.
  const volume = props.volume as any;
  if (!volume || typeof volume.hostPath !== 'string' || typeof volume._scriptStep !== 'function') {
    throw invalid(scope, 'volume', props.volume, 'give an AppVolume');
  }
  const language = validateLanguage(scope, 'language', props.language);
  if (typeof props.image !== 'string' || props.image.trim() === '') {
    throw invalid(scope, 'image', props.image, 'give a non-empty image id or reference (e.g. modulusImage.imageId)');
  }
  const memory = validateInteger(scope, 'memoryMiB', props.memoryMiB ?? defaultMemoryMiB, 64, 1024 * 1024);
  const networkMode = validateEnum(scope, 'networkMode', props.networkMode ?? NetworkMode.BRIDGE, NetworkMode, 'NetworkMode');
  return { volume: props.volume, language, memory, networkMode };
}
