import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/** The files `npm pack` would put in the tarball (scripts off: the list needs no build). */
function packedFiles(): string[] {
  const output = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return (JSON.parse(output) as [{ files: { path: string }[] }])[0].files.map((file) => file.path);
}

describe('the README as npm shows it', () => {
  it('ships every file it links or shows by a relative path, so no link or image is broken on the package page', () => {
    const readme = readFileSync('README.md', 'utf8');
    const targets = [...readme.matchAll(/\]\(([^)#:\s]+)(?:#[^)]*)?\)/g)].map((match) => match[1]!);
    expect(targets).toContain('docs/portal.png');
    const packed = packedFiles();
    for (const target of new Set(targets)) {
      expect(existsSync(target), target).toBe(true);
      expect(packed, target).toContain(target);
    }
  });
});
