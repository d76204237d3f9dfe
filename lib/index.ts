export * from './docker-reference';
export * from './image-hierarchy';
export * from './modulus-image';
export * from './modulus-stack';
export * from './standard-images';
export * from './mermaid';
