#!/usr/bin/env node
// The `strata` command. The sources are TypeScript run through tsx (as `npm start` does), so a
// fresh `npm install` is enough: there is no build step whose output could be missing or stale.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
