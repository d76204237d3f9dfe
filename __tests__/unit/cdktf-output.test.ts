import { applySummaries } from '../../harness/cdktf-output';

describe('applySummaries', () => {
  it('gives a stack its summary whether or not cdktf prefixed that line with the stack name', () => {
    const output = [
      'images  Initializing the backend...',
      'images  Apply complete! Resources: 1 added, 0 changed, 1 destroyed.',
      'apps    docker_container.hello_Run_Container_BF6C9646 (hello/Run/Container): Creation complete after 17s [id=0635d5bba01f]',
      '',
      '        Apply complete! Resources: 15 added, 0 changed, 0 destroyed.',
      '',
      'No outputs found.',
    ].join('\n');
    expect(applySummaries(output, 'images')).toEqual(['Apply complete! Resources: 1 added, 0 changed, 1 destroyed.']);
    expect(applySummaries(output, 'apps')).toEqual(['Apply complete! Resources: 15 added, 0 changed, 0 destroyed.']);
    expect(applySummaries(output, 'python')).toEqual([]);
  });
});
