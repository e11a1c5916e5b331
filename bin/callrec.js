#!/usr/bin/env node
// The `callrec` command. Built or installed (npm run build; the Docker image): the JavaScript in dist/, no tsx or
// TypeScript needed. In a source checkout (src/ present and tsx installed as a dev dependency) the TypeScript runs
// through tsx, so the command never runs a stale build.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
let tsx;
if (existsSync(source)) {
  try {
    tsx = import.meta.resolve('tsx/esm/api');
  } catch {
    tsx = undefined;
  }
}
if (tsx) {
  (await import(tsx)).register();
  await import(source.href);
} else {
  await import(new URL('../dist/cli/main.js', import.meta.url).href);
}
