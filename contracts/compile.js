#!/usr/bin/env node
// Compile contracts/src/**/*.sol with the pinned solc-js (npm package `solc`, no download) and write
// contracts/build/<Name>.json = {"abi": [...], "bytecode": "0x..."} for every deployable contract outside
// src/lib and src/interfaces. Output is deterministic (sorted keys, 2-space indent, trailing newline).
//
//   node contracts/compile.js          write the artifacts
//   node contracts/compile.js --check  compile in memory; exit 1 if contracts/build differs (stale or extra files)
"use strict";

const fs = require("fs");
const path = require("path");

const CONTRACTS_DIR = __dirname;
const SRC_DIR = path.join(CONTRACTS_DIR, "src");
const BUILD_DIR = path.join(CONTRACTS_DIR, "build");
const EVM_VERSION = "cancun"; // anvil's default hardfork runs it; the AI market needs transient storage (EIP-1153)
const OPTIMIZER_RUNS = 200;

function loadSolc() {
  try {
    return require("solc");
  } catch (err) {
    // Run from another working directory: resolve from the repository root's node_modules.
    return require(path.join(CONTRACTS_DIR, "..", "node_modules", "solc"));
  }
}

function listSources(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listSources(full));
    else if (entry.name.endsWith(".sol")) out.push(full);
  }
  return out;
}

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    const sorted = {};
    for (const key of Object.keys(value).sort()) sorted[key] = sortKeys(value[key]);
    return sorted;
  }
  return value;
}

function compile() {
  const solc = loadSolc();
  const sources = {};
  for (const file of listSources(SRC_DIR)) {
    const unit = path.relative(CONTRACTS_DIR, file).split(path.sep).join("/");
    sources[unit] = { content: fs.readFileSync(file, "utf8") };
  }
  const input = {
    language: "Solidity",
    sources,
    settings: {
      evmVersion: EVM_VERSION,
      optimizer: { enabled: true, runs: OPTIMIZER_RUNS },
      outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  for (const e of output.errors || []) process.stderr.write(e.formattedMessage || e.message);
  if (errors.length) {
    throw new Error(`solc ${solc.version()}: ${errors.length} compilation error(s)`);
  }

  const artifacts = {};
  for (const unit of Object.keys(output.contracts).sort()) {
    if (unit.startsWith("src/lib/") || unit.startsWith("src/interfaces/")) continue;
    for (const name of Object.keys(output.contracts[unit]).sort()) {
      const c = output.contracts[unit][name];
      const bytecode = c.evm.bytecode.object;
      if (!bytecode) continue; // abstract contracts and interfaces
      if (artifacts[name]) throw new Error(`duplicate contract name ${name} in ${unit}`);
      const body = sortKeys({ abi: c.abi, bytecode: "0x" + bytecode });
      artifacts[name] = JSON.stringify(body, null, 2) + "\n";
    }
  }
  return artifacts;
}

function main() {
  const check = process.argv.includes("--check");
  const artifacts = compile();
  const existing = fs.existsSync(BUILD_DIR)
    ? fs.readdirSync(BUILD_DIR).filter((f) => f.endsWith(".json")).sort()
    : [];

  if (check) {
    const problems = [];
    for (const [name, text] of Object.entries(artifacts)) {
      const file = path.join(BUILD_DIR, `${name}.json`);
      if (!fs.existsSync(file)) problems.push(`missing: build/${name}.json`);
      else if (fs.readFileSync(file, "utf8") !== text) problems.push(`stale: build/${name}.json`);
    }
    for (const f of existing) {
      if (!artifacts[f.slice(0, -5)]) problems.push(`extra: build/${f}`);
    }
    if (problems.length) {
      process.stderr.write(problems.join("\n") + "\nrun: node contracts/compile.js\n");
      process.exit(1);
    }
    process.stdout.write(`contracts/build is up to date (${Object.keys(artifacts).length} artifacts)\n`);
    return;
  }

  fs.mkdirSync(BUILD_DIR, { recursive: true });
  for (const f of existing) {
    if (!artifacts[f.slice(0, -5)]) fs.unlinkSync(path.join(BUILD_DIR, f));
  }
  for (const [name, text] of Object.entries(artifacts)) {
    fs.writeFileSync(path.join(BUILD_DIR, `${name}.json`), text);
  }
  process.stdout.write(`wrote ${Object.keys(artifacts).length} artifacts to contracts/build\n`);
}

main();
