import * as fs from 'fs';
import * as path from 'path';
import { App, Testing } from 'cdktf';
import { Image } from '@cdktf/provider-docker/lib/image';
import { DockerProvider } from '@cdktf/provider-docker/lib/provider';
import { ImageHierarchy, ModulusImage, ModulusStack, STANDARD_IMAGES } from '../../lib';
import { REFERENCE_HELP } from '../../lib/docker-reference';
import { hierarchyToMermaid } from '../../lib/mermaid';
import { ImagesStack } from '../../stacks/images-stack';
import { tempDir } from './support/temp';
import { addImageFolder, imageResource, makeImagesDirectory, resourceKey, synthImages } from './support/fixtures';

describe('ImageHierarchy: the standard tree', () => {
  const { stack, json, raw } = synthImages({ rootImage: 'modulus/root:bookworm' });

  it('creates one docker_image per standard image', () => {
    expect(Object.keys(json.resource.docker_image).sort()).toHaveLength(STANDARD_IMAGES.length);
    expect(stack.hierarchy.names).toEqual(STANDARD_IMAGES.map((image) => image.name).sort());
    expect(Testing.toHaveResource(raw, Image.tfResourceType)).toBe(true);
  });

  it('builds base FROM the root image and every other image FROM its parent', () => {
    expect(imageResource(json, 'base').build.build_args).toEqual({ BASE_IMAGE: 'modulus/root:bookworm' });
    for (const spec of STANDARD_IMAGES.filter((image) => image.parent)) {
      expect(imageResource(json, spec.name).build.build_args).toEqual({ BASE_IMAGE: `modulus/${spec.parent}:latest` });
    }
  });

  it('orders each child after its parent and rebuilds it when the parent image id changes', () => {
    for (const spec of STANDARD_IMAGES.filter((image) => image.parent)) {
      expect(imageResource(json, spec.name).triggers.parent).toBe(
        `\${docker_image.${resourceKey(json, spec.parent!)}.image_id}`,
      );
    }
    expect(imageResource(json, 'base').triggers.parent).toBe('modulus/root:bookworm');
  });

  it('rebuilds an image when a file of its folder changes, and only that image', () => {
    const imagesDirectory = makeImagesDirectory();
    const before = synthImages({ imagesDirectory }).json;
    fs.appendFileSync(path.join(imagesDirectory, 'run-node', 'Dockerfile'), 'LABEL changed=yes\n');
    const after = synthImages({ imagesDirectory }).json;
    const changed = STANDARD_IMAGES.map((image) => image.name).filter(
      (name) => imageResource(before, name).triggers.context_sha256 !== imageResource(after, name).triggers.context_sha256,
    );
    expect(changed).toEqual(['run-node']);
    expect(imageResource(after, 'run-node').build.context).not.toBe(imageResource(before, 'run-node').build.context);
  });

  it('treats a renamed file or a flipped executable bit as a change', () => {
    const imagesDirectory = makeImagesDirectory(['base']);
    const script = path.join(imagesDirectory, 'base', 'tool.sh');
    fs.writeFileSync(script, 'echo hi\n');
    const hash = () => synthImages({ images: [{ name: 'base' }], imagesDirectory }).stack.hierarchy.image('base').contextHash;
    const original = hash();
    fs.chmodSync(script, 0o755);
    const executable = hash();
    fs.renameSync(script, path.join(imagesDirectory, 'base', 'renamed.sh'));
    expect(new Set([original, executable, hash()]).size).toBe(3);
  });

  it('keys each image Hierarchy_<name>_Image_<hash>, its docker_image, with a moved block from its address before the PascalCase ids', () => {
    const keys = Object.keys(json.resource.docker_image).sort();
    expect(keys.map((key) => key.replace(/_[0-9A-F]{8}$/, ''))).toEqual(
      STANDARD_IMAGES.map((image) => `Hierarchy_${image.name}_Image`).sort(),
    );
    for (const key of keys) expect(key).toMatch(/^Hierarchy_[a-z-]+_Image_[0-9A-F]{8}$/);
    const moved = (json as any).moved as Array<{ from: string; to: string }>;
    expect(moved.map((move) => move.to).sort()).toEqual(keys.map((key) => `docker_image.${key}`));
    for (const { from, to } of moved) {
      const name = /^docker_image\.Hierarchy_([a-z-]+)_Image_[0-9A-F]{8}$/.exec(to)![1];
      expect(from).toMatch(new RegExp(`^docker_image\\.hierarchy_${name}_image_[0-9A-F]{8}$`));
    }
    expect(stack.hierarchy.image('base').node.defaultChild).toBe(stack.hierarchy.image('base').resource);
  });

  it('keeps the asset folders of the build contexts under their previous names (a new path would rebuild every image)', () => {
    for (const spec of STANDARD_IMAGES) {
      expect(imageResource(json, spec.name).build.context).toMatch(new RegExp(`^assets/hierarchy_${spec.name}_context_[0-9A-F]{8}/[0-9A-F]{32}$`));
    }
  });

  it('packages each folder as a relative asset path inside cdktf.out', () => {
    for (const resource of Object.values(json.resource.docker_image)) {
      expect(resource.build.context).toMatch(/^assets\/[\w-]+\/[0-9A-F]{32}$/);
    }
  });

  it('builds with host networking and removes images on destroy by default, even while containers run them', () => {
    expect(imageResource(json, 'run-php').build.network_mode).toBe('host');
    expect(imageResource(json, 'run-php').keep_locally).toBe(false);
    expect(imageResource(json, 'run-php').force_remove).toBe(true);
  });

  it('requires exactly the docker and null versions the bindings were generated from', () => {
    expect(json.terraform.required_providers).toEqual({
      docker: { source: 'kreuzwerker/docker', version: '3.6.2' },
      null: { source: 'hashicorp/null', version: '3.2.4' },
    });
  });

  it('keeps state in a local backend at a relative path', () => {
    expect(json.terraform.backend).toEqual({ local: { path: '../../../terraform.images.tfstate' } });
  });

  it('talks to the local Docker socket unless told otherwise', () => {
    expect(Testing.toHaveProviderWithProperties(raw, DockerProvider.tfResourceType, { host: 'unix:///var/run/docker.sock' })).toBe(true);
    const other = synthImages({ dockerHost: 'tcp://127.0.0.1:2375' }).raw;
    expect(Testing.toHaveProviderWithProperties(other, DockerProvider.tfResourceType, { host: 'tcp://127.0.0.1:2375' })).toBe(true);
  });

  it('defaults the root image to public Debian', () => {
    expect(imageResource(synthImages().json, 'base').build.build_args.BASE_IMAGE).toBe('debian:bookworm-slim');
  });

  it('looks images up by name and lists the known ones when asked for an unknown one', () => {
    expect(stack.hierarchy.image('run-java')).toBeInstanceOf(ModulusImage);
    expect(stack.hierarchy.image('run-java').parentImage).toBe(stack.hierarchy.image('run-base'));
    expect(() => stack.hierarchy.image('run-cobol')).toThrow(
      new Error(`images/Hierarchy: invalid image name 'run-cobol': give one of the images: ${stack.hierarchy.names.join(', ')}`),
    );
    expect(stack.hierarchy.names.join(', ')).toMatch(/^base, build-base, /);
  });
});

describe('ImageHierarchy: extension', () => {
  it('adds a language as one entry plus one folder', () => {
    const imagesDirectory = makeImagesDirectory();
    addImageFolder(imagesDirectory, 'run-python');
    const { json, stack } = synthImages({ imagesDirectory, additionalImages: [{ name: 'run-python', parent: 'run-base' }] });
    expect(Object.keys(json.resource.docker_image)).toHaveLength(STANDARD_IMAGES.length + 1);
    expect(imageResource(json, 'run-python').triggers.parent).toBe(`\${docker_image.${resourceKey(json, 'run-base')}.image_id}`);
    expect(stack.hierarchy.image('run-python').imageRef).toBe('modulus/run-python:latest');
  });

  it('takes an added image from a folder outside the images directory, with its own build args and labels', () => {
    const elsewhere = makeImagesDirectory(['build-python']);
    const { json } = synthImages({
      additionalImages: [
        {
          name: 'build-python',
          parent: 'build-base',
          directory: path.join(elsewhere, 'build-python'),
          buildArgs: { PYTHON_VERSION: '3.11' },
          labels: { team: 'data' },
        },
      ],
    });
    const image = imageResource(json, 'build-python');
    expect(image.build.build_args).toEqual({ BASE_IMAGE: 'modulus/build-base:latest', PYTHON_VERSION: '3.11' });
    expect(image.build.label).toEqual({ 'org.modulus.image': 'build-python', team: 'data' });
  });
});

describe('bad input fails at synth with the construct path, the field and what is allowed', () => {
  const attempt = (props: Parameters<typeof synthImages>[0]) => () => synthImages(props);

  it.each([
    ['not a valid::ref'],
    ['Debian:bookworm'],
    ['debian:'],
    ['debian:bookworm@sha256:short'],
  ])('rejects root image %j', (rootImage) => {
    expect(attempt({ rootImage })).toThrow(new Error(`images/Hierarchy: invalid rootImage '${rootImage}': give ${REFERENCE_HELP}`));
    expect(REFERENCE_HELP).toMatch(/^a Docker image reference: /);
  });

  it.each([['debian:bookworm-slim'], ['localhost:5000/team/root:1.0'], ['phusion/baseimage:jammy-1.0.4'], [`debian@sha256:${'a'.repeat(64)}`]])(
    'accepts root image %j',
    (rootImage) => {
      expect(attempt({ rootImage })).not.toThrow();
    },
  );

  it('rejects an invalid tag', () => {
    expect(attempt({ tag: '-dash-first' })).toThrow(
      new Error("images/Hierarchy/base: invalid tag '-dash-first': give a tag matching [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"),
    );
  });

  it('rejects an invalid repository prefix', () => {
    expect(attempt({ repositoryPrefix: 'Modulus/' })).toThrow(new Error(`images/Hierarchy/base: invalid repository 'Modulus/base': give ${REFERENCE_HELP}`));
  });

  it('rejects an invalid image name', () => {
    expect(attempt({ additionalImages: [{ name: 'Run_Python', parent: 'run-base' }] })).toThrow(
      new Error("images/Hierarchy: invalid image name 'Run_Python': use lowercase letters and digits joined by '-', e.g. 'run-python'"),
    );
  });

  it('rejects a missing folder', () => {
    expect(attempt({ additionalImages: [{ name: 'run-python', parent: 'run-base' }] })).toThrow(
      /^images\/Hierarchy\/run-python: invalid directory '\/.*\/run-python': give an existing folder holding a Dockerfile$/,
    );
  });

  it('rejects a folder without a Dockerfile', () => {
    const imagesDirectory = makeImagesDirectory();
    fs.mkdirSync(path.join(imagesDirectory, 'run-python'));
    expect(attempt({ imagesDirectory, additionalImages: [{ name: 'run-python', parent: 'run-base' }] })).toThrow(
      new Error(
        `images/Hierarchy/run-python: invalid directory '${path.join(imagesDirectory, 'run-python')}': ` +
          'give a folder with a Dockerfile in it, starting with "ARG BASE_IMAGE" and "FROM ${BASE_IMAGE}" (it has none)',
      ),
    );
  });

  it('rejects an unknown parent', () => {
    expect(attempt({ additionalImages: [{ name: 'run-python', parent: 'run-bsae' }] })).toThrow(
      /^images\/Hierarchy: invalid images\[run-python\].parent 'run-bsae': give one of the images: base, build-base, .*run-python, run-static$/,
    );
  });

  it('rejects a cycle', () => {
    const imagesDirectory = makeImagesDirectory(['a', 'b', 'c']);
    expect(
      attempt({ imagesDirectory, images: [{ name: 'a', parent: 'c' }, { name: 'b', parent: 'a' }, { name: 'c', parent: 'b' }] }),
    ).toThrow(new Error("images/Hierarchy: invalid images[b].parent 'a': break the cycle a -> c -> b -> a"));
  });

  it('rejects a duplicate image name', () => {
    expect(attempt({ additionalImages: [{ name: 'run-node', parent: 'run-base' }] })).toThrow(
      new Error("images/Hierarchy: invalid image name 'run-node': give each image once: it is defined twice"),
    );
  });

  it('rejects BASE_IMAGE among the extra build args', () => {
    const imagesDirectory = makeImagesDirectory(['base']);
    expect(attempt({ imagesDirectory, images: [{ name: 'base', buildArgs: { BASE_IMAGE: 'x' } }] })).toThrow(
      new Error("images/Hierarchy/base: invalid buildArgs.BASE_IMAGE 'x': leave it out: it carries the parent image; set parent instead"),
    );
  });

  it('rejects a malformed Docker host and an absolute state path, both, when synthesizing (the program goes on after them)', () => {
    const app = new App({ outdir: path.join(tempDir('modulus-stack-props-'), 'cdktf.out'), skipValidation: true });
    new ImagesStack(app, 'images', { imagesDirectory: makeImagesDirectory(), dockerHost: '/var/run/docker.sock', statePath: '/tmp/state.tfstate' });
    expect(() => app.synth()).toThrow(
      new Error(
        'images: 2 errors, no stack written:\n' +
          "images: invalid dockerHost '/var/run/docker.sock': give unix:///path, tcp://host:port or ssh://user@host\n" +
          "images: invalid statePath '/tmp/state.tfstate': give a path relative to cdktf.out/stacks/images",
      ),
    );
    expect(fs.existsSync(path.join(app.outdir, 'stacks', 'images', 'cdk.tf.json'))).toBe(false);
  });

  it('validates a standalone ModulusImage parent reference', () => {
    const stack = new ModulusStack(Testing.app(), 'solo');
    const directory = path.join(makeImagesDirectory(['x']), 'x');
    expect(() => new ModulusImage(stack, 'x', { repository: 'team/x', directory, parent: 'UPPER:case' })).toThrow(
      new Error(`solo/x: invalid parent 'UPPER:case': give a ModulusImage or an image reference (${REFERENCE_HELP})`),
    );
  });

  it('builds nothing for a hierarchy that failed validation', () => {
    const app = new App({ outdir: tempDir('modulus-out-') });
    const stack = new ModulusStack(app, 'broken');
    expect(() => new ImageHierarchy(stack, 'h', { rootImage: 'bad ref' })).toThrow();
    expect(stack.node.findAll().filter((c) => c instanceof Image)).toHaveLength(0);
  });
});



describe('hierarchyToMermaid', () => {
  it('draws every image under its parent, the root image on top', () => {
    const { stack } = synthImages({ rootImage: 'modulus/root:bookworm' });
    const chart = hierarchyToMermaid(stack.hierarchy);
    expect(chart).toMatch(/^flowchart TD\n  root\(\["modulus\/root:bookworm \(root image\)"\]\)\n/);
    expect(chart).toContain('  root --> base\n');
    expect(chart).toContain('  run_base --> run_node\n');
    expect(chart).toContain('  build_base --> build_static\n');
    expect(chart.match(/-->/g)).toHaveLength(STANDARD_IMAGES.length);
  });
});
