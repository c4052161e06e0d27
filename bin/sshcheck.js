#!/usr/bin/env node
// Thin launcher: the CLI is compiled TypeScript (npm install runs `prepare`, which builds it).
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
